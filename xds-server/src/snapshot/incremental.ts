/**
 * Snapshots built again on every edit and health change, reusing what did not change: each
 * translation unit (the gateway, a model, a cluster; translate.ts) is keyed by its input, and a
 * unit whose input is the same as in the last build keeps its encoded resources and their
 * versions. An edit of one model among 1,000 translates and encodes that model and its clusters
 * only. The output equals a full build's (incremental.test.ts checks it edit by edit).
 */
import type { GatewayIR } from "../ir/index.js";
import { kindTable, type KindInfo } from "../resources/index.js";
import {
  ConsistencyIndex,
  resourceKinds,
  translationUnits,
  type ClientGroup,
  type RecordSet,
  type ResourceRecord,
} from "../translate/index.js";
import { encodeResourceSet, type EncodedRecord } from "./from-resources.js";
import { snapshotProblems } from "./problems.js";
import { XDS_KINDS, type XdsKind } from "./kinds.js";
import {
  snapshotResource,
  snapshotVersion,
  VersionSum,
  type Snapshot,
  type SnapshotResource,
} from "./snapshot.js";

type Encoded = Record<ClientGroup, Record<XdsKind, EncodedRecord[]>>;

const groups: readonly ClientGroup[] = ["envoy", "proxyless"];

/** A unit's last input (its key) and its encoded resources; the translated messages are not kept. */
interface Unit {
  key: readonly string[];
  encoded: Encoded;
  /** The build that last saw it in the IR. */
  seen: number;
}

/**
 * Each unit input's key: its fields' names and JSON, equal exactly when the inputs' JSON is equal.
 * The JSON of an object is cached by identity across builds, so an IR part that the IR builder
 * reused (ir/build.ts, IRMemo) is not stringified again and its key is the same strings as last
 * time: comparing them is comparing pointers. A JSON made afresh that equals one made afresh in the
 * last build is replaced by that string, for the same reason: every unit's input holds the gateway,
 * a new object in each IR, whose JSON is made once per build and compared once per unit.
 */
class InputKeys {
  #json = new WeakMap<object, string>();
  /** The strings made afresh in the last build, and in this one so far. */
  #last = new Map<string, string>();
  #current = new Map<string, string>();

  /** The input's key: `last` itself when it is equal, so a reused unit allocates nothing. */
  key(input: unknown, last: readonly string[] | undefined): readonly string[] {
    const fields: [string, unknown][] =
      typeof input === "object" && input !== null ? Object.entries(input) : [["", input]];
    let same = last?.length === fields.length * 2;
    const key: string[] = [];
    fields.forEach(([field, value], i) => {
      const json = this.#jsonOf(value);
      same &&= last![2 * i] === field && last![2 * i + 1] === json;
      key.push(field, json);
    });
    return same ? last! : key;
  }

  /** Call after each build: what it made is what the next one compares with. */
  next(): void {
    this.#last = this.#current;
    this.#current = new Map();
  }

  #jsonOf(value: unknown): string {
    const cacheable = typeof value === "object" && value !== null;
    let json = cacheable ? this.#json.get(value) : undefined;
    if (json !== undefined) return json;
    json = JSON.stringify(value) ?? "";
    json = this.#last.get(json) ?? json;
    this.#current.set(json, json);
    if (cacheable) this.#json.set(value, json);
    return json;
  }
}

/** push(...items) without spreading: called 800,000 times a build at 10,000 models, mostly with one item. */
function append<T>(to: T[], items: readonly T[]): void {
  for (const item of items) to.push(item);
}

export interface BuildStats {
  /** Units translated and encoded in this build. */
  built: number;
  /** Units whose encoded resources were reused. */
  reused: number;
}

/** Builds each client group's snapshot from the IR, reusing what an earlier build made of the same input. */
export interface SnapshotBuilder {
  build(ir: GatewayIR): Record<ClientGroup, Snapshot>;
  /** How many translation units the last build made and reused. */
  readonly lastBuild: BuildStats;
  /**
   * The consistency problems of the last build's snapshots (translate/check.ts, and the snapshot's
   * own refs), none when they are fit to serve: what the runner checks before it publishes them.
   */
  readonly lastProblems: Record<ClientGroup, string[]>;
}

export function createSnapshotBuilder(): SnapshotBuilder {
  return new IncrementalSnapshotBuilder();
}

/**
 * One group's snapshot as the last build left it, kept to apply the next build's changes to: its
 * maps and set versions, and the consistency index of its records.
 */
interface GroupState {
  snapshot: Snapshot;
  sums: Record<XdsKind, VersionSum>;
  index: ConsistencyIndex;
}

const emptyState = (): GroupState => ({
  snapshot: {
    version: "",
    resources: Object.fromEntries(XDS_KINDS.map((k) => [k, new Map()])) as unknown as Snapshot["resources"],
  },
  sums: Object.fromEntries(XDS_KINDS.map((k) => [k, new VersionSum()])) as unknown as Record<
    XdsKind,
    VersionSum
  >,
  index: new ConsistencyIndex(),
});

/** A unit whose output changed: what it held before (absent: new) and holds now (absent: gone). */
interface Change {
  before?: Unit;
  after?: Unit;
}

class IncrementalSnapshotBuilder implements SnapshotBuilder {
  /** Unit id → its input's key and encoded output, as of the last build. */
  #units = new Map<string, Unit>();
  #builds = 0;
  #keys = new InputKeys();
  #state: Record<ClientGroup, GroupState> = { envoy: emptyState(), proxyless: emptyState() };
  lastBuild: BuildStats = { built: 0, reused: 0 };
  lastProblems: Record<ClientGroup, string[]> = { envoy: [], proxyless: [] };

  build(ir: GatewayIR): Record<ClientGroup, Snapshot> {
    const build = ++this.#builds;
    const changes: Change[] = [];
    const stats: BuildStats = { built: 0, reused: 0 };
    for (const unit of translationUnits(ir)) {
      const before = this.#units.get(unit.id);
      const key = this.#keys.key(unit.input, before?.key);
      if (before && key === before.key) {
        before.seen = build;
        stats.reused++;
        continue;
      }
      const out = unit.build();
      // One map for both groups: the endpoints they share are encoded once.
      const shared = new Map<object, EncodedRecord>();
      const after: Unit = {
        key,
        encoded: {
          envoy: encodeResourceSet(out.envoy, shared),
          proxyless: encodeResourceSet(out.proxyless, shared),
        },
        seen: build,
      };
      changes.push({ ...(before ? { before } : {}), after });
      this.#units.set(unit.id, after);
      stats.built++;
    }
    this.#keys.next();
    // Units gone from the IR (a removed model or cluster).
    for (const [id, before] of this.#units) {
      if (before.seen === build) continue;
      changes.push({ before });
      this.#units.delete(id);
    }
    this.lastBuild = stats;
    for (const group of groups) {
      const state = applyChanges(this.#state[group], group, changes);
      this.#state[group] = state;
      this.lastProblems[group] = state.index.consistent ? [] : this.#problems(group, state.snapshot);
    }
    return { envoy: this.#state.envoy.snapshot, proxyless: this.#state.proxyless.snapshot };
  }

  /** What is wrong, found by the whole check on every unit's records: only when the index says so. */
  #problems(group: ClientGroup, snapshot: Snapshot): string[] {
    const records = emptyRecords() as Record<keyof RecordSet, ResourceRecord[]>;
    for (const unit of this.#units.values())
      XDS_KINDS.forEach((kind, i) =>
        append(
          records[resourceKinds[i]!],
          unit.encoded[group][kind].map((e) => e.record),
        ),
      );
    return snapshotProblems(snapshot, records);
  }
}

const emptyRecords = (): RecordSet =>
  Object.fromEntries(resourceKinds.map((k) => [k, []])) as unknown as RecordSet;

/**
 * The group's next snapshot: the last one with the changed units' resources taken out and their
 * new ones put in. Only the kinds a change touches get new maps; the others are shared with the
 * last snapshot (snapshots are never changed once made). Maps stay sorted by name, as a full
 * build's are: a changed resource keeps its place, and a kind gaining a name is sorted again.
 */
function applyChanges(last: GroupState, group: ClientGroup, changes: readonly Change[]): GroupState {
  if (changes.length === 0) return last;
  const maps = { ...last.snapshot.resources } as Record<XdsKind, Map<string, SnapshotResource>>;
  const sums = { ...last.sums };
  const touched = new Set<XdsKind>();
  const gained = new Set<XdsKind>();
  const touch = (kind: XdsKind) => {
    if (touched.has(kind)) return;
    touched.add(kind);
    maps[kind] = new Map(maps[kind]);
    sums[kind] = sums[kind].copy();
  };
  /** Each resource the units hold in this group, with its kind, after touching the kind. */
  const eachResource = (
    units: (Unit | undefined)[],
    visit: (kind: XdsKind, entry: KindInfo, e: EncodedRecord, r: SnapshotResource) => void,
  ) => {
    for (const unit of units) {
      if (!unit) continue;
      XDS_KINDS.forEach((kind, i) => {
        const items = unit.encoded[group][kind];
        if (items.length > 0) touch(kind);
        for (const e of items) visit(kind, kindTable[i]!, e, snapshotResource(kind, e));
      });
    }
  };
  // Everything out first, then everything in: a resource that moves between units stays.
  eachResource(
    changes.map((c) => c.before),
    (kind, entry, e, r) => {
      last.index.remove(entry, e.record);
      sums[kind].remove(r);
      if (maps[kind].get(e.name) === r) maps[kind].delete(e.name);
    },
  );
  eachResource(
    changes.map((c) => c.after),
    (kind, entry, e, r) => {
      last.index.add(entry, e.record);
      sums[kind].add(r);
      if (!maps[kind].has(e.name)) gained.add(kind);
      maps[kind].set(e.name, r);
    },
  );
  for (const kind of gained)
    maps[kind] = new Map([...maps[kind]].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    snapshot: { version: snapshotVersion((k) => sums[k].version), resources: maps },
    sums,
    index: last.index,
  };
}
