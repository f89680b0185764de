export { buildIR, unknownHealth } from "./build.js";
export type { BuildIROptions } from "./build.js";
export { clusterName, clusterSeparator } from "./names.js";
export type {
  ClusterIR,
  EndpointIR,
  ExtAuthzIR,
  GatewayIR,
  HealthStatus,
  HealthView,
  ListenerIR,
  ModelIR,
  RetryIR,
  ShadowIR,
  VersionRouteIR,
} from "./types.js";
