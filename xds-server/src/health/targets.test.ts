import assert from "node:assert/strict";
import { test } from "node:test";
import { probeTargets } from "./targets.js";
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
