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

/** Version of a set of resources, as sent in a SotW response: order-independent. */
export function setVersion(entries: Iterable<{ name: string; version: string }>): string {
  const lines = [...entries].map((e) => `${e.name}=${e.version}`).sort();
  return contentHash(lines.join("\n"));
}

export function makeSnapshot(input: Record<XdsKind, readonly EncodedResource[]>): Snapshot {
  const resources = {} as Record<XdsKind, Map<string, SnapshotResource>>;
  for (const kind of XDS_KINDS) {
    const map = new Map<string, SnapshotResource>();
    for (const r of [...input[kind]].sort((a, b) => a.name.localeCompare(b.name))) {
      if (map.has(r.name)) throw new Error(`duplicate ${kind} '${r.name}' in snapshot`);
      map.set(r.name, snapshotResource(kind, r));
    }
    resources[kind] = map;
  }
  const version = contentHash(...XDS_KINDS.map((k) => `${k}:${setVersion(resources[k].values())}`));
  return { version, resources };
}

/**
 * The snapshot's record of an encoded resource, made once per EncodedResource: a build that reuses
 * a unit's encoding (incremental.ts) reuses its records too, rather than making 130,000 of them
 * again at 10,000 models for an edit of one model.
 */
function snapshotResource(kind: XdsKind, r: EncodedResource): SnapshotResource {
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
