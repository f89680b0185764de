import { ApiVersion } from "../../../../gen/envoy/envoy/config/core/v3/config_source.js";
import { ExtAuthz } from "../../../../gen/envoy/envoy/extensions/filters/http/ext_authz/v3/ext_authz.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { StatusCode } from "../../../../gen/envoy/envoy/type/v3/http_status.js";
import type { ExtAuthzIR, GatewayIR } from "../../ir/index.js";
import { extAuthzTypeUrl, packAny } from "../../resources/index.js";
import { duration } from "../durations.js";
import type { HttpFilterSpec } from "./http-filter.js";

/**
 * Asks the ext-authz gRPC service about every call before it is routed. Envoy only: grpc-js does
 * not implement ext_authz, and a proxyless client holds its own credentials anyway.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/ext_authz_filter
 */
export const extAuthzFilter: HttpFilterSpec = {
  name: "envoy.filters.http.ext_authz",
  enabled: (ir, group) => group === "envoy" && ir.extAuthz !== undefined,
  build: (ir: GatewayIR) => {
    if (!ir.extAuthz) throw new Error("extAuthzFilter.build: the IR has no extAuthz");
    return HttpFilter.fromPartial({
      name: "envoy.filters.http.ext_authz",
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(extAuthzTypeUrl, extAuthzConfig(ir.extAuthz)),
      },
    });
  },
};

function extAuthzConfig(authz: ExtAuthzIR): ExtAuthz {
  return ExtAuthz.fromPartial({
    services: {
      $case: "grpcService",
      grpcService: {
        targetSpecifier: { $case: "envoyGrpc", envoyGrpc: { clusterName: authz.cluster } },
        timeout: duration(authz.timeoutMs),
      },
    },
    transportApiVersion: ApiVersion.V3,
    failureModeAllow: authz.failOpen,
    // Envoy's default 403 would reach gRPC clients as PERMISSION_DENIED, blaming the caller for
    // an outage; 503 maps to UNAVAILABLE, which clients may retry.
    statusOnError: { code: StatusCode.ServiceUnavailable },
  });
}
