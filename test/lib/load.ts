/**
 * Client-side load for routing tests: many calls at a fixed concurrency, each recorded with the
 * version and node that answered, and every failure kept with its status.
 */
import type { ServiceError } from "@grpc/grpc-js";
import type { ModelInferRequest } from "../../gen/inference/inference/grpc_service.js";
import type { InferClient } from "../../scripts/lib/infer-client.js";

export interface CallRecord {
  version: string;
  node: string;
  ok: boolean;
  code?: number;
  details?: string;
  /** When the call was sent and when it ended (Date.now()). */
  startedAt: number;
  at: number;
}

export interface LoadStats {
  calls: CallRecord[];
  failures: CallRecord[];
  byVersion(): Map<string, number>;
}

function stats(calls: CallRecord[]): LoadStats {
  return {
    calls,
    failures: calls.filter((c) => !c.ok),
    byVersion: () => {
      const m = new Map<string, number>();
      for (const c of calls) if (c.ok) m.set(c.version, (m.get(c.version) ?? 0) + 1);
      return m;
    },
  };
}

async function one(
  client: InferClient,
  request: ModelInferRequest,
  metadata: Record<string, string>,
): Promise<CallRecord> {
  const startedAt = Date.now();
  try {
    const { response, headers } = await client.infer(request, { metadata, deadlineMs: 10_000 });
    return {
      version: response.modelVersion,
      node: headers["x-inferencehub-node"] ?? "",
      ok: true,
      startedAt,
      at: Date.now(),
    };
  } catch (err) {
    const e = err as ServiceError;
    return { version: "", node: "", ok: false, code: e.code, details: e.details, startedAt, at: Date.now() };
  }
}

/** `total` calls, `concurrency` in flight. */
export async function callMany(
  client: InferClient,
  opts: {
    total: number;
    concurrency: number;
    request: ModelInferRequest;
    metadata: Record<string, string>;
    maxFailures?: number;
  },
): Promise<LoadStats> {
  const calls: CallRecord[] = [];
  let started = 0;
  let failures = 0;
  // A broken path fails every call: stop early rather than wait out thousands of deadlines.
  const maxFailures = opts.maxFailures ?? 20;
  const worker = async () => {
    while (started < opts.total && failures < maxFailures) {
      started++;
      const call = await one(client, opts.request, opts.metadata);
      if (!call.ok) failures++;
      calls.push(call);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return stats(calls);
}

export interface RunningLoad {
  /** Calls recorded so far. */
  readonly calls: readonly CallRecord[];
  /** Resolves once at least `n` more calls have finished. */
  more(n: number): Promise<void>;
  stop(): Promise<LoadStats>;
}

/** Calls without pause until stopped: the "continuous load" of edit and failover tests. */
export function startLoad(
  client: InferClient,
  opts: { concurrency: number; request: ModelInferRequest; metadata: Record<string, string> },
): RunningLoad {
  const calls: CallRecord[] = [];
  let running = true;
  const waiters: { target: number; resolve: () => void }[] = [];
  const worker = async () => {
    while (running) {
      calls.push(await one(client, opts.request, opts.metadata));
      for (const w of waiters.filter((w) => calls.length >= w.target)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency }, worker);
  return {
    calls,
    more: (n) => new Promise<void>((resolve) => waiters.push({ target: calls.length + n, resolve })),
    // Idempotent, so a test can also register it for cleanup when an assertion fails first.
    stop: async () => {
      running = false;
      for (const w of waiters.splice(0)) w.resolve();
      await Promise.all(workers);
      return stats(calls);
    },
  };
}
