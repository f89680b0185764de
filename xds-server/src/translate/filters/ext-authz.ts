import { gatewayHeaderPrefix, modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { ApiVersion } from "../../../../gen/envoy/envoy/config/core/v3/config_source.js";
import type { ExtAuthzPerRoute } from "../../../../gen/envoy/envoy/extensions/filters/http/ext_authz/v3/ext_authz.js";
import { ExtAuthz } from "../../../../gen/envoy/envoy/extensions/filters/http/ext_authz/v3/ext_authz.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../../gen/envoy/google/protobuf/any.js";
import { StringMatcher } from "../../../../gen/envoy/envoy/type/matcher/v3/string.js";
import { StatusCode } from "../../../../gen/envoy/envoy/type/v3/http_status.js";
import type { ExtAuthzIR, GatewayIR } from "../../ir/index.js";
import { extAuthzPerRouteTypeUrl, extAuthzTypeUrl, packAny } from "../../resources/index.js";
import { duration } from "../durations.js";
import type { HttpFilterSpec } from "./http-filter.js";
import { extAuthzUnlessAllowed } from "./native-auth.js";

const filterName = "envoy.filters.http.ext_authz";

/**
 * Asks the ext-authz gRPC service about every call before it is routed. Envoy only: grpc-js does
 * not implement ext_authz, and a proxyless client holds its own credentials anyway.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/ext_authz_filter
 */
export const extAuthzFilter: HttpFilterSpec = {
  name: filterName,
  enabled: (ir, group) => group === "envoy" && ir.extAuthz !== undefined,
  build: (ir: GatewayIR) => {
    if (!ir.extAuthz) throw new Error("extAuthzFilter.build: the IR has no extAuthz");
    const config = extAuthzConfig(ir.extAuthz);
    return HttpFilter.fromPartial({
      name: filterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          extAuthzTypeUrl,
          // Native mode: only the calls Envoy's own filters did not allow (native-auth.ts).
          ir.nativeAuth ? { ...config, filterEnabledMetadata: extAuthzUnlessAllowed() } : config,
        ),
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
    // A call let through unchecked says so to the node (x-envoy-auth-failure-mode-allowed: true).
    failureModeAllowHeaderAdd: authz.failOpen,
    // Envoy's default 403 would reach gRPC clients as PERMISSION_DENIED, blaming the caller for
    // an outage; 503 maps to UNAVAILABLE, which clients may retry.
    statusOnError: { code: StatusCode.ServiceUnavailable },
    // ext-authz may set inferencehub-model from the body: the route is chosen again afterwards.
    clearRouteCache: true,
    // Every value of a repeated header, uncombined: two `authorization` headers must be seen as two.
    encodeRawHeaders: true,
    validateMutations: true,
    // What ext-authz reads; everything else stays out of the check request.
    allowedHeaders: {
      patterns: [
        // content-type: a call that is not gRPC (REST) is denied without gRPC's headers.
        ...["authorization", "content-type", modelHeader, versionHeader].map((exact) =>
          StringMatcher.fromPartial({ matchPattern: { $case: "exact", exact } }),
        ),
        StringMatcher.fromPartial({ matchPattern: { $case: "prefix", prefix: gatewayHeaderPrefix } }),
      ],
    },
    // Buffering is off on every route (extAuthzPerRoute.noBody on the virtual host) except the one
    // for unary calls that name their model only in the body. It is set here too because Envoy
    // takes pack_as_bytes from the filter, not the route, and without it the body arrives as a
    // UTF-8 string, mangling the protobuf bytes.
    withRequestBody: bodySettings(authz),
  });
}

/** The first bodyBytes bytes only, never the whole tensor; raw bytes, not a UTF-8 string. */
function bodySettings(authz: ExtAuthzIR) {
  return { maxRequestBytes: authz.bodyBytes, allowPartialMessage: true, packAsBytes: true };
}

const perRoute = (config: ExtAuthzPerRoute): Record<string, Any> => ({
  [filterName]: packAny(extAuthzPerRouteTypeUrl, config),
});

/**
 * typed_per_filter_config values for routes and virtual hosts; the most specific one wins.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/filters/http/ext_authz/v3/ext_authz.proto#extensions-filters-http-ext-authz-v3-extauthzperroute
 */
export const extAuthzPerRoute = {
  /** No check at all (health checks and reflection). */
  disabled: (): Record<string, Any> => perRoute({ override: { $case: "disabled", disabled: true } }),
  /** Check without waiting for body bytes: calls that set the model header, and streams. */
  noBody: (): Record<string, Any> =>
    perRoute({
      override: {
        $case: "checkSettings",
        checkSettings: { contextExtensions: {}, disableRequestBodyBuffering: true },
      },
    }),
  /** Check with the first bytes of the body, where ext-authz reads the model name. */
  readBody: (authz: ExtAuthzIR): Record<string, Any> =>
    perRoute({
      override: {
        $case: "checkSettings",
        checkSettings: {
          contextExtensions: {},
          disableRequestBodyBuffering: false,
          withRequestBody: bodySettings(authz),
        },
      },
    }),
};
