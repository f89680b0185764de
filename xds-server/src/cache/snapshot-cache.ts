/**
 * The current snapshot of each node group, and the streams watching it. Deciding what to serve
 * (the runner) is kept apart from serving it (the ADS streams), as in go-control-plane.
 */
import type { Snapshot } from "../snapshot/index.js";

export type SnapshotListener = (snapshot: Snapshot) => void;

export interface SetSnapshotResult {
  changed: boolean;
}

export class SnapshotCache {
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #listeners = new Map<string, Set<SnapshotListener>>();
  /** When each snapshot version was first set: push latency is measured from here. */
  readonly #setAt = new Map<string, number>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  set(group: string, snapshot: Snapshot): SetSnapshotResult {
    const previous = this.#snapshots.get(group);
    if (previous?.version === snapshot.version) return { changed: false };
    this.#snapshots.set(group, snapshot);
    if (!this.#setAt.has(snapshot.version)) this.#setAt.set(snapshot.version, this.clock());
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
