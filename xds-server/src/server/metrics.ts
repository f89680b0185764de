import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface XdsMetrics {
  connected: Gauge<"group" | "transport">;
  pushes: Counter<"kind" | "transport">;
  pushBytes: Counter<"kind" | "transport">;
  pushLatency: Histogram<"kind" | "transport">;
  nacks: Counter<"kind" | "transport">;
  snapshotBuild: Histogram<never>;
  configReloads: Counter<"result">;
  snapshotsRefused: Counter<"group">;
  versionsDown: Gauge<"model">;
}

export function createXdsMetrics(registry: Registry): XdsMetrics {
  const registers = [registry];
  return {
    connected: new Gauge({
      name: "inferencehub_xds_connected_clients",
      help: "ADS streams open now, by node group and transport",
      labelNames: ["group", "transport"],
      registers,
    }),
    pushes: new Counter({
      name: "inferencehub_xds_pushes_total",
      help: "Discovery responses sent",
      labelNames: ["kind", "transport"],
      registers,
    }),
    pushBytes: new Counter({
      name: "inferencehub_xds_push_bytes_total",
      help: "Bytes of resources in discovery responses sent",
      labelNames: ["kind", "transport"],
      registers,
    }),
    pushLatency: new Histogram({
      name: "inferencehub_xds_push_latency_seconds",
      help: "From a snapshot being accepted to a client's ACK of it",
      labelNames: ["kind", "transport"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    nacks: new Counter({
      name: "inferencehub_xds_nacks_total",
      help: "Discovery responses a client rejected",
      labelNames: ["kind", "transport"],
      registers,
    }),
    snapshotBuild: new Histogram({
      name: "inferencehub_xds_snapshot_build_seconds",
      help: "Time to build all snapshots from a config: IR, translation, encoding",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    configReloads: new Counter({
      name: "inferencehub_xds_config_reloads_total",
      help: "Config loads, by result (applied, unchanged, invalid)",
      labelNames: ["result"],
      registers,
    }),
    snapshotsRefused: new Counter({
      name: "inferencehub_xds_snapshots_refused_total",
      help: "Snapshots not published because their resources are inconsistent (a dangling reference, a duplicate, an orphan); the last good one keeps serving",
      labelNames: ["group"],
      registers,
    }),
    versionsDown: new Gauge({
      name: "inferencehub_model_versions_down",
      help: "Versions of a model that take unpinned calls by the config but have no node up to serve them (the split is degraded while above 0)",
      labelNames: ["model"],
      registers,
    }),
  };
}
