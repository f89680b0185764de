/**
 * The current snapshot of each node group, and the streams watching it. Deciding what to serve
 * (the runner) is kept apart from serving it (the ADS streams), as in go-control-plane.
 */
import { systemClock, type Clock } from "@inferencehub/contracts/clock";
import type { Snapshot } from "../snapshot/index.js";

export type SnapshotListener = (snapshot: Snapshot) => void;

export interface SetSnapshotResult {
  changed: boolean;
}

export interface SnapshotCache {
  /** Serves `snapshot` to `group` and tells its watchers; the same version again changes nothing. */
  set(group: string, snapshot: Snapshot): SetSnapshotResult;
  get(group: string): Snapshot | undefined;
  /** The groups that have a snapshot, sorted. */
  groups(): string[];
  /** When `version` was first set (the clock's milliseconds): push latency is measured from here. */
  setAt(version: string): number | undefined;
  /** Calls `listener` with each new snapshot of `group`; the function returned stops it. */
  watch(group: string, listener: SnapshotListener): () => void;
}

/** A snapshot cache in this process's memory (the only kind today; a shared one would be another). */
export function createSnapshotCache(clock: Pick<Clock, "now"> = systemClock): SnapshotCache {
  return new MemorySnapshotCache(clock);
}

class MemorySnapshotCache implements SnapshotCache {
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #listeners = new Map<string, Set<SnapshotListener>>();
  /** When each snapshot version was first set: push latency is measured from here. */
  readonly #setAt = new Map<string, number>();

  constructor(private readonly clock: Pick<Clock, "now">) {}

  set(group: string, snapshot: Snapshot): SetSnapshotResult {
    const previous = this.#snapshots.get(group);
    if (previous?.version === snapshot.version) return { changed: false };
    this.#snapshots.set(group, snapshot);
    if (!this.#setAt.has(snapshot.version)) this.#setAt.set(snapshot.version, this.clock.now());
    // Keep the map small: only versions some group still serves can be ACKed later.
    const live = new Set([...this.#snapshots.values()].map((s) => s.version));
    for (const v of this.#setAt.keys()) if (!live.has(v) && v !== previous?.version) this.#setAt.delete(v);
    for (const listener of this.#listeners.get(group) ?? []) listener(snapshot);
    return { changed: true };
  }

  get(group: string): Snapshot | undefined {
    return this.#snapshots.get(group);
  }

  groups(): string[] {
    return [...this.#snapshots.keys()].sort();
  }

  setAt(version: string): number | undefined {
    return this.#setAt.get(version);
  }

  watch(group: string, listener: SnapshotListener): () => void {
    let set = this.#listeners.get(group);
    if (!set) this.#listeners.set(group, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(group);
    };
  }
}
