import assert from "node:assert/strict";
import { test } from "node:test";
import type { TenantConfig } from "@inferencehub/contracts/config";
import {
  createRateLimiter,
  createTokenBucket,
  rateLimitEnforcer,
  unlimited,
  type Take,
} from "./token-bucket.js";

/** `take` at each time, in order: "+" let through, or the retry hint in ms. */
function run(limit: { callsPerSecond: number; burst: number }, times: number[]): (string | number)[] {
  const bucket = createTokenBucket(limit, times[0] ?? 0);
  return times.map((t) => {
    const r: Take = bucket.take(t);
    return r.ok ? "+" : r.retryAfterMs;
  });
}

const cases: {
  name: string;
  limit: { callsPerSecond: number; burst: number };
  times: number[];
  want: (string | number)[];
}[] = [
  {
    name: "a full bucket lets a burst through, then asks to wait one token's time",
    limit: { callsPerSecond: 10, burst: 3 },
    times: [0, 0, 0, 0],
    want: ["+", "+", "+", 100],
  },
  {
    name: "tokens come back at the rate",
    limit: { callsPerSecond: 10, burst: 3 },
    times: [0, 0, 0, 50, 100, 100, 300],
    want: ["+", "+", "+", 50, "+", 100, "+"],
  },
  {
    name: "a long quiet period refills to the burst, not beyond",
    limit: { callsPerSecond: 1, burst: 2 },
    times: [0, 0, 60_000, 60_000, 60_000],
    want: ["+", "+", "+", "+", 1000],
  },
  {
    name: "fractional rates: one call every two seconds",
    limit: { callsPerSecond: 0.5, burst: 1 },
    times: [0, 1000, 2000, 2000],
    want: ["+", 1000, "+", 2000],
  },
  {
    name: "a clock that steps back neither adds nor removes tokens",
    limit: { callsPerSecond: 10, burst: 1 },
    times: [1000, 500, 1050, 1100],
    want: ["+", 100, 50, "+"],
  },
  {
    name: "refused calls take no token",
    limit: { callsPerSecond: 1, burst: 1 },
    times: [0, 10, 20, 30, 1000],
    want: ["+", 990, 980, 970, "+"],
  },
];

for (const { name, limit, times, want } of cases) {
  test(`token bucket: ${name}`, () => assert.deepEqual(run(limit, times), want));
}

const tenant = (name: string, callsPerSecond?: number, burst = 1): TenantConfig => ({
  name,
  models: [{ model: "*" }],
  repository: false,
  ...(callsPerSecond === undefined ? {} : { rateLimit: { callsPerSecond, burst } }),
});

test("rate limiter: one bucket per tenant; a tenant without a limit is never limited", () => {
  let now = 0;
  const limiter = createRateLimiter({ now: () => now });
  limiter.update([tenant("a", 1), tenant("b", 1), tenant("free")]);
  assert.deepEqual(limiter.take("a"), { ok: true });
  assert.deepEqual(limiter.take("a"), { ok: false, retryAfterMs: 1000 });
  assert.deepEqual(limiter.take("b"), { ok: true }, "a's calls do not drain b's bucket");
  for (let i = 0; i < 100; i++) assert.deepEqual(limiter.take("free"), { ok: true });
  assert.deepEqual(limiter.take("unknown"), { ok: true });
  now = 1000;
  assert.deepEqual(limiter.take("a"), { ok: true });
});

test("rate limiter: an edit keeps unchanged buckets, restarts changed ones, drops removed ones", () => {
  const now = 0;
  const limiter = createRateLimiter({ now: () => now });
  limiter.update([tenant("a", 1), tenant("b", 1)]);
  limiter.take("a");
  limiter.take("b");
  limiter.update([tenant("a", 1), tenant("b", 2, 1)]);
  assert.equal(limiter.take("a").ok, false, "same limit: still empty");
  assert.equal(limiter.take("b").ok, true, "new limit: a new, full bucket");
  limiter.update([tenant("b", 2, 1)]);
  assert.equal(limiter.take("a").ok, true, "a has no limit any more");
});

test("who limits: Envoy in auth.mode native (ext-authz's limiter refuses nothing), ext-authz in mode ext-authz", () => {
  assert.equal(rateLimitEnforcer("native"), "envoy");
  assert.equal(rateLimitEnforcer("ext-authz"), "ext-authz");
  unlimited.update([
    { name: "acme", models: [], repository: false, rateLimit: { callsPerSecond: 1, burst: 1 } },
  ]);
  for (let i = 0; i < 5; i++) assert.deepEqual(unlimited.take("acme"), { ok: true });
});
