/**
 * The rollout's decision, as a pure function of what the driver observed: what to do now with one
 * rollout (wait, apply a step, hold, roll back, complete, fail, abort). No clock, no I/O: the
 * driver (driver.ts) gathers the inputs and carries the decision out; decide.test.ts covers it.
 *
 * Fail safe: a gate whose metric is missing holds, never promotes. Evidence of failure rolls back
 * at once, even from a partial sample (one Envoy answering with errors is enough); a promotion
 * needs every gate's metric from every Envoy connected.
 */
import { rescale } from "@inferencehub/contracts/admin-api";
import type { Rollout } from "../../../gen/inference/inferencehub/admin/v1/admin.js";

export const LIVE_STATES = ["waiting-ready", "running", "holding"] as const;
export const ENDED_STATES = ["completed", "rolled-back", "aborted", "failed"] as const;
export type RolloutState = (typeof LIVE_STATES)[number] | (typeof ENDED_STATES)[number];

export const isLive = (r: Pick<Rollout, "state">): boolean =>
  (LIVE_STATES as readonly string[]).includes(r.state);

/** Defaults for the spec's zero values. */
export const DEFAULT_READY_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_HOLD_INTERVALS = 10;

export const readyTimeoutOf = (r: Rollout): number => r.readyTimeoutMs || DEFAULT_READY_TIMEOUT_MS;
export const maxHoldOf = (r: Rollout): number => r.maxHoldMs || DEFAULT_HOLD_INTERVALS * r.intervalMs;

/** The new version's calls during the step, summed over every Envoy that answered. */
export interface GateSample {
  calls: number;
  failures: number;
  /** The highest p99 (ms) over the Envoys that have one; undefined when none has. */
  p99Ms: number | undefined;
  /** Why the sample is not whole: an Envoy without an admin port, a failed read, no Envoy. */
  missing: string[];
}

/** The health prober's view of the new version's nodes. */
export interface VersionHealth {
  healthy: number;
  /** Not probed yet (a control plane just started). */
  unknown: number;
  /** Every node of the version (UNHEALTHY and DRAINING are the rest). */
  total: number;
}

export interface DecideInput {
  rollout: Rollout;
  now: number;
  /** When the rollout started (ms), for the ready timeout. */
  startedAt: number;
  /** When the step applied began (ms). */
  stepStartedAt: number;
  /** Since when the step holds (ms), undefined when it does not. */
  holdingSince: number | undefined;
  ready: { ready: boolean; detail: string };
  health: VersionHealth;
  /** Undefined before the first step. */
  sample: GateSample | undefined;
  /** Every Envoy holds the config now serving (the step's weights). */
  synced: boolean;
  abortRequested: boolean;
}

export type Decision =
  | { action: "abort"; reason: string }
  | { action: "wait"; reason: string }
  | { action: "fail"; reason: string }
  /** Apply steps[step] (an index: rollout.step is its number, index + 1). */
  | { action: "step"; step: number; reason: string }
  | { action: "continue"; reason: string }
  | { action: "hold"; reason: string }
  | { action: "rollback"; reason: string }
  | { action: "complete"; reason: string };

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

export function decide(input: DecideInput): Decision {
  const { rollout: r, now, health, sample } = input;
  if (input.abortRequested) return { action: "abort", reason: "aborted" };
  if (r.state === "waiting-ready") {
    if (input.ready.ready) return { action: "step", step: 0, reason: `${r.toVersion} is ready` };
    if (now - input.startedAt >= readyTimeoutOf(r))
      return {
        action: "fail",
        reason: `${r.toVersion} was not ready after ${secs(readyTimeoutOf(r))} (${input.ready.detail}); the weights were not touched`,
      };
    return { action: "wait", reason: `waiting for ${r.toVersion} to be ready: ${input.ready.detail}` };
  }

  // Evidence of failure, at any time during a step.
  if (health.healthy === 0 && health.unknown === 0)
    return {
      action: "rollback",
      reason: `${r.toVersion} has no healthy node (${health.total} node(s), none HEALTHY in the health prober's view)`,
    };
  const s = sample ?? { calls: 0, failures: 0, p99Ms: undefined, missing: ["no sample taken yet"] };
  if (s.calls > 0 && s.calls >= r.minCalls) {
    const rate = s.failures / s.calls;
    if (rate > r.maxErrorRate)
      return {
        action: "rollback",
        reason: `error rate of ${r.toVersion} ${pct(rate)} (${s.failures}/${s.calls} calls) > ${pct(r.maxErrorRate)}`,
      };
    if (r.maxP99Ms > 0 && s.p99Ms !== undefined && s.p99Ms > r.maxP99Ms)
      return { action: "rollback", reason: `p99 of ${r.toVersion} ${s.p99Ms} ms > ${r.maxP99Ms} ms` };
  }

  const elapsed = now - input.stepStartedAt;
  if (elapsed < r.intervalMs)
    return { action: "continue", reason: `step runs ${secs(elapsed)} of ${secs(r.intervalMs)}` };

  // The interval is over: promote only when every gate has its metric.
  const holds: string[] = [];
  if (!input.synced) holds.push("not every Envoy has ACKed the step's config yet");
  holds.push(...s.missing);
  if (health.healthy === 0) holds.push(`the health of ${r.toVersion}'s nodes is not known yet`);
  if (s.calls < r.minCalls)
    holds.push(`${s.calls} call(s) on ${r.toVersion} this step, fewer than min_calls ${r.minCalls}`);
  if (r.maxP99Ms > 0 && s.p99Ms === undefined) holds.push(`no p99 of ${r.toVersion} yet (max_p99_ms is set)`);
  if (holds.length > 0) {
    const reason = `holding: ${holds.join("; ")}`;
    if (input.holdingSince !== undefined && now - input.holdingSince >= maxHoldOf(r))
      return { action: "rollback", reason: `held longer than ${secs(maxHoldOf(r))} (${reason})` };
    return { action: "hold", reason };
  }
  const passed = `step ${r.step}/${r.steps.length} passed: ${s.calls} calls, error rate ${pct(
    s.failures / Math.max(1, s.calls),
  )}${s.p99Ms !== undefined ? `, p99 ${s.p99Ms} ms` : ""}`;
  if (r.step >= r.steps.length) return { action: "complete", reason: passed };
  return { action: "step", step: r.step, reason: passed };
}

/** The weights of one step: `to` gets `percent`, the others keep their proportions in the rest. */
export function stepWeights(
  original: Record<string, number>,
  to: string,
  percent: number,
): Record<string, number> {
  const others = Object.keys(original).filter((v) => v !== to);
  const scaled = rescale(
    others.map((v) => original[v] ?? 0),
    100 - percent,
  );
  return { ...Object.fromEntries(others.map((v, i) => [v, scaled[i] ?? 0])), [to]: percent };
}

/**
 * `weights` over exactly `versions` (the model's versions now): versions gone are dropped, new
 * ones get 0, and the rest is scaled back to 100 when something was dropped.
 */
export function fitWeights(
  weights: Record<string, number>,
  versions: readonly string[],
): Record<string, number> {
  const kept = versions.map((v) => weights[v] ?? 0);
  const sum = kept.reduce((a, b) => a + b, 0);
  const fitted = sum === 100 ? kept : rescale(kept, 100);
  return Object.fromEntries(versions.map((v, i) => [v, fitted[i] ?? 0]));
}

/** Why the steps cannot be a rollout's, or undefined when they can. */
export function stepsProblem(steps: readonly number[]): string | undefined {
  if (steps.length === 0) return "must name at least one step";
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100))
    return `must be whole percents from 1 to 100, got ${steps.join(",")}`;
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) return `must increase, got ${steps.join(",")}`;
  if (steps.at(-1) !== 100) return `must end at 100, got ${steps.join(",")}`;
  return undefined;
}
