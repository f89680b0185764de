/**
 * What a rollout reads from Envoy: per version cluster, calls and failures as the grpc_stats
 * filter counts them (a gRPC error is an HTTP 200, so upstream_rq_5xx does not see it), and the
 * upstream latency histogram's p99. Shared by the control plane's rollout engine (which reads
 * every connected Envoy's admin) and anything else that reads one Envoy's /stats.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/grpc_stats_filter
 */
export interface ClusterSample {
  total: number;
  failures: number;
  /** Cumulative p99 of upstream_rq_time in ms, undefined before the first call. */
  p99Ms: number | undefined;
}

interface StatsJson {
  stats?: (
    | { name: string; value: number }
    | {
        histograms: {
          computed_quantiles?: { name: string; values: ({ cumulative?: number | null } | null)[] }[];
          supported_quantiles?: number[];
        };
      }
  )[];
}

const GRPC_PREFIX = "grpc.inference.GRPCInferenceService.ModelInfer";

/** The admin path (with its filter) that returns the stats a ClusterSample is made of. */
export function clusterStatsPath(cluster: string): string {
  const filter = encodeURIComponent(
    `^cluster\\.${cluster.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(grpc|upstream_rq_time)`,
  );
  return `/stats?format=json&filter=${filter}`;
}

/** One Envoy's answer to clusterStatsPath() as numbers. */
export function parseClusterStats(json: unknown): ClusterSample {
  let total = 0;
  let failures = 0;
  let p99: number | undefined;
  for (const s of (json as StatsJson).stats ?? []) {
    if ("name" in s) {
      if (s.name.endsWith(`${GRPC_PREFIX}.total`)) total += s.value;
      if (s.name.endsWith(`${GRPC_PREFIX}.failure`)) failures += s.value;
    } else if ("histograms" in s) {
      const quantiles = s.histograms.supported_quantiles ?? [];
      const i = quantiles.indexOf(99);
      for (const h of s.histograms.computed_quantiles ?? []) {
        const v = i >= 0 ? h.values[i]?.cumulative : undefined;
        if (h.name.endsWith("upstream_rq_time") && v !== undefined && v !== null) p99 = Math.max(p99 ?? 0, v);
      }
    }
  }
  return { total, failures, p99Ms: p99 };
}

/** Reads one Envoy's admin (http://host:port) for the cluster's sample. */
export async function fetchClusterSample(
  adminUrl: string,
  cluster: string,
  timeoutMs = 2_000,
): Promise<ClusterSample> {
  const res = await fetch(`${adminUrl.replace(/\/$/, "")}${clusterStatsPath(cluster)}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`Envoy admin ${adminUrl} answered ${res.status}`);
  return parseClusterStats(await res.json());
}

/** Sums the cluster's counters over every Envoy (each admin URL); p99 is the highest. */
export async function sampleCluster(adminUrls: readonly string[], cluster: string): Promise<ClusterSample> {
  let total = 0;
  let failures = 0;
  let p99: number | undefined;
  for (const admin of adminUrls) {
    const s = await fetchClusterSample(admin, cluster);
    total += s.total;
    failures += s.failures;
    if (s.p99Ms !== undefined) p99 = Math.max(p99 ?? 0, s.p99Ms);
  }
  return { total, failures, p99Ms: p99 };
}
