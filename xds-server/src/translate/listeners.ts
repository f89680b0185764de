/**
 * Listeners. Envoy gets one data listener, `ingress`, whose routes are scoped by model (SRDS, then
 * RDS per model); each proxyless client resolves `xds:///<model>` to an API listener named after
 * the model, with RDS. All over ADS.
 */
import { modelHeader, noModelHeaderValue, versionHeader } from "@inferencehub/contracts/headers";
import {
  AccessLog,
  ComparisonFilter_Op,
  type AccessLogFilter,
} from "../../../gen/envoy/envoy/config/accesslog/v3/accesslog.js";
import {
  HeaderValueOption_HeaderAppendAction,
  type HeaderValueOption,
} from "../../../gen/envoy/envoy/config/core/v3/base.js";
import { HttpProtocolOptions_HeadersWithUnderscoresAction } from "../../../gen/envoy/envoy/config/core/v3/protocol.js";
import { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import { StdoutAccessLog } from "../../../gen/envoy/envoy/extensions/access_loggers/stream/v3/stream.js";
import {
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
  HttpConnectionManager_PathWithEscapedSlashesAction,
  LocalReplyConfig,
  ResponseMapper,
  ScopedRoutes,
} from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { HeaderMutation as EarlyHeaderMutation } from "../../../gen/envoy/envoy/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.js";
import type { TypedExtensionConfig } from "../../../gen/envoy/envoy/config/core/v3/extension.js";
import type { GatewayIR, ModelIR, NativeAuthIR } from "../ir/index.js";
import {
  earlyHeaderMutationTypeUrl,
  httpConnectionManagerTypeUrl,
  packAny,
  stdoutAccessLogTypeUrl,
} from "../resources/index.js";
import { adsConfigSource, celFilter, grpcStatus, socketAddress } from "./common.js";
import { duration } from "./durations.js";
import { buildHttpFilters, firstMessageTooLargeDetails } from "./filters/index.js";
import { rateLimitReplies } from "./rate-limit-replies.js";
import { notGrpc } from "./rest-routes.js";
import {
  ingressListenerName,
  ingressScopedRoutesName,
  proxylessListenerName,
  proxylessRouteConfigName,
} from "./names.js";
import type { Named } from "./types.js";

export function envoyListeners(ir: GatewayIR): Named<Listener>[] {
  const hcm = ingressConnectionManager(ir);
  const listener = Listener.fromPartial({
    name: ingressListenerName,
    address: socketAddress(ir.listener.address, ir.listener.port),
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            configType: { $case: "typedConfig", typedConfig: packAny(httpConnectionManagerTypeUrl, hcm) },
          },
        ],
      },
    ],
  });
  return [{ name: ingressListenerName, resource: listener }];
}

/**
 * The edge settings follow Envoy's edge best practices.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/best_practices/edge
 */
function ingressConnectionManager(ir: GatewayIR): HttpConnectionManager {
  const l = ir.listener;
  return HttpConnectionManager.fromPartial({
    statPrefix: ingressListenerName,
    // gRPC needs HTTP/2; AUTO also serves HTTP/1.1 clients (REST/JSON, health checks).
    codecType: HttpConnectionManager_CodecType.AUTO,
    routeSpecifier: { $case: "scopedRoutes", scopedRoutes: modelScopes() },
    earlyHeaderMutationExtensions: [noModelHeaderDefault()],
    localReplyConfig: localReplies(ir.nativeAuth),
    httpFilters: buildHttpFilters(ir, "envoy"),
    http2ProtocolOptions: { ...l.http2 },
    commonHttpProtocolOptions: {
      idleTimeout: duration(l.idleTimeoutMs),
      headersWithUnderscoresAction: HttpProtocolOptions_HeadersWithUnderscoresAction.REJECT_REQUEST,
    },
    maxRequestHeadersKb: l.maxRequestHeadersKb,
    requestHeadersTimeout: duration(l.requestHeadersTimeoutMs),
    streamIdleTimeout: duration(l.streamIdleTimeoutMs),
    // Envoy is the edge: x-forwarded-for starts from the peer address, not from what a client claims.
    useRemoteAddress: true,
    normalizePath: true,
    mergeSlashes: true,
    // gRPC paths never hold escaped slashes, and gRPC clients do not follow redirects.
    pathWithEscapedSlashesAction: HttpConnectionManager_PathWithEscapedSlashesAction.REJECT_REQUEST,
    accessLog: l.accessLog ? [stdoutJsonAccessLog()] : [],
  });
}

/**
 * The scope is the model header's whole value; every scope and its routes come over ADS.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto#extensions-filters-network-http-connection-manager-v3-scopedroutes
 */
function modelScopes(): ScopedRoutes {
  return ScopedRoutes.fromPartial({
    name: ingressScopedRoutesName,
    scopeKeyBuilder: {
      fragments: [
        {
          type: {
            $case: "headerValueExtractor",
            headerValueExtractor: {
              name: modelHeader,
              elementSeparator: "",
              extractType: { $case: "index", index: 0 },
            },
          },
        },
      ],
    },
    rdsConfigSource: adsConfigSource(),
    configSpecifier: { $case: "scopedRds", scopedRds: { scopedRdsConfigSource: adsConfigSource() } },
  });
}

/**
 * A call without a model header would have no scope key, so no route, and Envoy skips ext_authz
 * on a call without a route: the header is set to a value that selects the no-model scope, before
 * the scope is chosen. ext-authz reads that value as "no header".
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.proto
 */
function noModelHeaderDefault(): TypedExtensionConfig {
  const config = EarlyHeaderMutation.fromPartial({
    mutations: [
      {
        action: {
          $case: "append",
          append: {
            header: { key: modelHeader, value: noModelHeaderValue },
            appendAction: HeaderValueOption_HeaderAppendAction.ADD_IF_ABSENT,
          },
        },
      },
    ],
  });
  return {
    name: "envoy.http.early_header_mutation.header_mutation",
    typedConfig: packAny(earlyHeaderMutationTypeUrl, config),
  };
}

/**
 * Envoy's own answers, with a message: a model header no scope has leaves the call without a route
 * (response flag NR), ext-authz down or too slow fails the call closed, and a version with no node
 * up (flag UH) names itself. For a gRPC call the
 * body becomes grpc-message, and a grpc-status header set here is kept instead of the one mapped
 * from the HTTP status (404 would read UNIMPLEMENTED).
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_conn_man/local_reply
 */
function localReplies(native: NativeAuthIR | undefined): LocalReplyConfig {
  const notServed = `model '%REQ(${modelHeader})%' is not served by this gateway`;
  const authzDown =
    "the gateway could not reach its authorization service, so the call was not checked and not sent; retry shortly";
  const noNode =
    "no node is up to serve %UPSTREAM_CLUSTER% (model~version); retry later, or pin another version";
  // ext_authz's status_on_error (503, flag UAEX) comes with no body; ext-authz's own denials
  // carry their message and never use 503 (check-response.ts), so only the outage matches.
  const authzOutage: AccessLogFilter["filterSpecifier"] = {
    $case: "andFilter",
    andFilter: {
      filters: [
        { filterSpecifier: { $case: "responseFlagFilter", responseFlagFilter: { flags: ["UAEX"] } } },
        { filterSpecifier: statusIs(503, "inferencehub.authz_error_status") },
      ],
    },
  };
  const noRoute: AccessLogFilter["filterSpecifier"] = {
    $case: "responseFlagFilter",
    responseFlagFilter: { flags: ["NR"] },
  };
  const noHealthyNode: AccessLogFilter["filterSpecifier"] = {
    $case: "responseFlagFilter",
    responseFlagFilter: { flags: ["UH"] },
  };
  const rateLimitServiceDown = celFilter("response.code_details == 'rate_limiter_error'");
  const limitsDown =
    "the gateway could not reach its rate limit service, so the call was not sent; retry shortly";
  return LocalReplyConfig.fromPartial({
    mappers: [
      // Requests that are not gRPC (REST, any HTTP/1.1 client) first: their errors are JSON,
      // {"error": "..."}, with the HTTP status as it is.
      restReply(noRoute, notServed),
      restReply(authzOutage, authzDown),
      restReply(noHealthyNode, noNode),
      ...rateLimitReplies(native).map(({ filter, message, headers }) =>
        withHeaders(restReply(filter, message), headers.rest),
      ),
      ...(native?.rateLimitService ? [restReply(rateLimitServiceDown, limitsDown)] : []),
      restReply(statusAtLeast(400, "inferencehub.rest_error_status"), "%LOCAL_REPLY_BODY%"),
      grpcReply(noRoute, grpcStatus.notFound, notServed),
      grpcReply(authzOutage, grpcStatus.unavailable, authzDown),
      // No node up for the version the route chose: a pinned call to a version that is down, or
      // every version of the model down. The cluster is `<model>~<version>`.
      grpcReply(noHealthyNode, grpcStatus.unavailable, noNode),
      ...rateLimitReplies(native).map(({ filter, message, headers }) =>
        withHeaders(grpcReply(filter, grpcStatus.resourceExhausted, message), headers.grpc),
      ),
      ...(native?.rateLimitService
        ? [grpcReply(rateLimitServiceDown, grpcStatus.unavailable, limitsDown)]
        : []),
      // A request Envoy had to buffer whole (the body rewrite for stock servers) past its 1 MiB
      // per-connection buffer: Envoy's 413 would reach gRPC clients as UNKNOWN.
      grpcReply(
        statusIs(413, "inferencehub.payload_too_large_status"),
        grpcStatus.resourceExhausted,
        "the request is larger than the 1 MiB the gateway can buffer to write the version into it for this model version's nodes (versionFrom: body); send smaller requests",
      ),
      // A call without the model header whose first message is more than Envoy buffers to read
      // the model name from it (model-from-first-message); Envoy's own answer is
      // FAILED_PRECONDITION, "internal buffer limits are exceeded".
      grpcReply(
        celFilter(`response.code_details == '${firstMessageTooLargeDetails}'`),
        grpcStatus.resourceExhausted,
        `without the ${modelHeader} header the gateway reads the model name from the first message, which must then fit in 1 MiB: set the ${modelHeader} header for larger messages`,
      ),
    ],
  });
}

/** Matches an HTTP status of `code` or more. */
function statusAtLeast(code: number, runtimeKey: string): AccessLogFilter["filterSpecifier"] {
  return {
    $case: "statusCodeFilter",
    statusCodeFilter: {
      comparison: { op: ComparisonFilter_Op.GE, value: { defaultValue: code, runtimeKey } },
    },
  };
}

/** Matches one HTTP status; Envoy requires a runtime key beside the value. */
function statusIs(code: number, runtimeKey: string): AccessLogFilter["filterSpecifier"] {
  return {
    $case: "statusCodeFilter",
    statusCodeFilter: {
      comparison: { op: ComparisonFilter_Op.EQ, value: { defaultValue: code, runtimeKey } },
    },
  };
}

/**
 * A local reply to a request that is not gRPC (its content-type does not start with
 * application/grpc, or it has none) that `filterSpecifier` matches: `{"error": message}` as JSON.
 */
function restReply(filterSpecifier: AccessLogFilter["filterSpecifier"], message: string): ResponseMapper {
  return ResponseMapper.fromPartial({
    filter: {
      filterSpecifier: {
        $case: "andFilter",
        andFilter: {
          filters: [
            {
              filterSpecifier: {
                $case: "headerFilter",
                headerFilter: { header: notGrpc() },
              },
            },
            { filterSpecifier },
          ],
        },
      },
    },
    bodyFormatOverride: { format: { $case: "jsonFormat", jsonFormat: { error: message } } },
  });
}

function withHeaders(mapper: ResponseMapper, headers: HeaderValueOption[]): ResponseMapper {
  return { ...mapper, headersToAdd: [...mapper.headersToAdd, ...headers] };
}

/** A local reply that gRPC clients read as `status` with `message` (Envoy puts the body in grpc-message). */
function grpcReply(
  filterSpecifier: AccessLogFilter["filterSpecifier"],
  status: number,
  message: string,
): ResponseMapper {
  return ResponseMapper.fromPartial({
    filter: { filterSpecifier },
    headersToAdd: [
      {
        header: { key: "grpc-status", value: String(status) },
        appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
      },
    ],
    bodyFormatOverride: {
      format: {
        $case: "textFormatSource",
        textFormatSource: { specifier: { $case: "inlineString", inlineString: message } },
      },
    },
  });
}

/**
 * One JSON line per call: enough to follow a call across the gateway (model, version, cluster,
 * node, gRPC status) without a tracing backend.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/observability/access_log/usage#command-operators
 */
function stdoutJsonAccessLog(): AccessLog {
  const format = {
    start_time: "%START_TIME%",
    method: "%REQ(:PATH)%",
    model: `%REQ(${modelHeader})%`,
    model_version: `%REQ(${versionHeader})%`,
    cluster: "%UPSTREAM_CLUSTER%",
    upstream_host: "%UPSTREAM_HOST%",
    response_code: "%RESPONSE_CODE%",
    grpc_status: "%GRPC_STATUS(NUMBER)%",
    response_flags: "%RESPONSE_FLAGS%",
    duration_ms: "%DURATION%",
    bytes_received: "%BYTES_RECEIVED%",
    bytes_sent: "%BYTES_SENT%",
    request_id: "%REQ(X-REQUEST-ID)%",
  };
  const config = StdoutAccessLog.fromPartial({
    accessLogFormat: {
      $case: "logFormat",
      logFormat: { format: { $case: "jsonFormat", jsonFormat: format } },
    },
  });
  return AccessLog.fromPartial({
    name: "envoy.access_loggers.stdout",
    configType: { $case: "typedConfig", typedConfig: packAny(stdoutAccessLogTypeUrl, config) },
  });
}

/**
 * grpc-js reads only the route configuration and the filter list of an API listener; the router
 * must be the last filter.
 * https://github.com/grpc/proposal/blob/master/A27-xds-global-load-balancing.md#listener-proto
 */
export function proxylessListener(ir: GatewayIR, model: ModelIR): Named<Listener> {
  const name = proxylessListenerName(model.name);
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    routeSpecifier: {
      $case: "rds",
      rds: { configSource: adsConfigSource(), routeConfigName: proxylessRouteConfigName(model.name) },
    },
    httpFilters: buildHttpFilters(ir, "proxyless"),
  });
  const listener = Listener.fromPartial({
    name,
    apiListener: { apiListener: packAny(httpConnectionManagerTypeUrl, hcm) },
  });
  return { name, resource: listener };
}
