/**
 * The last gate before a snapshot is served: the full consistency check (translate's
 * checkRecords: dangling references, duplicate names and scope keys, orphans, the ext_authz
 * cluster; and the snapshot's own refs) runs on every snapshot before it is set in the cache, as
 * go-control-plane's Snapshot.Consistent() does. An inconsistent one is a translator bug: it is
 * not published, the group keeps serving its last good snapshot, and the problems are logged and
 * counted (inferencehub_xds_snapshots_refused_total).
 */
import type { Logger } from "pino";
import type { SnapshotCache } from "../cache/index.js";
import type { XdsMetrics } from "../server/index.js";
import type { Snapshot } from "../snapshot/index.js";
import type { ClientGroup } from "../translate/index.js";

/** A group's snapshot and its consistency problems (none: fit to serve). */
export interface BuiltGroup {
  snapshot: Snapshot;
  problems: readonly string[];
}

export interface PublishTarget {
  cache: SnapshotCache;
  log: Pick<Logger, "info" | "error">;
  metrics: Pick<XdsMetrics, "snapshotsRefused">;
}

/**
 * Sets each group's snapshot in the cache if it is consistent. Returns the groups refused; an
 * unchanged snapshot is not logged again.
 */
export function publishChecked(
  target: PublishTarget,
  built: Partial<Record<ClientGroup, BuiltGroup>>,
  context: Record<string, unknown> = {},
): ClientGroup[] {
  const refused: ClientGroup[] = [];
  for (const [group, b] of Object.entries(built) as [ClientGroup, BuiltGroup][]) {
    const problems = b.problems;
    if (problems.length > 0) {
      refused.push(group);
      target.metrics.snapshotsRefused.inc({ group });
      target.log.error(
        {
          group,
          version: b.snapshot.version,
          serving: target.cache.get(group)?.version ?? null,
          problems,
          ...context,
        },
        "snapshot refused: its resources are inconsistent; the last good snapshot keeps serving",
      );
      continue;
    }
    const { changed } = target.cache.set(group, b.snapshot);
    if (changed) target.log.info({ group, version: b.snapshot.version, ...context }, "snapshot published");
  }
  return refused;
}
