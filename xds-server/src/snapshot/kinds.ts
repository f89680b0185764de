import {
  clusterLoadAssignmentTypeUrl,
  clusterTypeUrl,
  listenerTypeUrl,
  routeConfigurationTypeUrl,
  scopedRouteConfigurationTypeUrl,
} from "../resources/index.js";

/**
 * The five xDS kinds the control plane serves, in make-before-break order: a client gets new
 * clusters and their endpoints before the listeners, routing scopes and routes that point at them.
 * https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations
 */
export const XDS_KINDS = ["cluster", "endpoint", "listener", "scopedRoute", "route"] as const;
export type XdsKind = (typeof XDS_KINDS)[number];

export const TYPE_URLS = {
  cluster: clusterTypeUrl,
  endpoint: clusterLoadAssignmentTypeUrl,
  listener: listenerTypeUrl,
  scopedRoute: scopedRouteConfigurationTypeUrl,
  route: routeConfigurationTypeUrl,
} as const satisfies Record<XdsKind, string>;

const byUrl = new Map<string, XdsKind>(Object.entries(TYPE_URLS).map(([k, v]) => [v, k as XdsKind]));

export function kindOf(typeUrl: string): XdsKind | undefined {
  return byUrl.get(typeUrl);
}

/**
 * Listeners, clusters and routing scopes are full-state in State-of-the-World: a response lists
 * them all and a missing one is deleted. Routes and endpoints are asked for by name and may be
 * sent partially.
 */
export function isFullState(kind: XdsKind): boolean {
  return kind === "listener" || kind === "cluster" || kind === "scopedRoute";
}
