import assert from "node:assert/strict";
import { test } from "node:test";
import { prometheusSampler } from "./prometheus-sampler.js";

/** A Prometheus HTTP API answering each query from a table, recording what it was asked. */
function fakePrometheus(answers: Record<string, [Record<string, string>, string][]>, asked: string[]) {
  return (url: string | URL | Request): Promise<Response> => {
    const q = new URL(String(url)).searchParams.get("query") ?? "";
    asked.push(q);
    const key = Object.keys(answers).find((k) => q.startsWith(k));
    if (key === undefined)
      return Promise.resolve(Response.json({ status: "error", error: "bad query" }, { status: 400 }));
    const result = answers[key]!.map(([metric, v]) => ({ metric, value: [0, v] }));
    return Promise.resolve(Response.json({ status: "success", data: { resultType: "vector", result } }));
  };
}

test("each Envoy target of the job is a sample; one Prometheus cannot scrape is missing", async () => {
  const asked: string[] = [];
  const sample = prometheusSampler("http://prom:9090/", {
    fetch: fakePrometheus(
      {
        "up{": [
          [{ instance: "10.0.0.1:9902" }, "1"],
          [{ instance: "10.0.0.2:9902" }, "1"],
          [{ instance: "10.0.0.3:9902" }, "0"],
        ],
        "sum by (instance) (envoy_cluster_grpc_ModelInfer_total": [
          [{ instance: "10.0.0.1:9902" }, "40"],
          [{ instance: "10.0.0.2:9902" }, "2"],
        ],
        "sum by (instance) (envoy_cluster_grpc_ModelInfer_failure": [[{ instance: "10.0.0.1:9902" }, "1"]],
        "histogram_quantile(": [
          [{ instance: "10.0.0.1:9902" }, "7.5"],
          [{ instance: "10.0.0.2:9902" }, "NaN"],
        ],
      },
      asked,
    ) as typeof fetch,
  });
  const s = await sample("scale~2");
  assert.deepEqual(Object.fromEntries(s.byEnvoy), {
    "10.0.0.1:9902": { total: 40, failures: 1, p99Ms: 7.5 },
    "10.0.0.2:9902": { total: 2, failures: 0, p99Ms: undefined },
  });
  assert.deepEqual(s.missing, ["Envoy 10.0.0.3:9902: Prometheus cannot scrape it (up 0)"]);
  assert.ok(asked.includes('up{job="envoy"}'));
  assert.ok(
    asked.some((q) => q.includes('envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="scale~2"}')),
  );
});

test("a failed query, or no target at all, is missing: the step holds", async () => {
  const failing = prometheusSampler("http://prom:9090", { fetch: fakePrometheus({}, []) as typeof fetch });
  assert.match((await failing("scale~2")).missing[0] ?? "", /a query failed \(bad query\)/);
  const empty = prometheusSampler("http://prom:9090", {
    job: "gateway",
    fetch: fakePrometheus({ "up{": [], "sum by": [], "histogram_quantile(": [] }, []) as typeof fetch,
  });
  assert.deepEqual((await empty("scale~2")).missing, [
    "Prometheus http://prom:9090 has no target of job 'gateway'",
  ]);
});
