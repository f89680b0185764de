/**
 * Nodes really failing under a steady load from a real client, through a real Envoy steered by
 * the control plane: the calls that fail are bounded by those in flight on the failed node.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { failoverDefaults } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { startLoad } from "./lib/load.js";

const mlpCall = { request: fp32Request("mlp", MLP_SAMPLE_INPUT), metadata: { "inferencehub-model": "mlp" } };
const CONCURRENCY = 12;
const PER_TRY_TIMEOUT_MS = 2000;

function config(nodes: NodeEntry[], listenPort: number) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    defaults: failoverDefaults(PER_TRY_TIMEOUT_MS),
    models: [{ name: "mlp", versions: [{ version: "1", nodes: nodes.map((n) => n.name) }] }],
  };
}

describe("failover under load", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({
      // A few ms per call keeps several calls in flight on each node, as with real models.
      nodes: ["node-a", "node-b", "node-c"].map((name) => ({
        name,
        models: ["mlp"],
        args: ["--infer-delay-ms", "5"],
      })),
      config: (nodes, port) => config(nodes, port),
    });
  });
  after(() => gw?.stop());

  test("kill -9 of one node of three: only calls in flight on it fail, none after", async () => {
    const load = startLoad(gw.client(), { concurrency: CONCURRENCY, ...mlpCall });
    await load.more(300);
    const victim = gw.nodes.get("node-b")!;
    const killedAt = Date.now();
    await victim.stop("SIGKILL");
    // Calls sent between the signal and the exit reached a live node: they were in flight on it.
    const diedAt = Date.now();
    await load.more(1000);
    const stats = await load.stop();
    const servedAfter = stats.calls.filter((c) => c.startedAt > killedAt + 50 && c.ok);
    assert.ok(servedAfter.length > 500);
    assert.ok(!servedAfter.some((c) => c.node === "node-b"));
    // Bound: at most every call in flight at the kill could have been on the victim.
    assert.ok(
      stats.failures.length <= CONCURRENCY,
      `${stats.failures.length} failed: ${JSON.stringify(stats.failures.slice(0, 3))}`,
    );
    assert.deepEqual(
      stats.failures.filter((c) => c.startedAt > diedAt),
      [],
      "no call sent after the kill failed: connect failures are retried on another node",
    );
  });

  test("SIGSTOP of a node (it hangs): traffic leaves it within the per-try timeout plus ejection", async () => {
    const hung = gw.nodes.get("node-c")!;
    const load = startLoad(gw.client(), { concurrency: CONCURRENCY, ...mlpCall });
    await load.more(300);
    const stoppedAt = Date.now();
    process.kill(hung.process.pid!, "SIGSTOP");
    try {
      // Per-try timeout 2 s, then the local-origin failures eject it (checked every 500 ms).
      const settled = stoppedAt + PER_TRY_TIMEOUT_MS + 1000;
      while (Date.now() < settled + 500) await load.more(50);
      const stats = await load.stop();
      const late = stats.calls.filter((c) => c.startedAt > settled);
      assert.ok(late.length > 100, `${late.length} calls after the node was ejected`);
      assert.deepEqual(
        late.filter((c) => !c.ok),
        [],
        "once ejected, no call fails",
      );
      assert.ok(!late.some((c) => c.node === "node-c"));
      // Bound: calls that reached the hung node before its ejection; least-request balancing
      // sends few there once its calls stop finishing.
      assert.ok(stats.failures.length <= 2 * CONCURRENCY, `${stats.failures.length} failed`);
      assert.ok(stats.failures.every((c) => c.startedAt <= settled));
    } finally {
      process.kill(hung.process.pid!, "SIGCONT");
    }
  });
});
