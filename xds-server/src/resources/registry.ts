/**
 * Type URL → ts-proto codec, for every message the control plane packs: packing into Any,
 * encoding resources, and expanding Any fields back into JSON all go through this one table.
 */
import { Cluster } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import { FilterConfig as RouteFilterConfig } from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import { ScopedRouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import { ExpressionFilter as CelFilter } from "../../../gen/envoy/envoy/extensions/access_loggers/filters/cel/v3/cel.js";
import { StdoutAccessLog } from "../../../gen/envoy/envoy/extensions/access_loggers/stream/v3/stream.js";
import {
  ExtAuthz,
  ExtAuthzPerRoute,
} from "../../../gen/envoy/envoy/extensions/filters/http/ext_authz/v3/ext_authz.js";
import { Router } from "../../../gen/envoy/envoy/extensions/filters/http/router/v3/router.js";
import { JwtAuthentication } from "../../../gen/envoy/envoy/extensions/filters/http/jwt_authn/v3/config.js";
import { LocalRateLimit } from "../../../gen/envoy/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js";
import { RateLimit } from "../../../gen/envoy/envoy/extensions/filters/http/ratelimit/v3/rate_limit.js";
import { RBAC, RBACPerRoute } from "../../../gen/envoy/envoy/extensions/filters/http/rbac/v3/rbac.js";
import { UpstreamTlsContext } from "../../../gen/envoy/envoy/extensions/transport_sockets/tls/v3/tls.js";
import { FilterConfig as GrpcStatsConfig } from "../../../gen/envoy/envoy/extensions/filters/http/grpc_stats/v3/config.js";
import { HeaderMutation } from "../../../gen/envoy/envoy/extensions/filters/http/header_mutation/v3/header_mutation.js";
import { Lua, LuaPerRoute } from "../../../gen/envoy/envoy/extensions/filters/http/lua/v3/lua.js";
import { GrpcFieldExtractionConfig } from "../../../gen/envoy/envoy/extensions/filters/http/grpc_field_extraction/v3/config.js";
import { GrpcJsonTranscoder } from "../../../gen/envoy/envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.js";
import { UpstreamCodec } from "../../../gen/envoy/envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.js";
import { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { HeaderMutation as EarlyHeaderMutation } from "../../../gen/envoy/envoy/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.js";
import { PreviousHostsPredicate } from "../../../gen/envoy/envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.js";
import { HttpProtocolOptions } from "../../../gen/envoy/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
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
  routeConfigurationTypeUrl,
  routerTypeUrl,
  scopedRouteConfigurationTypeUrl,
  stdoutAccessLogTypeUrl,
  celFilterTypeUrl,
  grpcFieldExtractionTypeUrl,
  grpcJsonTranscoderTypeUrl,
  luaPerRouteTypeUrl,
  luaTypeUrl,
  routeFilterConfigTypeUrl,
  upstreamCodecTypeUrl,
  upstreamHttpProtocolOptionsTypeUrl,
  jwtAuthnTypeUrl,
  localRateLimitTypeUrl,
  rateLimitTypeUrl,
  rbacPerRouteTypeUrl,
  rbacTypeUrl,
  upstreamTlsContextTypeUrl,
} from "./type-urls.js";

/** The message type behind each type URL. */
export interface MessageTypes {
  [listenerTypeUrl]: Listener;
  [routeConfigurationTypeUrl]: RouteConfiguration;
  [scopedRouteConfigurationTypeUrl]: ScopedRouteConfiguration;
  [clusterTypeUrl]: Cluster;
  [clusterLoadAssignmentTypeUrl]: ClusterLoadAssignment;
  [httpConnectionManagerTypeUrl]: HttpConnectionManager;
  [routerTypeUrl]: Router;
  [extAuthzTypeUrl]: ExtAuthz;
  [extAuthzPerRouteTypeUrl]: ExtAuthzPerRoute;
  [grpcStatsTypeUrl]: GrpcStatsConfig;
  [headerMutationTypeUrl]: HeaderMutation;
  [earlyHeaderMutationTypeUrl]: EarlyHeaderMutation;
  [luaTypeUrl]: Lua;
  [luaPerRouteTypeUrl]: LuaPerRoute;
  [celFilterTypeUrl]: CelFilter;
  [grpcFieldExtractionTypeUrl]: GrpcFieldExtractionConfig;
  [grpcJsonTranscoderTypeUrl]: GrpcJsonTranscoder;
  [routeFilterConfigTypeUrl]: RouteFilterConfig;
  [upstreamCodecTypeUrl]: UpstreamCodec;
  [upstreamHttpProtocolOptionsTypeUrl]: HttpProtocolOptions;
  [previousHostsPredicateTypeUrl]: PreviousHostsPredicate;
  [stdoutAccessLogTypeUrl]: StdoutAccessLog;
  [jwtAuthnTypeUrl]: JwtAuthentication;
  [rbacTypeUrl]: RBAC;
  [rbacPerRouteTypeUrl]: RBACPerRoute;
  [localRateLimitTypeUrl]: LocalRateLimit;
  [rateLimitTypeUrl]: RateLimit;
  [upstreamTlsContextTypeUrl]: UpstreamTlsContext;
}

export type KnownTypeUrl = keyof MessageTypes;

/** The part of ts-proto's MessageFns this module uses. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array): T;
  toJSON(message: T): unknown;
}

export const messageCodecs: { readonly [U in KnownTypeUrl]: MessageCodec<MessageTypes[U]> } = {
  [listenerTypeUrl]: Listener,
  [routeConfigurationTypeUrl]: RouteConfiguration,
  [scopedRouteConfigurationTypeUrl]: ScopedRouteConfiguration,
  [clusterTypeUrl]: Cluster,
  [clusterLoadAssignmentTypeUrl]: ClusterLoadAssignment,
  [httpConnectionManagerTypeUrl]: HttpConnectionManager,
  [routerTypeUrl]: Router,
  [extAuthzTypeUrl]: ExtAuthz,
  [extAuthzPerRouteTypeUrl]: ExtAuthzPerRoute,
  [grpcStatsTypeUrl]: GrpcStatsConfig,
  [headerMutationTypeUrl]: HeaderMutation,
  [earlyHeaderMutationTypeUrl]: EarlyHeaderMutation,
  [luaTypeUrl]: Lua,
  [luaPerRouteTypeUrl]: LuaPerRoute,
  [celFilterTypeUrl]: CelFilter,
  [grpcFieldExtractionTypeUrl]: GrpcFieldExtractionConfig,
  [grpcJsonTranscoderTypeUrl]: GrpcJsonTranscoder,
  [routeFilterConfigTypeUrl]: RouteFilterConfig,
  [upstreamCodecTypeUrl]: UpstreamCodec,
  [upstreamHttpProtocolOptionsTypeUrl]: HttpProtocolOptions,
  [previousHostsPredicateTypeUrl]: PreviousHostsPredicate,
  [stdoutAccessLogTypeUrl]: StdoutAccessLog,
  [jwtAuthnTypeUrl]: JwtAuthentication,
  [rbacTypeUrl]: RBAC,
  [rbacPerRouteTypeUrl]: RBACPerRoute,
  [localRateLimitTypeUrl]: LocalRateLimit,
  [rateLimitTypeUrl]: RateLimit,
  [upstreamTlsContextTypeUrl]: UpstreamTlsContext,
};

export function isKnownTypeUrl(typeUrl: string): typeUrl is KnownTypeUrl {
  return Object.hasOwn(messageCodecs, typeUrl);
}

export function codecFor<U extends KnownTypeUrl>(typeUrl: U): MessageCodec<MessageTypes[U]> {
  return messageCodecs[typeUrl] as MessageCodec<MessageTypes[U]>;
}

/** The protobuf encoding of a message: what goes into an Any and onto the wire. */
/**
 * One writer for every encoding in this process: a new BinaryWriter starts at 128 bytes and doubles
 * its buffer as it goes, so a full build (~100 MB encoded) would allocate and copy every buffer
 * several times over. finish() copies out exactly the bytes written and resets the writer, keeping
 * its buffer. Encoding is synchronous and calls back into nothing of ours, so it cannot re-enter.
 */
const sharedWriter = new BinaryWriter();

/** The message's bytes, a copy of its own (not a view of a shared buffer). */
export function encodeWith<T>(codec: MessageCodec<T>, message: T): Uint8Array {
  try {
    return codec.encode(message, sharedWriter).finish();
  } catch (err) {
    sharedWriter.finish(); // drops the half-written message, so the next one starts clean
    throw err;
  }
}

export function encodeMessage<U extends KnownTypeUrl>(typeUrl: U, message: MessageTypes[U]): Uint8Array {
  return encodeWith(codecFor(typeUrl), message);
}

export function packAny<U extends KnownTypeUrl>(typeUrl: U, message: MessageTypes[U]): Any {
  const bytes = encodeMessage(typeUrl, message);
  // ts-proto types bytes fields as Buffer under env=node; a view, not a copy.
  const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (readBack.has(typeUrl)) packedFrom.set(value, message);
  return { typeUrl, value };
}

/**
 * The message each Any made here was packed from, by its bytes. The reference walker
 * (kinds.ts) reads a listener's connection managers on every build and every consistency check:
 * it gets the message back instead of decoding it again (10,000 proxyless listeners at 10,000
 * models). Translation builds a message, packs it and never changes it afterwards.
 */
const packedFrom = new WeakMap<Uint8Array, object>();
/** The types the reference walker reads (kinds.ts): remembering every Any would cost more than it saves. */
const readBack: ReadonlySet<string> = new Set([httpConnectionManagerTypeUrl, extAuthzTypeUrl]);

/**
 * unpackAny for readers that only read: the message the Any was packed from when packAny made it
 * (not a copy: do not change it), else decoded.
 */
export function readAny<U extends KnownTypeUrl>(any: Any, typeUrl: U): MessageTypes[U] {
  if (any.typeUrl !== typeUrl) throw new Error(`readAny: expected ${typeUrl}, got ${any.typeUrl}`);
  return (packedFrom.get(any.value) as MessageTypes[U] | undefined) ?? codecFor(typeUrl).decode(any.value);
}

/** The message inside an Any; throws (a programmer error) when it holds another type. */
export function unpackAny<U extends KnownTypeUrl>(any: Any, typeUrl: U): MessageTypes[U] {
  if (any.typeUrl !== typeUrl) throw new Error(`unpackAny: expected ${typeUrl}, got ${any.typeUrl}`);
  return codecFor(typeUrl).decode(any.value);
}
