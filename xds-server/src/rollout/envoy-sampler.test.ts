import assert from "node:assert/strict";
import { test } from "node:test";
import { parseClusterStats } from "@inferencehub/contracts/envoy-stats";
import { peerIpOf } from "../server/index.js";
import { envoyAdminSampler, stepDelta } from "./envoy-sampler.js";

test("every Envoy is read at its stream's peer IP and declared port; one without a port is missing", async () => {
  const fetched: string[] = [];
  const sample = envoyAdminSampler(
    () => [
      { stream: 1, nodeId: "e1", group: "envoy", peerIp: "10.0.0.5", adminPort: 9901 },
      { stream: 2, nodeId: "e2", group: "envoy", peerIp: "::1", adminPort: 9902 },
      { stream: 3, nodeId: "bare", group: "envoy", peerIp: "10.0.0.6" },
      { stream: 4, nodeId: "grpc-client", group: "proxyless", peerIp: "10.0.0.7", adminPort: 1 },
      { stream: 5, nodeId: "down", group: "envoy", peerIp: "10.0.0.8", adminPort: 9901 },
    ],
    (url, cluster) => {
      fetched.push(`${url} ${cluster}`);
      if (url.includes("10.0.0.8")) return Promise.reject(new Error("connect ECONNREFUSED"));
      return Promise.resolve({ total: 10, failures: 1, p99Ms: url.includes("::1") ? 9 : 3 });
    },
  );
  const s = await sample("scale~2");
  assert.deepEqual(fetched.sort(), [
    "http://10.0.0.5:9901 scale~2",
    "http://10.0.0.8:9901 scale~2",
    "http://[::1]:9902 scale~2",
  ]);
  assert.deepEqual([...s.byEnvoy.keys()].sort(), ["e1#1", "e2#2"]);
  assert.equal(s.missing.length, 2);
  assert.match(s.missing[0]!, /bare declares no admin port/);
  assert.match(
    s.missing[1]!,
    /down: reading http:\/\/10\.0\.0\.8:9901\/stats failed \(connect ECONNREFUSED\)/,
  );
  const delta = stepDelta(s, new Map([["e1#1", { total: 4, failures: 1, p99Ms: 1 }]]));
  assert.deepEqual(delta, { calls: 6 + 10, failures: 0 + 1, p99Ms: 9, missing: s.missing });
});

test("no Envoy connected is a missing metric", async () => {
  const s = await envoyAdminSampler(() => [])("scale~2");
  assert.deepEqual(s.missing, ["no Envoy is connected to this control plane"]);
});

test("peerIpOf reads grpc-js's getPeer()", () => {
  assert.equal(peerIpOf("127.0.0.1:5555"), "127.0.0.1");
  assert.equal(peerIpOf("::ffff:10.1.2.3:5555"), "10.1.2.3");
  assert.equal(peerIpOf("::1:5555"), "::1");
  assert.equal(peerIpOf("unknown"), "");
});

test("parseClusterStats: grpc_stats counters and the cumulative p99", () => {
  const s = parseClusterStats({
    stats: [
      { name: "cluster.scale~2.grpc.inference.GRPCInferenceService.ModelInfer.total", value: 12 },
      { name: "cluster.scale~2.grpc.inference.GRPCInferenceService.ModelInfer.failure", value: 2 },
      {
        histograms: {
          supported_quantiles: [0, 50, 99, 100],
          computed_quantiles: [
            { name: "cluster.scale~2.upstream_rq_time", values: [null, null, { cumulative: 4.5 }, null] },
          ],
        },
      },
    ],
  });
  assert.deepEqual(s, { total: 12, failures: 2, p99Ms: 4.5 });
  assert.equal(parseClusterStats({ stats: [] }).p99Ms, undefined);
});
