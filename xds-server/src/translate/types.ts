import { resourceSetFields, type MessageTypes, type ResourceKindEntry } from "../resources/index.js";

/** A resource and the name clients subscribe to it by. */
export interface Named<T> {
  name: string;
  resource: T;
}

/**
 * Everything one group of clients is served; each list sorted by name. One field per kind of the
 * kinds table (resources/kinds.ts): listeners, scopedRoutes (Envoy only: which route
 * configuration serves which model header; grpc-js has no SRDS), routes, clusters, endpoints.
 */
export type ResourceSet = {
  [E in ResourceKindEntry as E["set"]]: Named<MessageTypes[E["typeUrl"]]>[];
};

/**
 * The two kinds of clients: Envoy proxies, and proxyless grpc-js clients, which accept a subset
 * of the API (no direct responses, ROUND_ROBIN only, no mirroring) and need a listener per target.
 */
export type ClientGroup = "envoy" | "proxyless";

export type ResourceKind = keyof ResourceSet;

/** Kinds in make-before-break push order: clusters, endpoints, listeners, scoped routes, routes. */
export const resourceKinds: readonly ResourceKind[] = resourceSetFields;
