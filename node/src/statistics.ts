/**
 * Triton's statistics extension (ModelStatistics): what the node counts per model version, in
 * Triton's terms. Durations are cumulative nanoseconds; a count says how many calls they cover.
 * https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_statistics.md
 */
import type { ModelStatistics, StatisticDuration } from "../../gen/inference/inference/grpc_service.js";

/** The phases of one inference, as Triton names them. */
export type Phase = "queue" | "computeInput" | "computeInfer" | "computeOutput";

interface VersionStats {
  lastInference: number;
  inferenceCount: number;
  executionCount: number;
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  computeInput: StatisticDuration;
  computeInfer: StatisticDuration;
  computeOutput: StatisticDuration;
}

const zero = (): StatisticDuration => ({ count: 0, ns: 0 });

function fresh(): VersionStats {
  return {
    lastInference: 0,
    inferenceCount: 0,
    executionCount: 0,
    success: zero(),
    fail: zero(),
    queue: zero(),
    computeInput: zero(),
    computeInfer: zero(),
    computeOutput: zero(),
  };
}

const nsSince = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs);

/** One inference being timed: each phase once, then `succeeded` or `failed`. */
export interface InferenceTimer {
  /** Starts timing a phase; the returned function ends it. */
  phase(name: Phase): () => void;
  succeeded(): void;
  failed(): void;
}

export class ModelStatisticsStore {
  readonly #byVersion = new Map<string, VersionStats>();

  #get(model: string, version: string): VersionStats {
    const key = `${model}/${version}`;
    let stats = this.#byVersion.get(key);
    if (!stats) {
      stats = fresh();
      this.#byVersion.set(key, stats);
    }
    return stats;
  }

  /** Starts timing one request for a loaded version (from when it was received). */
  start(model: string, version: string): InferenceTimer {
    const stats = this.#get(model, version);
    const began = process.hrtime.bigint();
    let ended = false;
    const end = (outcome: StatisticDuration, ok: boolean) => {
      if (ended) return;
      ended = true;
      outcome.count += 1;
      outcome.ns += nsSince(began);
      if (!ok) return;
      // The node runs each request on its own (no batching): one inference, one execution.
      stats.inferenceCount += 1;
      stats.executionCount += 1;
      stats.lastInference = Date.now();
    };
    return {
      phase: (name) => {
        const startedAt = process.hrtime.bigint();
        let done = false;
        return () => {
          if (done) return;
          done = true;
          stats[name].count += 1;
          stats[name].ns += nsSince(startedAt);
        };
      },
      succeeded: () => end(stats.success, true),
      failed: () => end(stats.fail, false),
    };
  }

  /** The statistics of one version, zero when it has served nothing yet. */
  report(model: string, version: string): ModelStatistics {
    const s = this.#byVersion.get(`${model}/${version}`) ?? fresh();
    const copy = (d: StatisticDuration): StatisticDuration => ({ count: d.count, ns: d.ns });
    return {
      name: model,
      version,
      lastInference: s.lastInference,
      inferenceCount: s.inferenceCount,
      executionCount: s.executionCount,
      inferenceStats: {
        success: copy(s.success),
        fail: copy(s.fail),
        queue: copy(s.queue),
        computeInput: copy(s.computeInput),
        computeInfer: copy(s.computeInfer),
        computeOutput: copy(s.computeOutput),
      },
    };
  }
}
