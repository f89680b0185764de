/**
 * The health prober: every interval (plus jitter) each node gets one round of probes over its
 * own long-lived connection: grpc.health.v1 Health/Check (service ""), ServerReady, and
 * ModelReady for each model version the config places on it, in parallel, each with a deadline.
 * Verdicts go to the health table, which applies the thresholds and emits coalesced changes.
 *
 * Why periodic unary probes and not grpc.health.v1 Watch streams: a Watch only says something
 * when the status changes, so a hung node (SIGSTOP, a wedged event loop, a dead link without a
 * reset) looks exactly like a healthy one that has nothing to say. A unary probe with a deadline
 * turns a hang into a timeout. Watch covers neither ServerReady nor ModelReady either, so a round
 * would need the unary calls anyway; one mechanism is simpler to reason about and to test.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Config } from "@inferencehub/contracts/config";
import { systemClock, type Clock } from "@inferencehub/contracts/clock";
import { createGrpcProbeTransport } from "./grpc-transport.js";
import { createHttpProbeTransport } from "./http-transport.js";
import { createHealthTable } from "./health-table.js";
import { createHealthMetrics, type HealthMetrics } from "./metrics.js";
import { mapLimited } from "./map-limited.js";
import { answered, interpretRound, notImplemented, statusName } from "./round.js";
import { modelKey, probeTargets, sameProbeTargets, type NodeTarget } from "./targets.js";
import type {
  HealthSnapshot,
  HealthTable,
  NodeConnection,
  ProbeKind,
  ProbeResult,
  ProbeTransport,
} from "./types.js";

/** At most one change emission (hence one push) per 200 ms: invisible next to a 2 s interval. */
export const defaultCoalesceWindowMs = 200;

/**
 * After a round that found the node down, the next round comes this soon (not an interval later)
 * until the failures reach the unhealthy threshold: a frozen node is out one timeout after the
 * round that first saw it, not intervals later. Once out, the interval applies again.
 */
export const confirmDelayMs = 100;

/**
 * ModelReady probes in flight per node: enough that a node with a few dozen versions is probed in
 * one go, few enough that one with thousands is not flooded (its round then takes longer).
 */
export const modelProbesInFlight = 16;

/** What a version not probed gets when its node answered neither node-level probe. */
const notProbed: ProbeResult<boolean> = {
  ok: false,
  code: grpcStatus.UNAVAILABLE,
  message: "not probed: the node answered no node-level probe",
};

export interface HealthProberOptions {
  config: Config;
  log: Logger;
  /** The prober's metrics are registered here (once per registry). */
  registry: Registry;
  /** Default: gRPC (createGrpcProbeTransport()), HTTP for REST-only nodes (createHttpProbeTransport()). */
  transport?: ProbeTransport;
  /** Default: systemClock. */
  clock?: Clock;
  /** Uniform in [0, 1), for jitter. Default: Math.random. */
  random?: () => number;
  /** Default: defaultCoalesceWindowMs. */
  coalesceWindowMs?: number;
}

export interface HealthProber extends HealthTable {
  /** Starts probing: every node's first round runs at once. */
  start(): void;
  /**
   * Follows a new config: probes added nodes and model versions (UNKNOWN until probed), forgets
   * removed ones, and keeps the state of the rest. A node whose address changed starts over.
   */
  update(config: Config): void;
  /** Per-node state for the admin /status; JSON-serialisable. */
  snapshot(): HealthSnapshot;
  /** Stops every timer, closes every connection and waits for rounds in flight. Final. */
  stop(): Promise<void>;
}

interface NodeRuntime {
  target: NodeTarget;
  connection: NodeConnection;
  /** The interval the connection was opened for (its reconnect backoff depends on it). */
  connectedForIntervalMs: number;
  cancelTimer: (() => void) | undefined;
  inFlight: Promise<void> | undefined;
  lastStartAt: number | undefined;
  closed: boolean;
  reachable: boolean | null;
  serving: boolean | null;
  lastProbeAt: number | null;
  lastError: string | null;
  condition: "ok" | "draining" | "down" | undefined;
  /** Rounds in a row that found the node down. */
  downRounds: number;
}

/** The most failures in a row any model on the node needs before it is out. */
function unhealthyThreshold(t: NodeTarget): number {
  return Math.max(1, ...t.models.map((m) => m.unhealthyThreshold));
}

export function createHealthProber(options: HealthProberOptions): HealthProber {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const transport = options.transport ?? byProtocol(createGrpcProbeTransport(), createHttpProbeTransport());
  const log = options.log;
  const metrics = createHealthMetrics(options.registry);
  const table = createHealthTable({
    clock,
    coalesceWindowMs: options.coalesceWindowMs ?? defaultCoalesceWindowMs,
    log,
    metrics,
  });
  const runtimes = new Map<string, NodeRuntime>();
  let started = false;
  let stopped = false;

  const connect = (t: NodeTarget) =>
    transport.connect({ node: t.node, address: t.address, protocol: t.protocol, intervalMs: t.intervalMs });

  const nextDelay = (t: NodeTarget) => t.intervalMs * (1 + t.jitter * random());

  const schedule = (rt: NodeRuntime, delayMs: number) => {
    rt.cancelTimer?.();
    rt.cancelTimer = clock.setTimer(delayMs, () => {
      rt.cancelTimer = undefined;
      rt.inFlight = runRound(rt)
        .catch((err: unknown) => {
          // A bug in a round must not stop the node from being probed for good.
          log.error({ err, node: rt.target.node }, "probe round failed");
          if (!rt.closed) schedule(rt, rt.target.intervalMs);
        })
        .finally(() => (rt.inFlight = undefined));
    });
  };

  const runRound = async (rt: NodeRuntime): Promise<void> => {
    if (rt.connectedForIntervalMs !== rt.target.intervalMs) {
      rt.connection.close();
      rt.connection = connect(rt.target);
      rt.connectedForIntervalMs = rt.target.intervalMs;
    }
    const t = rt.target;
    const conn = rt.connection;
    const startedAt = clock.now();
    rt.lastStartAt = startedAt;
    // The node-level probes go first and alone on the node's own terms; the ModelReady probes
    // follow at most modelProbesInFlight at a time, so a node with thousands of versions is not
    // sent thousands of calls at once (which timed out its node-level probes). Once the node
    // has not answered either node-level probe, the versions not probed yet are not: the node's
    // failure decides them all.
    let nodeSilent = false;
    const nodeLevel = Promise.all([
      timed("health_check", () => conn.healthCheck(t.timeoutMs)),
      timed("server_ready", () => conn.serverReady(t.timeoutMs)),
    ]).then((results) => {
      nodeSilent = !results.some(answered);
      return results;
    });
    const [[healthCheck, serverReady], modelResults] = await Promise.all([
      nodeLevel,
      mapLimited(t.models, modelProbesInFlight, (m) =>
        nodeSilent
          ? Promise.resolve(notProbed)
          : timed("model_ready", () => conn.modelReady(m.model, m.serverVersion, m.timeoutMs)),
      ),
    ]);
    if (rt.closed) return;

    const models = new Map<string, ProbeResult<boolean>>();
    t.models.forEach((m, i) => {
      const r = modelResults[i];
      if (r) models.set(modelKey(m.model, m.version), r);
    });
    countFailures(metrics, t.node, healthCheck, serverReady, models.values());
    const verdict = interpretRound({ healthCheck, serverReady, models });
    rt.reachable = verdict.reachable;
    rt.serving = verdict.serving;
    rt.lastError = verdict.nodeError;
    rt.lastProbeAt = clock.now();
    const condition = verdict.nodeError === null ? "ok" : verdict.serving === false ? "draining" : "down";
    if (condition !== rt.condition) {
      const level = condition === "ok" ? "info" : "warn";
      log[level](
        { node: t.node, condition, error: verdict.nodeError ?? undefined },
        "node probe condition changed",
      );
      rt.condition = condition;
    }
    table.record(t.node, verdict);
    rt.downRounds = condition === "down" ? rt.downRounds + 1 : 0;
    const confirming = rt.downRounds > 0 && rt.downRounds < unhealthyThreshold(t);
    // Rounds start at a fixed rate (interval + jitter from the last start), never overlapping:
    // a round that ran into its timeout delays the next one by at most the timeout.
    const delay = Math.max(0, startedAt + nextDelay(rt.target) - clock.now());
    schedule(rt, confirming ? Math.min(delay, confirmDelayMs) : delay);
  };

  const timed = async <T>(probe: ProbeKind, call: () => Promise<ProbeResult<T>>): Promise<ProbeResult<T>> => {
    const start = clock.now();
    const result = await call().catch((err: unknown): ProbeResult<T> => ({
      ok: false,
      code: grpcStatus.UNKNOWN,
      message: `probe transport threw: ${err instanceof Error ? err.message : String(err)}`,
    }));
    metrics.probeDuration.observe({ probe }, (clock.now() - start) / 1000);
    return result;
  };

  const addRuntime = (t: NodeTarget) => {
    const rt: NodeRuntime = {
      target: t,
      connection: connect(t),
      connectedForIntervalMs: t.intervalMs,
      cancelTimer: undefined,
      inFlight: undefined,
      lastStartAt: undefined,
      closed: false,
      reachable: null,
      serving: null,
      lastProbeAt: null,
      lastError: null,
      condition: undefined,
      downRounds: 0,
    };
    runtimes.set(t.node, rt);
    table.setNodeModels(t.node, t.models);
    if (started) schedule(rt, 0);
  };

  const closeRuntime = (rt: NodeRuntime) => {
    rt.closed = true;
    rt.cancelTimer?.();
    rt.cancelTimer = undefined;
    rt.connection.close();
  };

  let updatedFor: Config | undefined;
  const update = (config: Config) => {
    if (stopped) return;
    const unchanged = updatedFor !== undefined && sameProbeTargets(updatedFor, config);
    updatedFor = config;
    if (unchanged) return;
    const targets = probeTargets(config);
    const names = new Set(targets.map((t) => t.node));
    for (const [name, rt] of runtimes) {
      if (names.has(name)) continue;
      closeRuntime(rt);
      runtimes.delete(name);
      table.removeNode(name);
    }
    for (const t of targets) {
      const rt = runtimes.get(t.node);
      if (!rt || rt.target.address !== t.address || rt.target.protocol !== t.protocol) {
        // Another address (or protocol) is another server: nothing known about the old one carries over.
        if (rt) {
          closeRuntime(rt);
          table.removeNode(t.node);
        }
        addRuntime(t);
        continue;
      }
      const intervalChanged = rt.target.intervalMs !== t.intervalMs || rt.target.jitter !== t.jitter;
      rt.target = t;
      table.setNodeModels(t.node, t.models);
      // A waiting timer follows a new interval at once (a 60 s interval cut to 1 s must not
      // wait out the 60 s); a round in flight picks it up when it reschedules.
      if (intervalChanged && rt.cancelTimer && rt.lastStartAt !== undefined) {
        schedule(rt, Math.max(0, rt.lastStartAt + nextDelay(t) - clock.now()));
      }
    }
  };

  update(options.config);

  return {
    view: table.view,
    subscribe: table.subscribe,
    update,
    start() {
      if (started || stopped) return;
      started = true;
      for (const rt of runtimes.values()) schedule(rt, 0);
    },
    snapshot() {
      const out: HealthSnapshot = {};
      for (const [name, rt] of runtimes) {
        out[name] = {
          address: rt.target.address,
          reachable: rt.reachable,
          serving: rt.serving,
          lastProbeAt: rt.lastProbeAt === null ? null : new Date(rt.lastProbeAt).toISOString(),
          lastError: rt.lastError,
          models: table.nodeSnapshot(name),
        };
      }
      return out;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      table.close();
      const inFlight = [...runtimes.values()].map((rt) => rt.inFlight);
      for (const rt of runtimes.values()) closeRuntime(rt);
      await Promise.all(inFlight);
    },
  };
}

function countFailures(
  metrics: HealthMetrics,
  node: string,
  healthCheck: ProbeResult<string>,
  serverReady: ProbeResult<boolean>,
  models: Iterable<ProbeResult<boolean>>,
): void {
  const count = (probe: ProbeKind, reason: string) => metrics.probeFailures.inc({ node, probe, reason });
  // A server without the probe's service (UNIMPLEMENTED) answers so on every round: that is how
  // it is, not a failure, and counting it would hide real failures in a steady climb.
  if (!healthCheck.ok) {
    if (!notImplemented("health_check", healthCheck)) count("health_check", statusName(healthCheck.code));
  } else if (healthCheck.value !== "SERVING") count("health_check", healthCheck.value);
  if (!serverReady.ok) {
    if (!notImplemented("server_ready", serverReady)) count("server_ready", statusName(serverReady.code));
  } else if (!serverReady.value) count("server_ready", "NOT_READY");
  for (const r of models) {
    if (!r.ok) count("model_ready", statusName(r.code));
    else if (!r.value) count("model_ready", "NOT_READY");
  }
}

/** Each node probed in the protocol it speaks. */
function byProtocol(grpc: ProbeTransport, rest: ProbeTransport): ProbeTransport {
  return { connect: (target) => (target.protocol === "rest" ? rest : grpc).connect(target) };
}
