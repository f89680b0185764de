/**
 * A node that stops answering without closing anything (SIGSTOP: its sockets stay open, its calls
 * never end) under 16 calls in flight, for a model that states its expected latency and allows
 * hedging: the calls stuck on it are sent to the other node after one short per-try timeout, Envoy
 * ejects it after a few such timeouts, and the prober takes it out. A call whose answer had begun
 * when the node froze cannot be sent again and fails. No other call fails.
 * issue #10 finding 5: one frozen node stalled every call for 5 s.
 * bench/frozen-node.ts measures the throughput during the freeze against before it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { startLoad } from "./lib/load.js";

const mlpCall = { request: fp32Request("mlp", MLP_SAMPLE_INPUT), metadata: { "inferencehub-model": "mlp" } };
const CONCURRENCY = 16;

/** What an operator writes for a model whose calls take a few ms and may run twice. */
export function frozenNodeConfig(nodes: NodeEntry[], listenPort: number) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    models: [
      {
        name: "mlp",
        versions: [{ version: "1", nodes: nodes.map((n) => n.name) }],
        // A try past 4 × 25 ms is stuck: the call goes to the other node too.
        expectedLatency: "25ms",
        // Tries for the stuck one, its hedge, and a reset when Envoy closes the frozen connection.
        retry: { attempts: 4, hedge: true },
        // Each stuck call takes a retry slot: as many as calls may be stuck on one node at once.
        circuitBreaker: { maxRetries: 64 },
      },
    ],
  };
}

describe("a frozen node under load", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({
      nodes: ["node-a", "node-b"].map((name) => ({ name, models: ["mlp"], args: ["--infer-delay-ms", "5"] })),
      config: frozenNodeConfig,
    });
  });
  after(() => gw?.stop());

  test("SIGSTOP of one node of two: its calls are hedged to the other, and it is taken out", async () => {
    const frozen = gw.nodes.get("node-b")!;
    const load = startLoad(gw.client(), { concurrency: CONCURRENCY, ...mlpCall });
    try {
      await load.more(300);
      assert.ok(
        load.calls.some((c) => c.node === "node-b"),
        "both nodes served before the freeze",
      );
      const envoy = gw.envoys[0]!;
      // Envoy counts a hedge as a retry (upstream_rq_per_try_timeout leaves hedged tries out).
      const retries = async () => (await envoy.stats())["cluster.mlp~1.upstream_rq_retry"] ?? 0;
      const retriesBefore = await retries();
      const frozenAt = Date.now();
      process.kill(frozen.process.pid!, "SIGSTOP");
      await gw.xds.waitFor((s) => s.health?.["node-b"]?.["mlp/1"] === "UNHEALTHY", "node-b out");
      await gw.xds.waitForSync("envoy-1");
      const outAt = Date.now();
      await load.more(300);
      const stats = await load.stop();
      // Only calls in flight at the freeze may fail: those whose answer had begun cannot be sent
      // again. Most end after the per-try idle timeout; a few were seen (in 1 CI run of 4) to wait
      // for the client's 10 s deadline instead, so the code is not asserted. No call sent after
      // the freeze fails.
      const failed = stats.failures.map((c) => `${c.startedAt - frozenAt} ms: ${c.code} ${c.details}`);
      assert.ok(
        stats.failures.every((c) => c.startedAt < frozenAt),
        failed.join("; "),
      );
      assert.ok(stats.failures.length <= CONCURRENCY / 2, failed.join("; "));
      assert.ok((await retries()) > retriesBefore, "Envoy hedged the stuck calls to node-a");
      const after = stats.calls.filter((c) => c.startedAt > outAt);
      assert.ok(after.length >= 200, `${after.length} calls after node-b was out`);
      assert.ok(
        after.every((c) => c.node === "node-a"),
        "once out, node-b gets no call",
      );
      // Most calls in flight at the freeze were answered, by node-a.
      const stuck = stats.calls.filter((c) => c.startedAt < frozenAt && c.at > frozenAt);
      assert.ok(
        stuck.filter((c) => c.ok).length > stats.failures.length,
        `${stuck.length} in flight at the freeze`,
      );
    } finally {
      await load.stop();
      process.kill(frozen.process.pid!, "SIGCONT");
    }
  });
});
