import type { Cluster } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import type { ScopedRouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/scoped_route.js";

/** A resource and the name clients subscribe to it by. */
export interface Named<T> {
  name: string;
  resource: T;
}

/** Everything one group of clients is served; each list sorted by name. */
export interface ResourceSet {
  listeners: Named<Listener>[];
  /** Envoy only: which route configuration serves which model header (grpc-js has no SRDS). */
  scopedRoutes: Named<ScopedRouteConfiguration>[];
  routes: Named<RouteConfiguration>[];
  clusters: Named<Cluster>[];
  endpoints: Named<ClusterLoadAssignment>[];
}

/**
 * The two kinds of clients: Envoy proxies, and proxyless grpc-js clients, which accept a subset
 * of the API (no direct responses, ROUND_ROBIN only, no mirroring) and need a listener per target.
 */
export type ClientGroup = "envoy" | "proxyless";

export type ResourceKind = keyof ResourceSet;

/** Kinds in make-before-break push order: clusters, endpoints, listeners, scoped routes, routes. */
export const resourceKinds: readonly ResourceKind[] = [
  "clusters",
  "endpoints",
  "listeners",
  "scopedRoutes",
  "routes",
];
