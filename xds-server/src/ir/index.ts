export { buildIR, createIRMemo, noAuthFiles, servesGrpc, unknownHealth, versionUp } from "./build.js";
export type { AuthFiles, BuildIROptions, IRMemo } from "./build.js";
export {
  clusterName,
  clusterSeparator,
  extAuthzClusterName,
  jwksClusterName,
  rateLimitServiceClusterName,
  restClusterName,
} from "./names.js";
export type {
  ClusterIR,
  EndpointIR,
  ControlPlaneIR,
  ExtAuthzIR,
  ExtAuthzServiceIR,
  GatewayIR,
  HealthStatus,
  HealthView,
  JwtProviderIR,
  ListenerIR,
  ModelAccessIR,
  ModelIR,
  NativeAuthIR,
  RateLimitServiceIR,
  RemoteJwksIR,
  RestRoutingIR,
  RestVersionIR,
  RetryIR,
  ShadowIR,
  VersionRouteIR,
} from "./types.js";
