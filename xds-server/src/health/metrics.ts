import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { HealthStatus } from "../ir/index.js";

export const healthStatuses: readonly HealthStatus[] = ["HEALTHY", "UNHEALTHY", "DRAINING", "UNKNOWN"];

export interface HealthMetrics {
  /** 1 for the current status of each (node, model, version), 0 for the other three. */
  status: Gauge<"node" | "model" | "version" | "status">;
  probeDuration: Histogram<"probe">;
  /** RPC errors and negative answers (NOT_SERVING, not ready), by gRPC code name or answer. */
  probeFailures: Counter<"node" | "probe" | "reason">;
  changesEmitted: Counter<never>;
}

export function createHealthMetrics(registry: Registry): HealthMetrics {
  const registers = [registry];
  return {
    status: new Gauge({
      name: "inferencehub_health_status",
      help: "Prober status of each node, model and version: 1 for the current status, 0 for the others",
      labelNames: ["node", "model", "version", "status"],
      registers,
    }),
    probeDuration: new Histogram({
      name: "inferencehub_health_probe_duration_seconds",
      help: "Latency of one health probe RPC, failures and timeouts included",
      labelNames: ["probe"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    probeFailures: new Counter({
      name: "inferencehub_health_probe_failures_total",
      help: "Health probes that failed or answered not serving / not ready",
      labelNames: ["node", "probe", "reason"],
      registers,
    }),
    changesEmitted: new Counter({
      name: "inferencehub_health_changes_emitted_total",
      help: "Coalesced health change emissions (each may carry many changes)",
      registers,
    }),
  };
}

export function setStatusGauge(
  metrics: HealthMetrics,
  labels: { node: string; model: string; version: string },
  current: HealthStatus | undefined,
): void {
  for (const status of healthStatuses) {
    if (current === undefined) metrics.status.remove({ ...labels, status });
    else metrics.status.set({ ...labels, status }, status === current ? 1 : 0);
  }
}
