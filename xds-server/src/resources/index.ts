export {
  clusterLoadAssignmentTypeUrl,
  clusterTypeUrl,
  earlyHeaderMutationTypeUrl,
  extAuthzPerRouteTypeUrl,
  extAuthzTypeUrl,
  grpcStatsTypeUrl,
  headerMutationTypeUrl,
  httpConnectionManagerTypeUrl,
  listenerTypeUrl,
  previousHostsPredicateTypeUrl,
  resourceTypeUrls,
  routeConfigurationTypeUrl,
  routerTypeUrl,
  scopedRouteConfigurationTypeUrl,
  stdoutAccessLogTypeUrl,
  luaTypeUrl,
  upstreamCodecTypeUrl,
  upstreamHttpProtocolOptionsTypeUrl,
} from "./type-urls.js";
export type {
  ClusterLoadAssignmentTypeUrl,
  ClusterTypeUrl,
  EarlyHeaderMutationTypeUrl,
  ExtAuthzPerRouteTypeUrl,
  ExtAuthzTypeUrl,
  GrpcStatsTypeUrl,
  HeaderMutationTypeUrl,
  HttpConnectionManagerTypeUrl,
  ListenerTypeUrl,
  PreviousHostsPredicateTypeUrl,
  ResourceTypeUrl,
  RouteConfigurationTypeUrl,
  RouterTypeUrl,
  ScopedRouteConfigurationTypeUrl,
  StdoutAccessLogTypeUrl,
  UpstreamCodecTypeUrl,
  UpstreamHttpProtocolOptionsTypeUrl,
} from "./type-urls.js";
export { codecFor, encodeMessage, isKnownTypeUrl, messageCodecs, packAny, unpackAny } from "./registry.js";
export type { KnownTypeUrl, MessageCodec, MessageTypes } from "./registry.js";
export { durationToJson, toEnvoyJson } from "./envoy-json.js";
export type { JsonValue } from "./envoy-json.js";
