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
import type { Named, ResourceSet } from "../translate/index.js";
import type { XdsKind } from "./kinds.js";
import { contentHash, makeSnapshot, type EncodedResource, type Snapshot } from "./snapshot.js";

/** What each kind waits for, found by the kinds table's reference walker (resources/kinds.ts). */
export const listenerRefs = (listener: Listener): string[] => waitedNames("listener", listener);
export const routeRefs = (config: RouteConfiguration): string[] => waitedNames("route", config);
export const scopeRefs = (scope: ScopedRouteConfiguration): string[] => waitedNames("scopedRoute", scope);
export const clusterRefs = (cluster: Cluster): string[] => waitedNames("cluster", cluster);

/**
 * Each resource of a set encoded, with its version and the names it depends on. Pass the same
 * `encoded` map when encoding both groups: a resource object they share (the endpoints) is encoded
 * once and both snapshots hold the same bytes.
 */
export function encodeResourceSet(
  set: ResourceSet,
  encoded: Map<object, EncodedResource> = new Map(),
): Record<XdsKind, EncodedResource[]> {
  const out = {} as Record<XdsKind, EncodedResource[]>;
  for (const entry of kindTable) {
    const items = set[entry.set] as Named<object>[];
    out[entry.kind] = items.map(({ name, resource }) => {
      const known = encoded.get(resource);
      if (known?.name === name) return known;
      const bytes = encodeWith(entry.codec, resource);
      const e = {
        name,
        bytes,
        version: contentHash(bytes),
        refs: waitedNames(entry.kind, resource as never),
      };
      encoded.set(resource, e);
      return e;
    });
  }
  return out;
}

export function snapshotFromResources(set: ResourceSet, encoded?: Map<object, EncodedResource>): Snapshot {
  return makeSnapshot(encodeResourceSet(set, encoded));
}
