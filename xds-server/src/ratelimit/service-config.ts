/**
 * The configuration of Envoy's global rate limit service (envoyproxy/ratelimit), generated from
 * inferencehub.yaml: a pure function of the parsed config, no I/O.
 *
 * Envoy's ratelimit filter sends, in domain `inferencehub`, a descriptor `(tenant=<name>)` and a
 * descriptor `(tenant=<name>, model=<model>)` per call. Each tenant with a `rateLimit` gets a
 * limit on the first; the second matches no limit here, so the service answers OK for it (its
 * place for per-model limits, which the config cannot express yet).
 * https://github.com/envoyproxy/ratelimit#configuration
 *
 * The service counts fixed windows, not token buckets: a counter per descriptor and window
 * (`unit`: one second, minute, hour, day, week, 30 days or 365 days, aligned to the Unix epoch),
 * and a call is OVER_LIMIT once the window's count passes `requests_per_unit`. This version has no
 * `unit_multiplier`, so the window cannot be burst/callsPerSecond seconds long. The mapping:
 * - the unit is the one nearest (on a log scale; ties to the shorter) to burst/callsPerSecond
 *   seconds, the time a token bucket takes to refill from empty, but long enough that
 *   callsPerSecond × unit is at least one call;
 * - requests_per_unit is callsPerSecond × unit rounded up: the long-run rate is the configured one
 *   (never less, at most one call per window more).
 * How it differs from the token bucket (ext-authz's local limit, per replica):
 * - at once, a tenant may make requests_per_unit calls (callsPerSecond × unit), which is `burst`
 *   only when burst/callsPerSecond is exactly a unit; and twice that across a window's edge;
 * - a tenant that used its window's calls waits for the window's end, not 1/callsPerSecond.
 */
import { Document } from "yaml";
import type { Config, RateLimitConfig } from "@inferencehub/contracts/config";

/** The rate limit domain Envoy's filter names in every request. */
export const rateLimitDomain = "inferencehub";
/** Descriptor entry keys, in the order Envoy's route actions send them. */
export const tenantDescriptorKey = "tenant";
export const modelDescriptorKey = "model";

/** The service's units (envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit) and their seconds. */
export const windowUnits = [
  { unit: "second", seconds: 1 },
  { unit: "minute", seconds: 60 },
  { unit: "hour", seconds: 3_600 },
  { unit: "day", seconds: 86_400 },
  { unit: "week", seconds: 604_800 },
  { unit: "month", seconds: 2_592_000 },
  { unit: "year", seconds: 31_536_000 },
] as const;

export type WindowUnit = (typeof windowUnits)[number]["unit"];

/** A fixed-window limit: at most requestsPerUnit calls per unit-long window. */
export interface FixedWindowLimit {
  unit: WindowUnit;
  requestsPerUnit: number;
}

/** The fixed window closest to a token bucket (see the file comment for the rule and its limits). */
export function fixedWindowFor(rateLimit: RateLimitConfig): FixedWindowLimit {
  const { callsPerSecond, burst } = rateLimit;
  if (!(callsPerSecond > 0) || !(burst > 0)) {
    throw new Error(`fixedWindowFor: callsPerSecond and burst must be > 0 (got ${callsPerSecond}, ${burst})`);
  }
  const refill = burst / callsPerSecond;
  let index = 0;
  for (let i = 1; i < windowUnits.length; i++) {
    const distance = (u: { seconds: number }) => Math.abs(Math.log(u.seconds / refill));
    if (distance(windowUnits[i]!) < distance(windowUnits[index]!)) index = i;
  }
  while (index < windowUnits.length - 1 && callsPerSecond * windowUnits[index]!.seconds < 1) index++;
  const window = windowUnits[index]!;
  // toPrecision drops float noise (0.1 × 60 is 6.000000000000001) before rounding up.
  const requestsPerUnit = Math.max(1, Math.ceil(Number((callsPerSecond * window.seconds).toPrecision(12))));
  if (requestsPerUnit > 0xffff_ffff) {
    throw new Error(
      `fixedWindowFor: ${requestsPerUnit} per ${window.unit} does not fit requests_per_unit (uint32)`,
    );
  }
  return { unit: window.unit, requestsPerUnit };
}

/**
 * The service's YAML for `config`: a `tenant=<name>` descriptor per tenant with a rateLimit, and
 * under it a `model=<name>` descriptor per model the tenant has a limit on (Envoy sends the
 * descriptors (tenant) and (tenant, model) with every call).
 */
export function rateLimitServiceConfig(config: Config): string {
  const tenants = (config.auth?.tenants ?? []).filter(
    (t) => t.rateLimit !== undefined || t.models.some((g) => g.rateLimit !== undefined),
  );
  const window = (rateLimit: RateLimitConfig) => {
    const limit = fixedWindowFor(rateLimit);
    return { unit: limit.unit, requests_per_unit: limit.requestsPerUnit };
  };
  const doc = new Document({
    domain: rateLimitDomain,
    descriptors: tenants.map((tenant) => {
      const models = tenant.models.filter((g) => g.rateLimit !== undefined);
      return {
        key: tenantDescriptorKey,
        value: tenant.name,
        ...(tenant.rateLimit ? { rate_limit: window(tenant.rateLimit) } : {}),
        ...(models.length > 0
          ? {
              descriptors: models.map((g) => ({
                key: modelDescriptorKey,
                value: g.model,
                rate_limit: window(g.rateLimit!),
              })),
            }
          : {}),
      };
    }),
  });
  doc.commentBefore =
    " Envoy's global rate limit service (envoyproxy/ratelimit), generated from inferencehub.yaml by\n" +
    " xds-server/src/ratelimit: edit that file, not this one.";
  tenants.forEach((tenant, i) => {
    const item = doc.getIn(["descriptors", i], true) as { commentBefore?: string } | undefined;
    if (item) {
      item.commentBefore = tenant.rateLimit
        ? ` ${tenant.name}: ${tenant.rateLimit.callsPerSecond} calls/s, burst ${tenant.rateLimit.burst}`
        : ` ${tenant.name}: limited on some models only`;
    }
  });
  return doc.toString({ lineWidth: 0 });
}
