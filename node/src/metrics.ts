import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Capacity } from "./model-repository.js";

export interface NodeMetrics {
  registry: Registry;
  requests: Counter<"model" | "version">;
  withCredentials: Counter<"model" | "version">;
  errors: Counter<"model" | "version" | "code">;
  latency: Histogram<"model" | "version">;
  queueDepth: Gauge<"model" | "version">;
  inflight: Gauge<"model" | "version">;
}

/** One registry per node, so several nodes in one process (tests) never share counters. */
export function createNodeMetrics(node: string): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  collectDefaultMetrics({ register: registry });
  const labelNames = ["model", "version"] as const;
  return {
    registry,
    requests: new Counter({
      name: "inferencehub_node_requests_total",
      help: "ModelInfer calls received (each ModelStreamInfer message counts as one), per model and version",
      labelNames,
      registers: [registry],
    }),
    withCredentials: new Counter({
      name: "inferencehub_node_requests_with_credentials_total",
      help: "ModelInfer calls that arrived with an authorization header (a gateway must remove it)",
      labelNames,
      registers: [registry],
    }),
    errors: new Counter({
      name: "inferencehub_node_errors_total",
      help: "ModelInfer calls that ended with a non-OK gRPC status, by status name",
      labelNames: [...labelNames, "code"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "inferencehub_node_request_duration_seconds",
      help: "ModelInfer latency on the node, queueing included",
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "inferencehub_node_queue_depth",
      help: "ModelInfer calls waiting for a free inference slot",
      labelNames,
      registers: [registry],
    }),
    inflight: new Gauge({
      name: "inferencehub_node_inflight",
      help: "ModelInfer calls running on the model",
      labelNames,
      registers: [registry],
    }),
  };
}

/**
 * The repository's capacity as gauges read at scrape time (the same figures as RepositoryIndex's
 * headers), so a dashboard sees a node filling up without calling the repository API.
 */
export function registerCapacityMetrics(registry: Registry, capacity: () => Capacity): void {
  new Gauge({
    name: "inferencehub_node_model_versions",
    help: "Model versions loaded or being loaded (what --max-models counts)",
    registers: [registry],
    collect() {
      this.set(capacity().models);
    },
  });
  new Gauge({
    name: "inferencehub_node_model_versions_max",
    help: "The node's --max-models (0: no limit)",
    registers: [registry],
    collect() {
      this.set(capacity().maxModels ?? 0);
    },
  });
}
