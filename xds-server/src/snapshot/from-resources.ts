/**
 * A translated ResourceSet → a Snapshot: each resource encoded once, with the names it depends on
 * (listener → route configurations, scope → route configuration, route configuration → clusters,
 * cluster → endpoints), which the ADS streams use for make-before-break.
 */
import { Cluster, Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import { ScopedRouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { httpConnectionManagerTypeUrl } from "../resources/index.js";
import type { ResourceSet } from "../translate/index.js";
import type { XdsKind } from "./kinds.js";
import { contentHash, makeSnapshot, type EncodedResource, type Snapshot } from "./snapshot.js";

function hcmRoutes(any: Any | undefined): string[] {
  if (!any || any.typeUrl !== httpConnectionManagerTypeUrl) return [];
  const hcm = HttpConnectionManager.decode(any.value);
  return hcm.routeSpecifier?.$case === "rds" ? [hcm.routeSpecifier.rds.routeConfigName] : [];
}

export function listenerRefs(listener: Listener): string[] {
  const refs = hcmRoutes(listener.apiListener?.apiListener);
  for (const chain of listener.filterChains) {
    for (const filter of chain.filters) {
      if (filter.configType?.$case === "typedConfig") refs.push(...hcmRoutes(filter.configType.typedConfig));
    }
  }
  return [...new Set(refs)];
}

export function routeRefs(config: RouteConfiguration): string[] {
  const refs = new Set<string>();
  for (const host of config.virtualHosts) {
    for (const route of host.routes) {
      if (route.action?.$case !== "route") continue;
      const action = route.action.route;
      const spec = action.clusterSpecifier;
      if (spec?.$case === "cluster") refs.add(spec.cluster);
      if (spec?.$case === "weightedClusters")
        for (const c of spec.weightedClusters.clusters) refs.add(c.name);
      for (const mirror of action.requestMirrorPolicies) refs.add(mirror.cluster);
    }
  }
  return [...refs];
}

export function scopeRefs(scope: ScopedRouteConfiguration): string[] {
  return scope.routeConfigurationName ? [scope.routeConfigurationName] : [];
}

export function clusterRefs(cluster: Cluster): string[] {
  const eds =
    cluster.clusterDiscoveryType?.$case === "type" &&
    cluster.clusterDiscoveryType.type === Cluster_DiscoveryType.EDS;
  return eds ? [cluster.edsClusterConfig?.serviceName || cluster.name] : [];
}

/**
 * Each resource of a set encoded, with its version and the names it depends on. Pass the same
 * `encoded` map when encoding both groups: a resource object they share (the endpoints) is encoded
 * once and both snapshots hold the same bytes.
 */
export function encodeResourceSet(
  set: ResourceSet,
  encoded: Map<object, EncodedResource> = new Map(),
): Record<XdsKind, EncodedResource[]> {
  const encode = <T extends object>(
    items: { name: string; resource: T }[],
    codec: { encode(m: T): { finish(): Uint8Array } },
    refs: (r: T) => string[],
  ): EncodedResource[] =>
    items.map(({ name, resource }) => {
      const known = encoded.get(resource);
      if (known?.name === name) return known;
      const bytes = codec.encode(resource).finish();
      const out = { name, bytes, version: contentHash(bytes), refs: refs(resource) };
      encoded.set(resource, out);
      return out;
    });
  return {
    cluster: encode(set.clusters, Cluster, clusterRefs),
    endpoint: encode(set.endpoints, ClusterLoadAssignment, () => []),
    listener: encode(set.listeners, Listener, listenerRefs),
    scopedRoute: encode(set.scopedRoutes, ScopedRouteConfiguration, scopeRefs),
    route: encode(set.routes, RouteConfiguration, routeRefs),
  };
}

export function snapshotFromResources(set: ResourceSet, encoded?: Map<object, EncodedResource>): Snapshot {
  return makeSnapshot(encodeResourceSet(set, encoded));
}
