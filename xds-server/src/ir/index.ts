export { buildIR, unknownHealth } from "./build.js";
export type { BuildIROptions } from "./build.js";
export { clusterName, clusterSeparator, extAuthzClusterName, restClusterName } from "./names.js";
export type {
  ClusterIR,
  EndpointIR,
  ControlPlaneIR,
  ExtAuthzIR,
  ExtAuthzServiceIR,
  GatewayIR,
  HealthStatus,
  HealthView,
  ListenerIR,
  ModelIR,
  RestRoutingIR,
  RestVersionIR,
  RetryIR,
  ShadowIR,
  VersionRouteIR,
} from "./types.js";
