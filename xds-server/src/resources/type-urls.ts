/**
 * Every type URL the control plane writes, each a constant with its literal type. The first four
 * are the xDS resource kinds (a DiscoveryResponse's type_url; kinds.ts); the rest appear inside Any fields.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#resource-types
 */

export const listenerTypeUrl = "type.googleapis.com/envoy.config.listener.v3.Listener";
export type ListenerTypeUrl = typeof listenerTypeUrl;

export const routeConfigurationTypeUrl = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
export type RouteConfigurationTypeUrl = typeof routeConfigurationTypeUrl;

export const scopedRouteConfigurationTypeUrl =
  "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration";
export type ScopedRouteConfigurationTypeUrl = typeof scopedRouteConfigurationTypeUrl;

export const clusterTypeUrl = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
export type ClusterTypeUrl = typeof clusterTypeUrl;

export const clusterLoadAssignmentTypeUrl =
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
export type ClusterLoadAssignmentTypeUrl = typeof clusterLoadAssignmentTypeUrl;

export const httpConnectionManagerTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export type HttpConnectionManagerTypeUrl = typeof httpConnectionManagerTypeUrl;

export const routerTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
export type RouterTypeUrl = typeof routerTypeUrl;

export const extAuthzTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
export type ExtAuthzTypeUrl = typeof extAuthzTypeUrl;

export const extAuthzPerRouteTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute";
export type ExtAuthzPerRouteTypeUrl = typeof extAuthzPerRouteTypeUrl;

export const headerMutationTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation";
export type HeaderMutationTypeUrl = typeof headerMutationTypeUrl;

export const earlyHeaderMutationTypeUrl =
  "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation";
export type EarlyHeaderMutationTypeUrl = typeof earlyHeaderMutationTypeUrl;

export const grpcStatsTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig";
export type GrpcStatsTypeUrl = typeof grpcStatsTypeUrl;

export const luaTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua";
export type LuaTypeUrl = typeof luaTypeUrl;

export const grpcFieldExtractionTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.grpc_field_extraction.v3.GrpcFieldExtractionConfig";
export type GrpcFieldExtractionTypeUrl = typeof grpcFieldExtractionTypeUrl;

export const grpcJsonTranscoderTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder";
export type GrpcJsonTranscoderTypeUrl = typeof grpcJsonTranscoderTypeUrl;

/** Per-route settings for any HTTP filter; here, to enable on a route one that is off by default. */
export const routeFilterConfigTypeUrl = "type.googleapis.com/envoy.config.route.v3.FilterConfig";
export type RouteFilterConfigTypeUrl = typeof routeFilterConfigTypeUrl;

export const celFilterTypeUrl =
  "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter";
export type CelFilterTypeUrl = typeof celFilterTypeUrl;

export const luaPerRouteTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute";
export type LuaPerRouteTypeUrl = typeof luaPerRouteTypeUrl;

export const upstreamCodecTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec";
export type UpstreamCodecTypeUrl = typeof upstreamCodecTypeUrl;

export const upstreamHttpProtocolOptionsTypeUrl =
  "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export type UpstreamHttpProtocolOptionsTypeUrl = typeof upstreamHttpProtocolOptionsTypeUrl;

export const previousHostsPredicateTypeUrl =
  "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";
export type PreviousHostsPredicateTypeUrl = typeof previousHostsPredicateTypeUrl;

export const stdoutAccessLogTypeUrl =
  "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
export type StdoutAccessLogTypeUrl = typeof stdoutAccessLogTypeUrl;

export const jwtAuthnTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
export type JwtAuthnTypeUrl = typeof jwtAuthnTypeUrl;

export const rbacTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
export type RbacTypeUrl = typeof rbacTypeUrl;

export const rbacPerRouteTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
export type RbacPerRouteTypeUrl = typeof rbacPerRouteTypeUrl;

export const localRateLimitTypeUrl =
  "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
export type LocalRateLimitTypeUrl = typeof localRateLimitTypeUrl;

export const rateLimitTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit";
export type RateLimitTypeUrl = typeof rateLimitTypeUrl;

export const upstreamTlsContextTypeUrl =
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
export type UpstreamTlsContextTypeUrl = typeof upstreamTlsContextTypeUrl;
