/**
 * The statuses of every (node, model, version) the config names, their threshold counters, and
 * the coalesced change feed. Probing lives in prober.ts; this file only keeps and publishes.
 */
import type { Logger } from "pino";
import type { Clock } from "@inferencehub/contracts/clock";
import type { HealthStatus, HealthView } from "../ir/index.js";
import { createCoalescer } from "./coalescer.js";
import {
  initialEntryState,
  nextEntryState,
  type EntryState,
  type EntryVerdict,
  type Thresholds,
} from "./entry-state.js";
import { setStatusGauge, type HealthMetrics } from "./metrics.js";
import type { ModelVersionTarget } from "./targets.js";
import { modelKey } from "./targets.js";
import type { HealthChange, HealthListener, HealthTable, ModelHealthSnapshot } from "./types.js";

export interface HealthTableOptions {
  clock: Clock;
  /** At most one emission per window. */
  coalesceWindowMs: number;
  log: Logger;
  metrics: HealthMetrics;
}

export interface RoundVerdicts {
  /** Keyed `<model>/<version>`; versions not in the table (removed meanwhile) are ignored. */
  models: ReadonlyMap<string, { verdict: EntryVerdict; error: string | null }>;
}

/** The prober's side of the table. */
export interface MutableHealthTable extends HealthTable {
  /** Makes the node's entries exactly `models`: new ones start UNKNOWN, the others keep their state. */
  setNodeModels(node: string, models: readonly ModelVersionTarget[]): void;
  /** Forgets the node; its versions read UNKNOWN again. */
  removeNode(node: string): void;
  /** Applies one round's verdicts to the node's entries. */
  record(node: string, round: RoundVerdicts): void;
  /** The node's entries for /status, keyed `<model>/<version>`. */
  nodeSnapshot(node: string): Record<string, ModelHealthSnapshot>;
  /** Drops a pending emission; nothing is emitted afterwards. */
  close(): void;
}

interface Entry extends EntryState {
  model: string;
  version: string;
  thresholds: Thresholds;
  lastError: string | null;
}

export function createHealthTable(options: HealthTableOptions): MutableHealthTable {
  const { log, metrics } = options;
  /** node → `<model>/<version>` → entry. */
  const nodes = new Map<string, Map<string, Entry>>();
  /** `<node>/<model>/<version>` → status last emitted; absent = UNKNOWN. */
  const emitted = new Map<string, HealthStatus>();
  const listeners = new Set<HealthListener>();
  let closed = false;

  const fullKey = (node: string, model: string, version: string) => `${node}/${model}/${version}`;

  const view = (): HealthView => {
    const statuses = new Map<string, HealthStatus>();
    for (const [node, entries] of nodes) {
      for (const e of entries.values()) statuses.set(fullKey(node, e.model, e.version), e.status);
    }
    return (node, model, version) => statuses.get(fullKey(node, model, version)) ?? "UNKNOWN";
  };

  const flush = (): boolean => {
    if (closed) return false;
    const changes: HealthChange[] = [];
    for (const [node, entries] of nodes) {
      for (const e of entries.values()) {
        const key = fullKey(node, e.model, e.version);
        const from = emitted.get(key) ?? "UNKNOWN";
        if (from === e.status) continue;
        changes.push({ node, model: e.model, version: e.version, from, to: e.status });
        emitted.set(key, e.status);
      }
    }
    if (changes.length === 0) return false;
    changes.sort((a, b) => cmp(a.node, b.node) || cmp(a.model, b.model) || cmp(a.version, b.version));
    metrics.changesEmitted.inc();
    const event = { changes, view: view() };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        // A subscriber's bug must not stop the others from hearing about a failover.
        log.error({ err }, "health listener threw");
      }
    }
    return true;
  };

  const coalescer = createCoalescer({ windowMs: options.coalesceWindowMs, clock: options.clock, flush });

  const forget = (node: string, e: Entry) => {
    emitted.delete(fullKey(node, e.model, e.version));
    setStatusGauge(metrics, { node, model: e.model, version: e.version }, undefined);
  };

  return {
    view,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setNodeModels(node, models) {
      const entries = nodes.get(node) ?? new Map<string, Entry>();
      nodes.set(node, entries);
      const wanted = new Set(models.map((m) => modelKey(m.model, m.version)));
      for (const [key, e] of entries) {
        if (wanted.has(key)) continue;
        entries.delete(key);
        forget(node, e);
      }
      for (const m of models) {
        const key = modelKey(m.model, m.version);
        const thresholds = { healthyThreshold: m.healthyThreshold, unhealthyThreshold: m.unhealthyThreshold };
        const existing = entries.get(key);
        if (existing) {
          existing.thresholds = thresholds;
          continue;
        }
        entries.set(key, {
          ...initialEntryState,
          model: m.model,
          version: m.version,
          thresholds,
          lastError: null,
        });
        setStatusGauge(metrics, { node, model: m.model, version: m.version }, "UNKNOWN");
      }
    },
    removeNode(node) {
      for (const e of nodes.get(node)?.values() ?? []) forget(node, e);
      nodes.delete(node);
    },
    record(node, round) {
      const entries = nodes.get(node);
      if (!entries || closed) return;
      let changed = false;
      for (const [key, { verdict, error }] of round.models) {
        const e = entries.get(key);
        if (!e) continue;
        const next = nextEntryState(e, verdict, e.thresholds);
        e.consecutiveFailures = next.consecutiveFailures;
        e.consecutiveSuccesses = next.consecutiveSuccesses;
        e.lastError = verdict === "success" ? null : error;
        if (next.status === e.status) continue;
        log.info(
          {
            node,
            model: e.model,
            version: e.version,
            from: e.status,
            to: next.status,
            reason: error ?? undefined,
          },
          "health status changed",
        );
        e.status = next.status;
        setStatusGauge(metrics, { node, model: e.model, version: e.version }, e.status);
        changed = true;
      }
      if (changed) coalescer.notify();
    },
    nodeSnapshot(node) {
      const out: Record<string, ModelHealthSnapshot> = {};
      for (const [key, e] of [...(nodes.get(node) ?? [])].sort(([a], [b]) => cmp(a, b))) {
        out[key] = {
          status: e.status,
          consecutiveFailures: e.consecutiveFailures,
          consecutiveSuccesses: e.consecutiveSuccesses,
          lastError: e.lastError,
        };
      }
      return out;
    },
    close() {
      closed = true;
      coalescer.cancel();
    },
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
