/**
 * Every problem that makes a snapshot unfit to serve, as the runner logs them (runner/publish.ts):
 * the records of its resources checked whole (translate's checkRecords), then the snapshot's own
 * refs (checkSnapshot). None when it is consistent. The builder calls it only when its
 * consistency index says something is wrong (incremental.ts, lastProblems).
 */
import { checkRecords, type RecordSet } from "../translate/index.js";
import { checkSnapshot, type Snapshot } from "./snapshot.js";

export function snapshotProblems(snapshot: Snapshot, records: RecordSet): string[] {
  return [
    ...checkRecords(records).map((p) => `${p.kind} ${JSON.stringify(p.name)} ${p.message}`),
    ...checkSnapshot(snapshot),
  ];
}
