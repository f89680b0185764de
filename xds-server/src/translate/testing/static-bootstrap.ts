/**
 * Test helper: a resource set as an Envoy bootstrap with everything in static_resources, so
 * `envoy --mode validate` (which runs no xDS) can check it. Only the references that need a
 * management server change: a listener's RDS reference becomes its route configuration inlined,
 * its SRDS reference the list of scopes, each with its route configuration inlined, and an EDS
 * cluster becomes STATIC with its ClusterLoadAssignment inlined. Everything else is the
 * translator's output, field for field.
 */
import { Cluster_DiscoveryType } from "../../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Cluster } from "../../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { ClusterLoadAssignment } from "../../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../../../../gen/envoy/envoy/config/route/v3/route.js";
import type { ScopedRouteConfiguration } from "../../../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import type { HttpConnectionManager } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import {
  clusterTypeUrl,
  httpConnectionManagerTypeUrl,
  listenerTypeUrl,
  packAny,
  toEnvoyJson,
  unpackAny,
} from "../../resources/index.js";
import type { JsonValue } from "../../resources/index.js";
import { socketAddress } from "../common.js";
import type { ResourceSet } from "../types.js";

export interface StaticBootstrapOptions {
  /** Bind every listener to this port on 127.0.0.1 instead of its own address (to run Envoy). */
  listenerPort?: number;
  /** Admin port on 127.0.0.1; no admin listener when absent. */
  adminPort?: number;
  /** Clusters the resources refer to but do not define (e.g. the ext-authz service). */
  extraClusters?: Cluster[];
}

export function toStaticBootstrap(
  set: ResourceSet,
  options: StaticBootstrapOptions = {},
): Record<string, JsonValue> {
  const routes = new Map(set.routes.map((r) => [r.name, r.resource]));
  const assignments = new Map(set.endpoints.map((e) => [e.name, e.resource]));
  const listeners = set.listeners.map((l) =>
    withInlineRoutes(l.resource, routes, set.scopedRoutes, options.listenerPort),
  );
  const clusters = [
    ...set.clusters.map((c) => asStatic(c.resource, assignments)),
    ...(options.extraClusters ?? []),
  ];
  return {
    node: { id: "inferencehub-validate", cluster: "inferencehub" },
    ...(options.adminPort === undefined
      ? {}
      : { admin: { address: { socket_address: { address: "127.0.0.1", port_value: options.adminPort } } } }),
    static_resources: {
      listeners: listeners.map((l) => toEnvoyJson(listenerTypeUrl, l)),
      clusters: clusters.map((c) => toEnvoyJson(clusterTypeUrl, c)),
    },
  };
}

function withInlineRoutes(
  listener: Listener,
  routes: ReadonlyMap<string, RouteConfiguration>,
  scopes: readonly { resource: ScopedRouteConfiguration }[],
  port: number | undefined,
): Listener {
  const routeConfig = (name: string): RouteConfiguration => {
    const config = routes.get(name);
    if (!config) throw new Error(`toStaticBootstrap: no route configuration ${name}`);
    return config;
  };
  const inline = (hcm: HttpConnectionManager): HttpConnectionManager["routeSpecifier"] => {
    const spec = hcm.routeSpecifier;
    if (spec?.$case === "rds")
      return { $case: "routeConfig", routeConfig: routeConfig(spec.rds.routeConfigName) };
    if (spec?.$case !== "scopedRoutes" || spec.scopedRoutes.configSpecifier?.$case !== "scopedRds")
      return spec;
    const scopedRouteConfigurations = scopes.map(({ resource }) => ({
      ...resource,
      routeConfigurationName: "",
      routeConfiguration: routeConfig(resource.routeConfigurationName),
    }));
    return {
      $case: "scopedRoutes",
      scopedRoutes: {
        ...spec.scopedRoutes,
        configSpecifier: {
          $case: "scopedRouteConfigurationsList",
          scopedRouteConfigurationsList: { scopedRouteConfigurations },
        },
      },
    };
  };
  const filterChains = listener.filterChains.map((chain) => ({
    ...chain,
    filters: chain.filters.map((filter) => {
      const config = filter.configType;
      if (config?.$case !== "typedConfig" || config.typedConfig.typeUrl !== httpConnectionManagerTypeUrl)
        return filter;
      const hcm = unpackAny(config.typedConfig, httpConnectionManagerTypeUrl);
      const inlined = { ...hcm, routeSpecifier: inline(hcm) };
      return {
        ...filter,
        configType: {
          $case: "typedConfig" as const,
          typedConfig: packAny(httpConnectionManagerTypeUrl, inlined),
        },
      };
    }),
  }));
  return Listener.fromPartial({
    ...listener,
    filterChains,
    ...(port === undefined ? {} : { address: socketAddress("127.0.0.1", port) }),
  });
}

function asStatic(cluster: Cluster, assignments: ReadonlyMap<string, ClusterLoadAssignment>): Cluster {
  if (
    cluster.clusterDiscoveryType?.$case !== "type" ||
    cluster.clusterDiscoveryType.type !== Cluster_DiscoveryType.EDS
  ) {
    return cluster;
  }
  const name = cluster.edsClusterConfig?.serviceName || cluster.name;
  const loadAssignment = assignments.get(name);
  if (!loadAssignment) throw new Error(`toStaticBootstrap: no endpoints ${name}`);
  return {
    ...cluster,
    clusterDiscoveryType: { $case: "type", type: Cluster_DiscoveryType.STATIC },
    edsClusterConfig: undefined,
    loadAssignment,
  };
}
