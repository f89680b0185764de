/**
 * An immutable, versioned set of encoded resources for one node group. Each resource is encoded
 * once and its bytes shared by every stream; its version is a hash of those bytes, so the same
 * config yields the same versions on every replica and after every restart (no churn when an
 * Envoy reconnects, and no counter that restarts at 0 and collides with what Envoy holds).
 */
import { createHash } from "node:crypto";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { waitsFor } from "../resources/index.js";
import { TYPE_URLS, XDS_KINDS, type XdsKind } from "./kinds.js";

export interface SnapshotResource {
  readonly name: string;
  /** Hash of the encoded bytes. */
  readonly version: string;
  readonly any: Any;
  /**
   * Names of the kind this resource waits for (resources/kinds.ts, waitsFor): a listener's route
   * configurations, a scope's route configuration, a route configuration's clusters, a cluster's
   * endpoint assignment. Drives make-before-break.
   */
  readonly refs: readonly string[];
}

export interface Snapshot {
  /** Hash over every resource version: equal snapshots have equal versions. */
  readonly version: string;
  readonly resources: Readonly<Record<XdsKind, ReadonlyMap<string, SnapshotResource>>>;
}

export interface EncodedResource {
  name: string;
  bytes: Uint8Array;
  /** contentHash(bytes), when the caller has it already. */
  version?: string;
  refs?: readonly string[];
}

export function contentHash(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/**
 * Version of a set of resources, as sent in a SotW response: order-independent. A sum of each
 * entry's hash (a multiset hash, 4 lanes of 32 bits), so it costs a few additions per resource
 * once each entry's hash is known (cached per entry object): the server computes it for every
 * SotW response, and the snapshot for every kind on every publish. Not a defence against a forged
 * collision; nothing here is chosen by a caller, only by the operator's config.
 */
export function setVersion(entries: Iterable<{ name: string; version: string }>): string {
  const sum = new VersionSum();
  for (const e of entries) sum.add(e);
  return sum.version;
}

/** setVersion of a set kept up to date as entries come and go (snapshot/incremental.ts). */
export class VersionSum {
  #sum = new Uint32Array(4);
  #count = 0;

  add(e: { name: string; version: string }): void {
    const lanes = entryLanes(e);
    for (let i = 0; i < 4; i++) this.#sum[i] = (this.#sum[i]! + lanes[i]!) >>> 0;
    this.#count++;
  }

  remove(e: { name: string; version: string }): void {
    const lanes = entryLanes(e);
    for (let i = 0; i < 4; i++) this.#sum[i] = (this.#sum[i]! - lanes[i]!) >>> 0;
    this.#count--;
  }

  copy(): VersionSum {
    const c = new VersionSum();
    c.#sum.set(this.#sum);
    c.#count = this.#count;
    return c;
  }

  get version(): string {
    return contentHash(`${this.#count}:${this.#sum.join(",")}`);
  }
}

const laneCache = new WeakMap<object, { name: string; version: string; lanes: Uint32Array }>();

function entryLanes(e: { name: string; version: string }): Uint32Array {
  const cached = laneCache.get(e);
  if (cached?.name === e.name && cached.version === e.version) return cached.lanes;
  const digest = createHash("sha256").update(`${e.name}=${e.version}`).digest();
  const lanes = new Uint32Array([0, 4, 8, 12].map((at) => digest.readUInt32LE(at)));
  laneCache.set(e, { name: e.name, version: e.version, lanes });
  return lanes;
}

/** Code-unit order: the same on every machine, whatever its locale. */
export const byName = (a: { name: string }, b: { name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** Sorted by name: as given when it already is (the builder's lists mostly are). */
function sortedByName<T extends { name: string }>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++)
    if (byName(items[i - 1]!, items[i]!) > 0) return [...items].sort(byName);
  return items;
}

export function makeSnapshot(input: Record<XdsKind, readonly EncodedResource[]>): Snapshot {
  const resources = {} as Record<XdsKind, Map<string, SnapshotResource>>;
  for (const kind of XDS_KINDS) {
    const map = new Map<string, SnapshotResource>();
    for (const r of sortedByName(input[kind])) {
      if (map.has(r.name)) throw new Error(`duplicate ${kind} '${r.name}' in snapshot`);
      map.set(r.name, snapshotResource(kind, r));
    }
    resources[kind] = map;
  }
  return { version: snapshotVersion((k) => setVersion(resources[k].values())), resources };
}

/** A snapshot's version from its kinds' set versions. */
export function snapshotVersion(kindVersion: (kind: XdsKind) => string): string {
  return contentHash(...XDS_KINDS.map((k) => `${k}:${kindVersion(k)}`));
}

/**
 * The snapshot's record of an encoded resource, made once per EncodedResource: a build that reuses
 * a unit's encoding (incremental.ts) reuses its records too, rather than making 130,000 of them
 * again at 10,000 models for an edit of one model.
 */
export function snapshotResource(kind: XdsKind, r: EncodedResource): SnapshotResource {
  let made = records.get(r);
  if (made?.any.typeUrl !== TYPE_URLS[kind]) {
    made = {
      name: r.name,
      version: r.version ?? contentHash(r.bytes),
      any: {
        typeUrl: TYPE_URLS[kind],
        value: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
      },
      refs: [...(r.refs ?? [])].sort(),
    };
    records.set(r, made);
  }
  return made;
}

/** EncodedResource fields are not changed once made (from-resources.ts, the tests' harness). */
const records = new WeakMap<EncodedResource, SnapshotResource>();

/** Problems that would make a client wait forever: a reference to something the snapshot lacks. */
export function checkSnapshot(snapshot: Snapshot): string[] {
  const problems: string[] = [];
  for (const kind of XDS_KINDS) {
    const target = waitsFor(kind);
    if (target === undefined) continue;
    for (const r of snapshot.resources[kind].values()) {
      for (const ref of r.refs) {
        if (!snapshot.resources[target].has(ref))
          problems.push(`${kind} '${r.name}' refers to missing ${target} '${ref}'`);
      }
    }
  }
  return problems;
}
