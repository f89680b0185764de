/**
 * Consistency of a resource set before it is served: a client that is sent a reference it cannot
 * resolve waits for it (a listener or cluster stays warming, Envoy's initial_fetch_timeout is 15 s)
 * and a resource nothing names is dead weight.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#eventual-consistency-considerations
 */
import { Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Cluster } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import type { RouteAction } from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { extAuthzTypeUrl, httpConnectionManagerTypeUrl, unpackAny } from "../resources/index.js";
import type { Named, ResourceKind, ResourceSet } from "./types.js";
import { resourceKinds } from "./types.js";

export interface ResourceProblem {
  kind: ResourceKind;
  /** The resource the problem is about. */
  name: string;
  message: string;
}

export function checkResourceSet(set: ResourceSet): ResourceProblem[] {
  return [
    ...resourceKinds.flatMap((kind) => checkNames(kind, set[kind] as Named<unknown>[])),
    ...checkRouteReferences(set),
    ...checkScopeKeys(set),
    ...checkEndpointReferences(set),
    ...checkClusterReferences(set),
    ...checkExtAuthzReferences(set),
  ];
}

function ownName(kind: ResourceKind, resource: unknown): string {
  if (kind === "endpoints") return (resource as { clusterName: string }).clusterName;
  return (resource as { name: string }).name;
}

function checkNames(kind: ResourceKind, items: readonly Named<unknown>[]): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  const seen = new Set<string>();
  for (const { name, resource } of items) {
    if (seen.has(name)) problems.push({ kind, name, message: "duplicate name" });
    seen.add(name);
    const own = ownName(kind, resource);
    if (own !== name) problems.push({ kind, name, message: `is named ${JSON.stringify(own)} inside` });
  }
  return problems;
}

/** The connection managers of a listener: in its filter chains, or its API listener. */
function connectionManagers(listener: Listener): HttpConnectionManager[] {
  const configs: Any[] = [
    ...listener.filterChains.flatMap((chain) =>
      chain.filters.flatMap((f) => (f.configType?.$case === "typedConfig" ? [f.configType.typedConfig] : [])),
    ),
    ...(listener.apiListener?.apiListener ? [listener.apiListener.apiListener] : []),
  ];
  return configs
    .filter((any) => any.typeUrl === httpConnectionManagerTypeUrl)
    .map((any) => unpackAny(any, httpConnectionManagerTypeUrl));
}

/** Route configurations are named by listeners (RDS) and by routing scopes (SRDS). */
function checkRouteReferences(set: ResourceSet): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  const routeNames = new Set(set.routes.map((r) => r.name));
  const named = new Set<string>();
  const refer = (kind: ResourceKind, name: string, wanted: string) => {
    named.add(wanted);
    if (!routeNames.has(wanted))
      problems.push({ kind, name, message: `names route configuration ${wanted}, which does not exist` });
  };
  for (const { name, resource } of set.listeners) {
    for (const hcm of connectionManagers(resource)) {
      if (hcm.routeSpecifier?.$case === "rds")
        refer("listeners", name, hcm.routeSpecifier.rds.routeConfigName);
    }
  }
  for (const { name, resource } of set.scopedRoutes)
    refer("scopedRoutes", name, resource.routeConfigurationName);
  for (const { name } of set.routes) {
    if (!named.has(name))
      problems.push({ kind: "routes", name, message: "is named by no listener or scope" });
  }
  return problems;
}

/** Envoy rejects a scope update in which two scopes have the same key. */
function checkScopeKeys(set: ResourceSet): ResourceProblem[] {
  const owners = new Map<string, string>();
  const problems: ResourceProblem[] = [];
  for (const { name, resource } of set.scopedRoutes) {
    const key = JSON.stringify(resource.key?.fragments ?? []);
    const owner = owners.get(key);
    if (owner !== undefined)
      problems.push({ kind: "scopedRoutes", name, message: `has the key of scope ${owner}` });
    else owners.set(key, name);
  }
  return problems;
}

function edsName(cluster: Cluster): string | undefined {
  if (cluster.clusterDiscoveryType?.$case !== "type") return undefined;
  if (cluster.clusterDiscoveryType.type !== Cluster_DiscoveryType.EDS) return undefined;
  return cluster.edsClusterConfig?.serviceName || cluster.name;
}

function checkEndpointReferences(set: ResourceSet): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  const assignments = new Set(set.endpoints.map((e) => e.name));
  const named = new Set<string>();
  for (const { name, resource } of set.clusters) {
    const wanted = edsName(resource);
    if (wanted === undefined) continue;
    named.add(wanted);
    if (!assignments.has(wanted)) {
      problems.push({ kind: "clusters", name, message: `needs endpoints ${wanted}, which do not exist` });
    }
  }
  for (const { name } of set.endpoints) {
    if (!named.has(name)) problems.push({ kind: "endpoints", name, message: "is named by no cluster" });
  }
  return problems;
}

function routedClusters(action: RouteAction): string[] {
  const spec = action.clusterSpecifier;
  const targets =
    spec?.$case === "cluster"
      ? [spec.cluster]
      : spec?.$case === "weightedClusters"
        ? spec.weightedClusters.clusters.map((c) => c.name)
        : [];
  return [...targets, ...action.requestMirrorPolicies.map((m) => m.cluster)];
}

function checkClusterReferences(set: ResourceSet): ResourceProblem[] {
  const clusters = new Set(set.clusters.map((c) => c.name));
  return set.routes.flatMap(({ name, resource }: Named<RouteConfiguration>) =>
    resource.virtualHosts
      .flatMap((vh) => vh.routes)
      .flatMap((route) => (route.action?.$case === "route" ? routedClusters(route.action.route) : []))
      .filter((cluster) => !clusters.has(cluster))
      .map((cluster) => ({
        kind: "routes" as const,
        name,
        message: `routes to cluster ${cluster}, which does not exist`,
      })),
  );
}

/**
 * Envoy resolves the ext_authz filter's gRPC cluster only when a call arrives: a missing one is
 * accepted, then fails every call with UNAVAILABLE.
 */
function checkExtAuthzReferences(set: ResourceSet): ResourceProblem[] {
  const clusters = new Set(set.clusters.map((c) => c.name));
  return set.listeners.flatMap(({ name, resource }) =>
    connectionManagers(resource)
      .flatMap((hcm) => hcm.httpFilters)
      .flatMap((filter) =>
        filter.configType?.$case === "typedConfig" &&
        filter.configType.typedConfig.typeUrl === extAuthzTypeUrl
          ? [unpackAny(filter.configType.typedConfig, extAuthzTypeUrl)]
          : [],
      )
      .flatMap((config) => {
        const target =
          config.services?.$case === "grpcService" ? config.services.grpcService.targetSpecifier : undefined;
        return target?.$case === "envoyGrpc" ? [target.envoyGrpc.clusterName] : [];
      })
      .filter((cluster) => !clusters.has(cluster))
      .map((cluster) => ({
        kind: "listeners" as const,
        name,
        message: `sends ext_authz checks to cluster ${cluster}, which does not exist`,
      })),
  );
}
