/**
 * The gate metrics from Prometheus, for deployments where the control plane cannot reach Envoy's
 * admin (Compose and Kubernetes keep it on the pod's loopback; Prometheus scrapes Envoy's
 * /stats/prometheus on the stats listener, deploy/prometheus/prometheus.yml). "Every Envoy" is
 * then every target of the Envoy scrape job: one that Prometheus cannot scrape (`up` 0), no target
 * at all, or a query that fails is missing, and the step holds.
 *
 * Names as Envoy 1.40 exports them (grpc_stats' service and method become labels):
 *   envoy_cluster_grpc_ModelInfer_total{envoy_cluster_name="<model>~<version>", ...}
 *   envoy_cluster_grpc_ModelInfer_failure{...}
 *   envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=..., le=...}
 * Prometheus' data is as old as its last scrape (10 s in deploy/): give steps an interval of
 * several scrape intervals.
 */
import type { ClusterSample } from "@inferencehub/contracts/envoy-stats";
import type { ClusterSampler, EnvoySamples } from "./envoy-sampler.js";

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

interface QueryAnswer {
  status: "success" | "error";
  error?: string;
  data?: { resultType: string; result: VectorResult[] };
}

/** The Envoy metrics the queries read (test/rollout.test.ts checks a real Envoy exports them). */
export const PROMETHEUS_METRICS = {
  total: "envoy_cluster_grpc_ModelInfer_total",
  failure: "envoy_cluster_grpc_ModelInfer_failure",
  latencyBucket: "envoy_cluster_upstream_rq_time_bucket",
} as const;

/** A label value in a PromQL string literal. */
const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export function prometheusSampler(
  baseUrl: string,
  opts: { job?: string; timeoutMs?: number; fetch?: typeof fetch } = {},
): ClusterSampler {
  const job = opts.job ?? "envoy";
  const doFetch = opts.fetch ?? fetch;
  const query = async (promql: string): Promise<VectorResult[]> => {
    const url = `${baseUrl.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const res = await doFetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 2_000) });
    const answer = (await res
      .json()
      .catch(() => ({ status: "error", error: `HTTP ${res.status}` }))) as QueryAnswer;
    if (!res.ok || answer.status !== "success" || !answer.data)
      throw new Error(answer.error ?? `HTTP ${res.status}`);
    return answer.data.result;
  };
  return async (cluster): Promise<EnvoySamples> => {
    const byEnvoy = new Map<string, ClusterSample>();
    const missing: string[] = [];
    const sel = `envoy_cluster_name=${quote(cluster)}`;
    let answers: VectorResult[][];
    try {
      answers = await Promise.all([
        query(`up{job=${quote(job)}}`),
        query(`sum by (instance) (${PROMETHEUS_METRICS.total}{${sel}})`),
        query(`sum by (instance) (${PROMETHEUS_METRICS.failure}{${sel}})`),
        query(
          `histogram_quantile(0.99, sum by (instance, le) (${PROMETHEUS_METRICS.latencyBucket}{${sel}}))`,
        ),
      ]);
    } catch (err) {
      return { byEnvoy, missing: [`Prometheus ${baseUrl}: a query failed (${(err as Error).message})`] };
    }
    const [up, totals, failures, p99s] = answers as [
      VectorResult[],
      VectorResult[],
      VectorResult[],
      VectorResult[],
    ];
    const of = (rs: VectorResult[], instance: string) => {
      const v = Number(rs.find((r) => r.metric.instance === instance)?.value[1]);
      return Number.isFinite(v) ? v : undefined;
    };
    if (up.length === 0) missing.push(`Prometheus ${baseUrl} has no target of job '${job}'`);
    for (const target of up) {
      const instance = target.metric.instance ?? "";
      if (Number(target.value[1]) !== 1) {
        missing.push(`Envoy ${instance}: Prometheus cannot scrape it (up 0)`);
        continue;
      }
      byEnvoy.set(instance, {
        total: of(totals, instance) ?? 0,
        failures: of(failures, instance) ?? 0,
        p99Ms: of(p99s, instance),
      });
    }
    missing.sort();
    return { byEnvoy, missing };
  };
}
