/**
 * The tenants' rate limits in native mode, applied by Envoy to every call it lets through, whoever
 * authorized it (jwt_authn and the route policy, or ext-authz, which then does not limit):
 * - without a rate limit service, Envoy's local_ratelimit: one token bucket per tenant and per
 *   Envoy, so N Envoys give a tenant N times its limit;
 * - with one (auth.rateLimitService), the ratelimit filter asks envoyproxy/ratelimit, whose counts
 *   live in Redis and hold across every Envoy. Its answer, or its outage, is final: the service
 *   down fails the call closed with UNAVAILABLE unless failOpen says otherwise.
 * Both read the same descriptors, made from the headers Envoy itself set: `tenant`, and `tenant`
 * with `model` (the service's config may limit a tenant on one model).
 * Over the limit: RESOURCE_EXHAUSTED (gRPC) or 429 (REST), with the wait in x-ratelimit-reset,
 * which listeners.ts turns into the message and retry headers ext-authz used to send.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/local_rate_limit_filter
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/rate_limit_filter
 */
import { modelHeader, tenantHeader } from "@inferencehub/contracts/headers";
import { ApiVersion } from "../../../../gen/envoy/envoy/config/core/v3/config_source.js";
import type { RateLimit as RouteRateLimit } from "../../../../gen/envoy/envoy/config/route/v3/route_components.js";
import { XRateLimitHeadersRFCVersion } from "../../../../gen/envoy/envoy/extensions/common/ratelimit/v3/ratelimit.js";
import { LocalRateLimit } from "../../../../gen/envoy/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js";
import {
  RateLimit,
  RateLimit_XRateLimitHeadersRFCVersion,
} from "../../../../gen/envoy/envoy/extensions/filters/http/ratelimit/v3/rate_limit.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { FractionalPercent_DenominatorType } from "../../../../gen/envoy/envoy/type/v3/percent.js";
import { StatusCode } from "../../../../gen/envoy/envoy/type/v3/http_status.js";
import type { TokenBucket } from "../../../../gen/envoy/envoy/type/v3/token_bucket.js";
import type { GatewayIR, NativeAuthIR } from "../../ir/index.js";
import { modelDescriptorKey, rateLimitDomain, tenantDescriptorKey } from "../../ratelimit/index.js";
import { localRateLimitTypeUrl, packAny, rateLimitTypeUrl } from "../../resources/index.js";
import { duration } from "../durations.js";
import type { HttpFilterSpec } from "./http-filter.js";

/** The descriptor keys, as the service's config (ratelimit/service-config.ts) names them. */
const descriptorKeys = { tenant: tenantDescriptorKey, model: modelDescriptorKey } as const;

const localFilterName = "envoy.filters.http.local_ratelimit";
const globalFilterName = "envoy.filters.http.ratelimit";

/** Envoy refuses a fill interval under 50 ms. */
const minFillIntervalMs = 50;

const limited = (ir: GatewayIR): NativeAuthIR | undefined => ir.nativeAuth;

export const localRateLimitFilter: HttpFilterSpec = {
  name: localFilterName,
  enabled: (ir, group) =>
    group === "envoy" &&
    limited(ir) !== undefined &&
    limited(ir)?.rateLimitService === undefined &&
    (limited(ir)?.rateLimits.length ?? 0) > 0,
  build: (ir) => {
    const everyone = percent100("inferencehub.local_rate_limit");
    return HttpFilter.fromPartial({
      name: localFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          localRateLimitTypeUrl,
          LocalRateLimit.fromPartial({
            statPrefix: "tenant_rate_limit",
            // Calls of tenants without a limit match no descriptor: this bucket never runs dry.
            tokenBucket: {
              maxTokens: 1_000_000_000,
              tokensPerFill: 1_000_000_000,
              fillInterval: duration(1_000),
            },
            alwaysConsumeDefaultTokenBucket: false,
            filterEnabled: everyone,
            filterEnforced: everyone,
            descriptors: (ir.nativeAuth?.rateLimits ?? []).map((r) => ({
              entries: [
                { key: descriptorKeys.tenant, value: r.tenant },
                ...(r.model !== undefined ? [{ key: descriptorKeys.model, value: r.model }] : []),
              ],
              tokenBucket: tokenBucket(r.callsPerSecond, r.burst),
            })),
            rateLimitedAsResourceExhausted: true,
            enableXRatelimitHeaders: XRateLimitHeadersRFCVersion.DRAFT_VERSION_03,
          }),
        ),
      },
    });
  },
};

export const globalRateLimitFilter: HttpFilterSpec = {
  name: globalFilterName,
  enabled: (ir, group) => group === "envoy" && limited(ir)?.rateLimitService !== undefined,
  build: (ir) => {
    const service = ir.nativeAuth?.rateLimitService;
    if (!service) throw new Error("globalRateLimitFilter.build: the IR has no rateLimitService");
    return HttpFilter.fromPartial({
      name: globalFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          rateLimitTypeUrl,
          RateLimit.fromPartial({
            domain: rateLimitDomain,
            requestType: "both",
            timeout: duration(service.timeoutMs),
            failureModeDeny: !service.failOpen,
            rateLimitedAsResourceExhausted: true,
            rateLimitService: {
              grpcService: {
                targetSpecifier: { $case: "envoyGrpc", envoyGrpc: { clusterName: service.cluster } },
              },
              transportApiVersion: ApiVersion.V3,
            },
            enableXRatelimitHeaders: RateLimit_XRateLimitHeadersRFCVersion.DRAFT_VERSION_03,
            // The service down is an outage, not the caller's fault: UNAVAILABLE, which clients retry.
            statusOnError: { code: StatusCode.ServiceUnavailable },
          }),
        ),
      },
    });
  },
};

/**
 * The virtual host's rate_limits: the descriptors both filters read. A call without the tenant
 * header (none was set: nothing authorized it) produces none.
 */
export function rateLimitActions(ir: NativeAuthIR | undefined): RouteRateLimit[] {
  if (!ir || (ir.rateLimits.length === 0 && !ir.rateLimitService)) return [];
  const tenant = {
    actionSpecifier: {
      $case: "requestHeaders" as const,
      requestHeaders: { headerName: tenantHeader, descriptorKey: descriptorKeys.tenant, skipIfAbsent: false },
    },
  };
  const model = {
    actionSpecifier: {
      $case: "requestHeaders" as const,
      requestHeaders: { headerName: modelHeader, descriptorKey: descriptorKeys.model, skipIfAbsent: false },
    },
  };
  // (tenant, model) only where something limits it: the service's config may, any model.
  const perModel = ir.rateLimitService !== undefined || ir.rateLimits.some((r) => r.model !== undefined);
  return [
    { stage: 0, disableKey: "", actions: [tenant] },
    ...(perModel ? [{ stage: 0, disableKey: "", actions: [tenant, model] }] : []),
  ];
}

/**
 * `burst` tokens at most, refilled at `callsPerSecond`: one token every 1/rate seconds up to 20 a
 * second, then a twentieth of the rate every 50 ms (rounded to whole tokens, at least one).
 */
export function tokenBucket(callsPerSecond: number, burst: number): TokenBucket {
  const perToken = 1_000 / callsPerSecond;
  if (perToken >= minFillIntervalMs) {
    return { maxTokens: burst, tokensPerFill: 1, fillInterval: duration(Math.round(perToken)) };
  }
  return {
    maxTokens: burst,
    tokensPerFill: Math.max(1, Math.round((callsPerSecond * minFillIntervalMs) / 1_000)),
    fillInterval: duration(minFillIntervalMs),
  };
}

function percent100(runtimeKey: string) {
  return {
    defaultValue: { numerator: 100, denominator: FractionalPercent_DenominatorType.HUNDRED },
    runtimeKey,
  };
}
