/**
 * What a rollout reads from Envoy: per version cluster, calls and failures as the grpc_stats
 * filter counts them (a gRPC error is an HTTP 200, so upstream_rq_5xx does not see it), and the
 * upstream latency histogram's p99.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/grpc_stats_filter
 */
export interface ClusterSample {
  total: number;
  failures: number;
  /** Cumulative p99 of upstream_rq_time in ms, undefined before the first call. */
  p99Ms: number | undefined;
}

interface StatsJson {
  stats: (
    | { name: string; value: number }
    | {
        histograms: {
          computed_quantiles?: { name: string; values: { cumulative?: number }[] }[];
          supported_quantiles?: number[];
        };
      }
  )[];
}

const GRPC_PREFIX = "grpc.inference.GRPCInferenceService.ModelInfer";

/** Sums the cluster's counters over every Envoy (each admin URL). */
export async function sampleCluster(adminUrls: readonly string[], cluster: string): Promise<ClusterSample> {
  let total = 0;
  let failures = 0;
  let p99: number | undefined;
  for (const admin of adminUrls) {
    const filter = encodeURIComponent(
      `^cluster\\.${cluster.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(grpc|upstream_rq_time)`,
    );
    const res = await fetch(`${admin.replace(/\/$/, "")}/stats?format=json&filter=${filter}`);
    if (!res.ok) throw new Error(`Envoy admin ${admin} answered ${res.status}`);
    const json = (await res.json()) as StatsJson;
    for (const s of json.stats) {
      if ("name" in s) {
        if (s.name.endsWith(`${GRPC_PREFIX}.total`)) total += s.value;
        if (s.name.endsWith(`${GRPC_PREFIX}.failure`)) failures += s.value;
      } else {
        const quantiles = s.histograms.supported_quantiles ?? [];
        const i = quantiles.indexOf(99);
        for (const h of s.histograms.computed_quantiles ?? []) {
          const v = i >= 0 ? h.values[i]?.cumulative : undefined;
          if (h.name.endsWith("upstream_rq_time") && v !== undefined && v !== null)
            p99 = Math.max(p99 ?? 0, v);
        }
      }
    }
  }
  return { total, failures, p99Ms: p99 };
}
