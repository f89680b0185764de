/**
 * Rate limits: one token bucket per tenant, in this process's memory, in auth.mode ext-authz only.
 * Each ext-authz replica counts on its own, so N replicas behind the Envoys let a tenant through
 * at up to N times its limit; all Envoys that share one replica share its buckets
 * (ext-authz/README.md). In native mode Envoy limits every call, those ext-authz allows included,
 * so the limiter here is `unlimited`: a call is never counted twice.
 */
import type { Clock } from "@inferencehub/contracts/clock";
import type { AuthMode, RateLimitConfig, TenantConfig } from "@inferencehub/contracts/config";

export type Take = { ok: true } | { ok: false; retryAfterMs: number };

export interface TokenBucket {
  readonly limit: RateLimitConfig;
  /** Takes one token at time `nowMs` (milliseconds, any monotonic origin). */
  take(nowMs: number): Take;
}

/** Starts full: a tenant's first `burst` calls go through at once. */
export function createTokenBucket(limit: RateLimitConfig, nowMs: number): TokenBucket {
  let tokens = limit.burst;
  let updatedAt = nowMs;
  return {
    limit,
    take(now) {
      // A clock that steps back adds nothing rather than taking tokens away.
      const elapsedMs = Math.max(0, now - updatedAt);
      updatedAt = Math.max(updatedAt, now);
      tokens = Math.min(limit.burst, tokens + (elapsedMs / 1000) * limit.callsPerSecond);
      if (tokens >= 1) {
        tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((1 - tokens) / limit.callsPerSecond) * 1000) };
    },
  };
}

export interface RateLimiter {
  /** Tenants without a limit always get `{ ok: true }`. */
  take(tenant: string): Take;
  /**
   * New limits from a config edit: a tenant whose limit is unchanged keeps its bucket (an edit
   * elsewhere in the file must not hand everyone a fresh burst); a changed limit starts full.
   */
  update(tenants: readonly TenantConfig[]): void;
}

export function createRateLimiter(clock: Pick<Clock, "now">): RateLimiter {
  let buckets = new Map<string, TokenBucket>();
  return {
    take: (tenant) => buckets.get(tenant)?.take(clock.now()) ?? { ok: true },
    update: (tenants) => {
      const next = new Map<string, TokenBucket>();
      for (const tenant of tenants) {
        if (!tenant.rateLimit) continue;
        const old = buckets.get(tenant.name);
        const same =
          old?.limit.callsPerSecond === tenant.rateLimit.callsPerSecond &&
          old.limit.burst === tenant.rateLimit.burst;
        next.set(tenant.name, same && old ? old : createTokenBucket({ ...tenant.rateLimit }, clock.now()));
      }
      buckets = next;
    },
  };
}

/** Who enforces the tenants' `rateLimit`s: "envoy" (auth.mode native) or "ext-authz" (auth.mode ext-authz). */
export type RateLimitEnforcer = "envoy" | "ext-authz";

export function rateLimitEnforcer(mode: AuthMode): RateLimitEnforcer {
  return mode === "ext-authz" ? "ext-authz" : "envoy";
}

/** Takes nothing and refuses nothing: ext-authz's limiter while Envoy enforces the limits. */
export const unlimited: RateLimiter = { take: () => ({ ok: true }), update: () => undefined };
