import assert from "node:assert/strict";
import { test } from "node:test";
import { probeTargets, sameProbeTargets } from "./targets.js";
import { formatErrors, parseConfig, type Config } from "@inferencehub/contracts/config";
import { testConfig } from "./testing/index.js";

test("one target per node with the versions placed on it; node settings are the strictest of its models", () => {
  const config = testConfig({
    nodes: { a: "127.0.0.1:9001", b: "127.0.0.1:9002", idle: "127.0.0.1:9003" },
    models: { scale: { "2": ["a"], "1": ["a", "b"] }, mlp: { "1": ["a"] } },
    health: { interval: "2s", timeout: "1s", jitter: 0.1, unhealthyThreshold: 2 },
    modelHealth: { mlp: { interval: "500ms", timeout: "1500ms", jitter: 0.3, unhealthyThreshold: 4 } },
  });
  const [a, b, idle] = probeTargets(config);
  assert.deepEqual(a, {
    node: "a",
    address: "127.0.0.1:9001",
    protocol: "grpc",
    intervalMs: 500,
    timeoutMs: 1000,
    jitter: 0.1,
    models: [
      {
        model: "mlp",
        version: "1",
        serverVersion: "1",
        timeoutMs: 1500,
        healthyThreshold: 1,
        unhealthyThreshold: 4,
      },
      {
        model: "scale",
        version: "1",
        serverVersion: "1",
        timeoutMs: 1000,
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
      {
        model: "scale",
        version: "2",
        serverVersion: "2",
        timeoutMs: 1000,
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
    ],
  });
  assert.deepEqual(
    b?.models.map((m) => `${m.model}/${m.version}`),
    ["scale/1"],
  );
  assert.equal(b?.intervalMs, 2000);
  assert.deepEqual(idle, {
    node: "idle",
    address: "127.0.0.1:9003",
    protocol: "grpc",
    intervalMs: 2000,
    timeoutMs: 1000,
    jitter: 0.1,
    models: [],
  });
});

test("sameProbeTargets: true only where probeTargets would give the same, told from the objects", () => {
  const parsed = parseConfig(`
nodes: [{ name: n1, address: "10.0.0.1:9000" }, { name: n2, address: "10.0.0.2:9000" }]
models:
  - name: a
    versions: [{ version: "1", weight: 90, nodes: [n1] }, { version: "2", weight: 10, nodes: [n2] }]
  - name: b
    versions: [{ version: "1", nodes: [n1, n2] }]
`);
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  const base = parsed.value;
  const [a, b] = base.models as [Config["models"][number], Config["models"][number]];
  const withA = (next: Config["models"][number]): Config => ({ ...base, models: [next, b] });
  const cases: { what: string; config: Config; same: boolean }[] = [
    { what: "the same models", config: { ...base, models: [a, b] }, same: true },
    {
      what: "a weight edit",
      config: withA({ ...a, versions: a.versions.map((v) => ({ ...v, weight: 50 })) }),
      same: true,
    },
    {
      what: "a version moved to another node",
      config: withA({ ...a, versions: a.versions.map((v) => ({ ...v, nodes: ["n1"] })) }),
      same: false,
    },
    { what: "a health setting", config: withA({ ...a, health: { ...a.health, timeoutMs: 1 } }), same: false },
    { what: "a model removed", config: { ...base, models: [a] }, same: false },
    { what: "the nodes (another object)", config: { ...base, nodes: [...base.nodes] }, same: false },
  ];
  for (const c of cases) {
    assert.equal(sameProbeTargets(base, c.config), c.same, c.what);
    if (c.same) assert.deepEqual(probeTargets(c.config), probeTargets(base), `${c.what}: the targets`);
    else if (c.what !== "the nodes (another object)")
      assert.notDeepEqual(probeTargets(c.config), probeTargets(base), `${c.what}: the targets`);
  }
});
