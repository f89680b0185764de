import assert from "node:assert/strict";
import { test } from "node:test";
import { formatErrors, parseConfig } from "../config/index.js";
import type { Config } from "../config/index.js";
import { buildIR, unknownHealth } from "./build.js";
import type { HealthView } from "./types.js";

function config(yaml: string): Config {
  const result = parseConfig(yaml);
  if (!result.ok) assert.fail(formatErrors(result.errors));
  return result.value;
}

const pools = config(`
pools: [gpu, cpu]
nodes:
  - { name: gpu-2, address: "10.0.0.2:9000", pool: gpu }
  - { name: gpu-1, address: "10.0.0.1:9000", pool: gpu }
  - { name: cpu-1, address: "10.0.1.1:9000", pool: cpu, drain: true }
models:
  - name: zeta
    versions: [{ version: "1", nodes: [cpu-1] }]
  - name: alpha
    versions:
      - { version: "2", weight: 10, nodes: [cpu-1, gpu-2] }
      - { version: "1", weight: 90, nodes: [cpu-1, gpu-2, gpu-1] }
      - { version: "3", weight: 0, nodes: [gpu-1] }
    shadow: { version: "3", percent: 5 }
    retry: { attempts: 1 }
`);

test("models, versions, clusters and endpoints come out sorted", () => {
  const ir = buildIR(pools, unknownHealth);
  assert.deepEqual(
    ir.models.map((m) => m.name),
    ["alpha", "zeta"],
  );
  assert.deepEqual(
    ir.models[0]?.versions.map((v) => [v.version, v.weight, v.cluster]),
    [
      ["1", 90, "alpha~1"],
      ["2", 10, "alpha~2"],
      ["3", 0, "alpha~3"],
    ],
  );
  assert.deepEqual(
    ir.clusters.map((c) => c.name),
    ["alpha~1", "alpha~2", "alpha~3", "zeta~1"],
  );
  assert.deepEqual(
    ir.clusters[0]?.endpoints.map((e) => [e.node, e.pool, e.priority]),
    [
      ["gpu-1", "gpu", 0],
      ["gpu-2", "gpu", 0],
      ["cpu-1", "cpu", 1],
    ],
  );
});

test("priorities count only the pools present in the cluster: no gaps", () => {
  const ir = buildIR(pools, unknownHealth);
  const zeta = ir.clusters.find((c) => c.name === "zeta~1");
  assert.deepEqual(
    zeta?.endpoints.map((e) => [e.node, e.priority]),
    [["cpu-1", 0]],
  );
});

test("drain wins over the health view; the view decides for the rest", () => {
  const health: HealthView = (node, model, version) =>
    node === "gpu-2" && model === "alpha" && version === "1" ? "UNHEALTHY" : "HEALTHY";
  const ir = buildIR(pools, health);
  const byNode = (cluster: string) =>
    Object.fromEntries(
      ir.clusters.find((c) => c.name === cluster)?.endpoints.map((e) => [e.node, e.health]) ?? [],
    );
  assert.deepEqual(byNode("alpha~1"), { "gpu-1": "HEALTHY", "gpu-2": "UNHEALTHY", "cpu-1": "DRAINING" });
  assert.deepEqual(byNode("alpha~2"), { "gpu-2": "HEALTHY", "cpu-1": "DRAINING" });
});

test("shadow and retry: one try means no retry policy", () => {
  const ir = buildIR(pools, unknownHealth);
  const [alpha, zeta] = ir.models;
  assert.deepEqual(alpha?.shadow, { version: "3", cluster: "alpha~3", percent: 5 });
  assert.equal(alpha?.retry, undefined);
  assert.deepEqual(zeta?.retry, {
    numRetries: 1,
    perTryTimeoutMs: 10_000,
    retryOn: ["connect-failure", "refused-stream", "reset-before-request"],
    hedgeOnPerTryTimeout: false,
    hostSelectionRetryMaxAttempts: 3,
  });
});

test("the IR is plain data: JSON round-trips it, and building twice gives equal IRs", () => {
  const ir = buildIR(pools, unknownHealth, {
    extAuthz: {
      cluster: "ext_authz",
      service: { host: "127.0.0.1", port: 19000, dns: false },
      timeoutMs: 250,
      failOpen: false,
      bodyBytes: 256,
    },
  });
  assert.deepEqual(JSON.parse(JSON.stringify(ir)), ir);
  assert.deepEqual(buildIR(pools, unknownHealth, { extAuthz: ir.extAuthz }), ir);
  assert.equal(buildIR(pools, unknownHealth).extAuthz, undefined);
});

test("weights of every model sum to exactly 100", () => {
  for (const model of buildIR(pools, unknownHealth).models) {
    assert.equal(
      model.versions.reduce((sum, v) => sum + v.weight, 0),
      100,
      model.name,
    );
  }
});

test("the config's auth section turns ext_authz on; the IR keeps only what Envoy needs", () => {
  const base = `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: "1", nodes: [n1] }] }]
`;
  assert.equal(buildIR(config(base), unknownHealth).extAuthz, undefined);
  const withAuth = (address: string) =>
    buildIR(
      config(`${base}
auth:
  extAuthz: { address: "${address}", timeout: 100ms, failOpen: true }
  keysFile: keys.yaml
  tenants: [{ name: t, models: [m], rateLimit: { callsPerSecond: 1 } }]
`),
      unknownHealth,
    ).extAuthz;
  assert.deepEqual(withAuth("10.0.0.9:19000"), {
    cluster: "ext_authz",
    service: { host: "10.0.0.9", port: 19000, dns: false },
    timeoutMs: 100,
    failOpen: true,
    bodyBytes: 256,
  });
  assert.deepEqual(withAuth("[::1]:19000")?.service, { host: "::1", port: 19000, dns: false });
  assert.deepEqual(withAuth("ext-authz.infra:19000")?.service, {
    host: "ext-authz.infra",
    port: 19000,
    dns: true,
  });
});
