/**
 * A progressive rollout: the new version's weight goes through the steps; after each step has
 * run for the interval, its error rate and p99 latency on Envoy decide whether to go on. Past a
 * threshold, the weights go back to where they were. Every step is one admin edit, so an
 * interrupted rollout leaves a consistent weight, which it states.
 */
import { rescale } from "@inferencehub/contracts/admin-api";
import type { AdminApiModel } from "@inferencehub/contracts/admin-api";
import type { AdminApi } from "./api.js";
import type { ClusterSample } from "./envoy-stats.js";

export interface RolloutOptions {
  model: string;
  to: string;
  /** Percent of traffic on the new version at each step, increasing, ending at 100. */
  steps: number[];
  intervalMs: number;
  /** Roll back when failures / calls on the new version exceed this during a step. */
  maxErrorRate: number;
  /** Roll back when the new version's p99 exceeds this (ms); undefined: latency not checked. */
  maxP99Ms: number | undefined;
  /**
   * A step with fewer calls than this on the new version cannot be judged: it waits longer, up to
   * 3 intervals, then rolls back (a gate without its data holds, never passes).
   */
  minCalls: number;
}

export interface RolloutDeps {
  api: AdminApi;
  /** Counters of the version's cluster on every Envoy. */
  sample: (cluster: string) => Promise<ClusterSample>;
  /** Resolves when every Envoy has ACKed the config now serving. */
  waitForSync: () => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  /** Set when the user interrupts; checked between waits. */
  interrupted: () => boolean;
}

export type RolloutResult =
  | { outcome: "completed"; weights: Record<string, number> }
  | { outcome: "rolled-back"; reason: string; weights: Record<string, number> }
  | { outcome: "interrupted"; weights: Record<string, number> };

const weightsOf = (m: AdminApiModel) => Object.fromEntries(m.versions.map((v) => [v.version, v.weight ?? 0]));

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

export function parseSteps(text: string): number[] {
  const steps = text.split(",").map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100))
    throw new Error(`--steps: '${text}' must be whole percents from 1 to 100, e.g. 5,25,50,100`);
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) throw new Error(`--steps: '${text}' must increase`);
  if (steps.at(-1) !== 100) throw new Error(`--steps: '${text}' must end at 100`);
  return steps;
}

export async function rollout(opts: RolloutOptions, deps: RolloutDeps): Promise<RolloutResult> {
  const { api, log } = deps;
  const read = () => api.get<{ configVersion: string; model: AdminApiModel }>(`/v1/models/${opts.model}`);
  const first = await read();
  if (!first.model.versions.some((v) => v.version === opts.to)) {
    throw new Error(`model '${opts.model}' has no version '${opts.to}'; add it first (hubctl add-version)`);
  }
  const original = weightsOf(first.model);
  const cluster = `${opts.model}~${opts.to}`;
  const setWeights = async (weights: Record<string, number>) => {
    const current = await read();
    await api.send("PUT", `/v1/models/${opts.model}/weights`, {
      base_version: current.configVersion,
      weights,
    });
    await deps.waitForSync();
  };
  let current = original;
  for (const [i, percent] of opts.steps.entries()) {
    const weights = stepWeights(original, opts.to, percent);
    log(`step ${i + 1}/${opts.steps.length}: ${opts.to} at ${percent}% (${fmt(weights)})`);
    await setWeights(weights);
    current = weights;
    if (percent === 100) break;
    const before = await deps.sample(cluster);
    let after = before;
    for (let waited = 0; waited < 3 * opts.intervalMs;) {
      await deps.sleep(Math.min(1000, opts.intervalMs));
      waited += Math.min(1000, opts.intervalMs);
      if (deps.interrupted()) {
        log(`interrupted: weights stay at ${fmt(current)}`);
        return { outcome: "interrupted", weights: current };
      }
      after = await deps.sample(cluster);
      if (waited >= opts.intervalMs && after.total - before.total >= opts.minCalls) break;
      const rate = (after.failures - before.failures) / Math.max(1, after.total - before.total);
      // Fail fast: a version failing most of its calls need not wait out the interval.
      if (after.total - before.total >= opts.minCalls && rate > opts.maxErrorRate) break;
    }
    const calls = after.total - before.total;
    const errorRate = (after.failures - before.failures) / Math.max(1, calls);
    log(
      `  ${calls} calls on ${opts.to}, error rate ${(errorRate * 100).toFixed(2)}%, p99 ${after.p99Ms?.toFixed(1) ?? "n/a"} ms`,
    );
    // A step that cannot be judged does not pass: without the calls, nothing says the version works.
    const reason =
      calls < opts.minCalls
        ? `${calls} calls on ${opts.to} in ${(3 * opts.intervalMs) / 1000} s, fewer than --min-calls ${opts.minCalls}: too little traffic to judge the step`
        : errorRate > opts.maxErrorRate
          ? `error rate ${(errorRate * 100).toFixed(2)}% > ${(opts.maxErrorRate * 100).toFixed(2)}%`
          : opts.maxP99Ms !== undefined && after.p99Ms !== undefined && after.p99Ms > opts.maxP99Ms
            ? `p99 ${after.p99Ms.toFixed(1)} ms > ${opts.maxP99Ms} ms`
            : undefined;
    if (reason) {
      log(`rolling back: ${reason}; weights back to ${fmt(original)}`);
      await setWeights(original);
      return { outcome: "rolled-back", reason, weights: original };
    }
  }
  log(`rollout complete: ${fmt(current)}`);
  return { outcome: "completed", weights: current };
}

function fmt(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([v, w]) => `${v}=${w}`)
    .join(" ");
}
