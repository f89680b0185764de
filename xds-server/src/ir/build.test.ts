import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import type { Config } from "@inferencehub/contracts/config";
import { buildIR, createIRMemo, shareOut, unknownHealth } from "./build.js";
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
    hostSelectionRetryMaxAttempts: 10,
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

const split = config(`
nodes:
  - { name: n1, address: "10.0.0.1:9000" }
  - { name: n2, address: "10.0.0.2:9000" }
  - { name: n3, address: "10.0.0.3:9000" }
models:
  - name: share
    versions:
      - { version: "1", weight: 50, nodes: [n1] }
      - { version: "2", weight: 30, nodes: [n2] }
      - { version: "3", weight: 20, nodes: [n3] }
  - name: strict
    versionFailover: none
    versions:
      - { version: "1", weight: 50, nodes: [n1] }
      - { version: "2", weight: 50, nodes: [n2] }
`);

const down =
  (...nodes: string[]): HealthView =>
  (node) =>
    nodes.includes(node) ? "UNHEALTHY" : "HEALTHY";

const weightsOf = (health: HealthView, model: string) => {
  const m = buildIR(split, health).models.find((x) => x.name === model);
  return { weights: m?.versions.map((v) => v.weight), down: m?.versionsDown };
};

test("version failover: a version with no healthy node gives its share to the others, in proportion", () => {
  assert.deepEqual(weightsOf(down(), "share"), { weights: [50, 30, 20], down: undefined });
  assert.deepEqual(
    weightsOf(unknownHealth, "share"),
    { weights: [50, 30, 20], down: undefined },
    "not probed yet",
  );
  // 50 : 20 of the 70 left → 71.4 : 28.6 → 71 : 29.
  assert.deepEqual(weightsOf(down("n2"), "share"), { weights: [71, 0, 29], down: ["2"] });
  assert.deepEqual(weightsOf(down("n1", "n2"), "share"), { weights: [0, 0, 100], down: ["1", "2"] });
  // Nobody to give it to: the weights stay, and the calls fail UNAVAILABLE.
  assert.deepEqual(weightsOf(down("n1", "n2", "n3"), "share"), {
    weights: [50, 30, 20],
    down: ["1", "2", "3"],
  });
  // versionFailover: none keeps the split and says which version is down.
  assert.deepEqual(weightsOf(down("n2"), "strict"), { weights: [50, 50], down: ["2"] });
  // A node drained by the config counts as down too.
  const drained = config(
    stringify({
      nodes: [
        { name: "n1", address: "10.0.0.1:9000" },
        { name: "n2", address: "10.0.0.2:9000", drain: true },
      ],
      models: [
        {
          name: "m",
          versions: [
            { version: "1", weight: 50, nodes: ["n1"] },
            { version: "2", weight: 50, nodes: ["n2"] },
          ],
        },
      ],
    }),
  );
  assert.deepEqual(
    buildIR(drained, down()).models[0]?.versions.map((v) => v.weight),
    [100, 0],
  );
});

test("version failover: with every weighted version down, the up versions at weight 0 take the calls (not the shadow)", () => {
  const standby = config(`
nodes:
  - { name: n1, address: "10.0.0.1:9000" }
  - { name: n2, address: "10.0.0.2:9000" }
  - { name: n3, address: "10.0.0.3:9000" }
models:
  - name: m
    versions:
      - { version: "1", weight: 0, nodes: [n1] }
      - { version: "2", weight: 100, placement: { replicas: 1 } }
      - { version: "3", weight: 0, nodes: [n3] }
    shadow: { version: "3", percent: 10 }
`);
  const weights = (health: HealthView) => buildIR(standby, health).models[0]?.versions.map((v) => v.weight);
  // Version 2 is placed and ready nowhere yet (no nodes): version 1 serves meanwhile.
  assert.deepEqual(weights(down()), [100, 0, 0]);
  assert.deepEqual(weights(down("n1")), [0, 100, 0], "nobody up to give it to: the weights stay");
});

test("shareOut: always 100 in all, by largest remainder, and nothing to a version that is down", () => {
  assert.deepEqual(shareOut([34, 33, 33], [true, true, false]), [51, 49, 0]);
  assert.deepEqual(shareOut([1, 1, 1, 97], [true, true, true, false]), [34, 33, 33, 0]);
  assert.deepEqual(shareOut([0, 100], [true, false]), [0, 100], "a weight-0 version takes no share");
  for (let a = 0; a <= 100; a += 7) {
    const weights = [a, 100 - a, 0];
    const out = shareOut(weights, [true, false, true]);
    assert.equal(
      out.reduce((x, y) => x + y, 0),
      100,
      JSON.stringify({ weights, out }),
    );
  }
});

test("REST: a version's REST cluster holds its nodes with a restPort; REST weights skip versions without one", () => {
  const cfg = config(`
nodes:
  - { name: a, address: "10.0.0.1:9001", restPort: 8000 }
  - { name: b, address: "10.0.0.2:9001" }
models:
  - name: m
    versions:
      - { version: "1", weight: 50, nodes: [a, b] }
      - { version: "2", weight: 30, nodes: [a] }
      - { version: "3", weight: 20, nodes: [b] }
      - { version: "4", weight: 0, nodes: [b] }
    shadow: { version: "4", percent: 10 }
  - name: grpc-only
    versions: [{ version: "1", nodes: [b] }]
`);
  const ir = buildIR(cfg, unknownHealth);
  const rest = ir.clusters.filter((c) => c.protocol === "rest");
  assert.deepEqual(
    rest.map((c) => [c.name, c.endpoints.map((e) => `${e.node}@${e.port}`)]),
    [
      ["m~1~rest", ["a@8000"]],
      ["m~2~rest", ["a@8000"]],
    ],
  );
  const m = ir.models.find((x) => x.name === "m");
  // Version 3's 20 goes to 1 and 2 in proportion (50:30): 62.5 and 37.5, largest remainder.
  assert.deepEqual(
    m?.rest?.versions.map((v) => [v.version, v.weight, v.cluster]),
    [
      ["1", 63, "m~1~rest"],
      ["2", 37, "m~2~rest"],
    ],
  );
  // The shadow's version serves no REST: REST calls are not copied.
  assert.equal(m?.rest?.shadow, undefined);
  assert.equal(ir.models.find((x) => x.name === "grpc-only")?.rest, undefined);
  assert.equal(ir.ready, true);
  // Every node down: no model can be served, so the gateway is not ready.
  assert.equal(buildIR(cfg, () => "UNHEALTHY").ready, false);
});

test("a REST-only node: in REST clusters only; its version's share of gRPC calls moves to versions with a gRPC node", () => {
  const cfg = config(`
nodes:
  - { name: both, address: "10.0.0.1:9001", restPort: 8000 }
  - { name: rest, address: "10.0.0.2:8000", protocol: rest }
models:
  - name: m
    versions:
      - { version: "1", weight: 50, nodes: [both] }
      - { version: "2", weight: 50, nodes: [rest] }
`);
  const ir = buildIR(cfg, unknownHealth);
  const endpoints = (name: string) =>
    ir.clusters.find((c) => c.name === name)?.endpoints.map((e) => `${e.node}@${e.port}`);
  assert.deepEqual(endpoints("m~1"), ["both@9001"]);
  assert.deepEqual(endpoints("m~2"), []);
  assert.deepEqual(endpoints("m~2~rest"), ["rest@8000"]);
  const m = ir.models[0];
  assert.deepEqual(
    m?.versions.map((v) => [v.version, v.weight]),
    [
      ["1", 100],
      ["2", 0],
    ],
  );
  // Not down: it never served gRPC, so the gRPC split is not degraded; its gRPC routes say so.
  assert.equal(m?.versionsDown, undefined);
  assert.deepEqual(
    m?.versions.map((v) => v.restOnly ?? false),
    [false, true],
  );
  assert.deepEqual(
    m?.rest?.versions.map((v) => [v.version, v.weight]),
    [
      ["1", 50],
      ["2", 50],
    ],
  );
  assert.equal(ir.ready, true);
  // The REST-only version down: REST fails over to version 1; the model is still servable.
  const down = buildIR(cfg, (node) => (node === "rest" ? "UNHEALTHY" : "HEALTHY"));
  assert.deepEqual(down.models[0]?.rest?.versionsDown, ["2"]);
  assert.deepEqual(
    down.models[0]?.rest?.versions.map((v) => v.weight),
    [100, 0],
  );
  assert.equal(down.ready, true);
});

test("the memo: equal to a build without it, and an unchanged model keeps its IR objects", () => {
  const memo = createIRMemo();
  const gpu2Down: HealthView = (node) => (node === "gpu-2" ? "UNHEALTHY" : "HEALTHY");
  const withModels = (models: Config["models"]): Config => ({ ...pools, models });
  const [zeta, alpha] = pools.models as [Config["models"][number], Config["models"][number]];
  const reweighted = {
    ...alpha,
    versions: alpha.versions.map((v) => ({ ...v, weight: v.version === "1" ? 100 : 0 })),
  };
  const steps: { what: string; config: Config; health: HealthView; rebuilt: string[] }[] = [
    { what: "first build", config: pools, health: unknownHealth, rebuilt: ["alpha", "zeta"] },
    { what: "nothing changed", config: withModels([zeta, alpha]), health: unknownHealth, rebuilt: [] },
    {
      what: "one model edited",
      config: withModels([zeta, reweighted]),
      health: unknownHealth,
      rebuilt: ["alpha"],
    },
    // gpu-2 serves alpha only; zeta's node (cpu-1) reads HEALTHY now instead of UNKNOWN.
    {
      what: "health changed",
      config: withModels([zeta, reweighted]),
      health: gpu2Down,
      rebuilt: ["alpha", "zeta"],
    },
    { what: "same health again", config: withModels([zeta, reweighted]), health: gpu2Down, rebuilt: [] },
    {
      what: "the nodes changed: every model again",
      config: { ...withModels([zeta, reweighted]), nodes: [...pools.nodes] },
      health: gpu2Down,
      rebuilt: ["alpha", "zeta"],
    },
  ];
  let last = buildIR(pools, unknownHealth, { memo: createIRMemo() });
  for (const step of steps) {
    const ir = buildIR(step.config, step.health, { memo });
    assert.deepEqual(
      ir,
      buildIR(step.config, step.health),
      `${step.what}: equal to a build without the memo`,
    );
    const rebuilt = ir.models.filter((m) => !last.models.includes(m)).map((m) => m.name);
    assert.deepEqual(rebuilt, step.rebuilt, `${step.what}: models rebuilt`);
    const keptClusters = ir.clusters.filter((c) => last.clusters.includes(c)).map((c) => c.model);
    assert.ok(
      keptClusters.every((model) => !step.rebuilt.includes(model)),
      `${step.what}: a rebuilt model's clusters are new`,
    );
    last = ir;
  }
});
