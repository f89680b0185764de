/**
 * A translated ResourceSet → a Snapshot: each resource encoded once, with the names it depends on
 * (listener → route configurations, scope → route configuration, route configuration → clusters,
 * cluster → endpoints), which the ADS streams use for make-before-break.
 */
import type { Cluster } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import type { ScopedRouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import { encodeWith, kindTable, waitedNames } from "../resources/index.js";
import { recordOf, type Named, type ResourceRecord, type ResourceSet } from "../translate/index.js";
import type { XdsKind } from "./kinds.js";
import { contentHash, makeSnapshot, type EncodedResource, type Snapshot } from "./snapshot.js";

/** What each kind waits for, found by the kinds table's reference walker (resources/kinds.ts). */
export const listenerRefs = (listener: Listener): string[] => waitedNames("listener", listener);
export const routeRefs = (config: RouteConfiguration): string[] => waitedNames("route", config);
export const scopeRefs = (scope: ScopedRouteConfiguration): string[] => waitedNames("scopedRoute", scope);
export const clusterRefs = (cluster: Cluster): string[] => waitedNames("cluster", cluster);

/** An encoded resource with what the consistency check needs of it (translate/check.ts). */
export interface EncodedRecord extends EncodedResource {
  record: ResourceRecord;
}

/** Index of the reference each kind's clients wait for in its `references` (-1: none). */
const waitedIndex = new Map(kindTable.map((e) => [e.kind, e.references.findIndex((r) => r.waits)]));

/**
 * Each resource of a set encoded, with its version, the names it depends on and its record. Pass
 * the same `encoded` map when encoding both groups: a resource object they share (the endpoints) is
 * encoded once and both snapshots hold the same bytes. The messages are not kept.
 */
export function encodeResourceSet(
  set: ResourceSet,
  encoded: Map<object, EncodedRecord> = new Map(),
): Record<XdsKind, EncodedRecord[]> {
  const out = {} as Record<XdsKind, EncodedRecord[]>;
  for (const entry of kindTable) {
    const items = set[entry.set] as Named<object>[];
    out[entry.kind] = items.map((item) => {
      const known = encoded.get(item.resource);
      if (known?.name === item.name) return known;
      const bytes = encodeWith(entry.codec, item.resource);
      const record = recordOf(entry, item);
      // The names a client waits for: distinct, in the resource's order; an empty one names nothing.
      const waited = record.refs[waitedIndex.get(entry.kind)!] ?? [];
      const e = {
        name: item.name,
        bytes,
        version: contentHash(bytes),
        refs: [...new Set(waited)].filter((n) => n !== ""),
        record,
      };
      encoded.set(item.resource, e);
      return e;
    });
  }
  return out;
}

export function snapshotFromResources(set: ResourceSet, encoded?: Map<object, EncodedRecord>): Snapshot {
  return makeSnapshot(encodeResourceSet(set, encoded));
}
