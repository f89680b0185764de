import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface AuthzMetrics {
  registry: Registry;
  /** result: the gRPC status name in lowercase (ok, unauthenticated, ...); tenant: "" when unknown. */
  decisions: Counter<"result" | "tenant">;
  latency: Histogram<"result">;
  /** Where the model name came from: header, body, none, or why the body gave none. */
  modelSource: Counter<"source">;
  /** Body bytes Envoy sent with Check calls: only calls that name their model in the body send any. */
  bodyBytes: Counter;
  reloads: Counter<"file" | "result">;
  apiKeys: Gauge;
}

/** One registry per server, so two in one process (tests) never share counters. */
export function createAuthzMetrics(): AuthzMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    decisions: new Counter({
      name: "inferencehub_authz_decisions_total",
      help: "Check calls answered, by result (gRPC status) and tenant",
      labelNames: ["result", "tenant"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "inferencehub_authz_check_duration_seconds",
      help: "Time to decide one Check call in ext-authz (Envoy adds the round trip)",
      labelNames: ["result"],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    modelSource: new Counter({
      name: "inferencehub_authz_model_source_total",
      help: "Where decided calls named their model: header, body, none, or why the body gave none",
      labelNames: ["source"],
      registers: [registry],
    }),
    bodyBytes: new Counter({
      name: "inferencehub_authz_body_bytes_total",
      help: "Request body bytes received with Check calls (the first bytes of calls without a model header)",
      registers: [registry],
    }),
    reloads: new Counter({
      name: "inferencehub_authz_reloads_total",
      help: "Loads of the config, keys and JWKS files, by file and result (applied, refused)",
      labelNames: ["file", "result"],
      registers: [registry],
    }),
    apiKeys: new Gauge({
      name: "inferencehub_authz_api_keys",
      help: "API keys in force",
      registers: [registry],
    }),
  };
}
