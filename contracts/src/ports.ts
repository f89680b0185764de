/**
 * Default ports (docs/DESIGN.md, "Contracts"); every one can be overridden by a flag or an
 * environment variable. The services' entry points, hubctl and the local stack read them from
 * here, so a default changes in one place.
 */
export const defaultPorts = {
  /** Envoy's data listener, where clients call (the config's `listener.port` default). */
  envoyData: 8080,
  /** Envoy's admin interface, loopback only. */
  envoyAdmin: 9901,
  /** xds-server: ADS and the admin gRPC service. */
  ads: 18000,
  /** xds-server: status, metrics and the admin HTTP/JSON API (loopback by default). */
  xdsAdmin: 18080,
  /** ext-authz: Envoy's ext_authz gRPC service. */
  extAuthz: 19000,
  /** ext-authz: metrics and status. */
  extAuthzMetrics: 19090,
  /** The first reference node's gRPC port (further nodes count up). */
  node: 9001,
  /** The reference node's metrics. */
  nodeMetrics: 9101,
  /** The first reference node's REST/JSON port (`--http-port`; further nodes count up). */
  nodeRest: 8001,
} as const;
