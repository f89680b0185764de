/**
 * Listeners. Envoy gets one data listener, `ingress`; each proxyless client resolves
 * `xds:///<model>` to an API listener named after the model. Both use RDS over ADS.
 */
import { AccessLog } from "../../../gen/envoy/envoy/config/accesslog/v3/accesslog.js";
import { HttpProtocolOptions_HeadersWithUnderscoresAction } from "../../../gen/envoy/envoy/config/core/v3/protocol.js";
import { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import { StdoutAccessLog } from "../../../gen/envoy/envoy/extensions/access_loggers/stream/v3/stream.js";
import {
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
  HttpConnectionManager_PathWithEscapedSlashesAction,
} from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { GatewayIR, ModelIR } from "../ir/index.js";
import { httpConnectionManagerTypeUrl, packAny, stdoutAccessLogTypeUrl } from "../resources/index.js";
import { adsConfigSource, socketAddress } from "./common.js";
import { duration } from "./durations.js";
import { buildHttpFilters } from "./filters/index.js";
import {
  ingressListenerName,
  ingressRouteConfigName,
  modelHeader,
  proxylessListenerName,
  proxylessRouteConfigName,
  versionHeader,
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
    routeSpecifier: {
      $case: "rds",
      rds: { configSource: adsConfigSource(), routeConfigName: ingressRouteConfigName },
    },
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
export function proxylessListeners(ir: GatewayIR): Named<Listener>[] {
  return ir.models.map((model) => {
    const name = proxylessListenerName(model.name);
    return { name, resource: proxylessListener(ir, model, name) };
  });
}

function proxylessListener(ir: GatewayIR, model: ModelIR, name: string): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    routeSpecifier: {
      $case: "rds",
      rds: { configSource: adsConfigSource(), routeConfigName: proxylessRouteConfigName(model.name) },
    },
    httpFilters: buildHttpFilters(ir, "proxyless"),
  });
  return Listener.fromPartial({
    name,
    apiListener: { apiListener: packAny(httpConnectionManagerTypeUrl, hcm) },
  });
}
