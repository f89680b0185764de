/**
 * Version failover (issue #11): the only node of one version of a weighted model is killed under
 * load. Once the prober has it out, that version's share goes to the healthy version and no
 * unpinned call fails; a call pinned to the dead version gets UNAVAILABLE naming it; the control
 * plane says the split is degraded; after a restart the version takes its share again. A model
 * with `versionFailover: none` keeps its split and fails the dead version's share.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { startNode } from "../scripts/lib/node-process.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { failure } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany, startLoad } from "./lib/load.js";

const scale = fp32Request("scale", SCALE_SAMPLE_INPUT);
const unpinned = { request: scale, metadata: { "inferencehub-model": "scale" } };

function config(nodes: NodeEntry[], listenPort: number, versionFailover: "share" | "none" = "share") {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    defaults: {
      health: { interval: "250ms", timeout: "250ms", healthyThreshold: 1, unhealthyThreshold: 2 },
      outlierDetection: { baseEjectionTime: "1s" },
    },
    models: [
      {
        name: "scale",
        versionFailover,
        versions: [
          { version: "1", weight: 50, nodes: ["node-a"] },
          { version: "2", weight: 50, nodes: ["node-b"] },
        ],
      },
    ],
  };
}

describe("version failover", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({
      nodes: [
        { name: "node-a", models: ["scale"] },
        { name: "node-b", models: ["scale"] },
      ],
      config: (nodes, port) => config(nodes, port),
    });
    await gw.xds.waitFor(
      (s) => ["node-a", "node-b"].every((n) => Object.values(s.health?.[n] ?? {}).includes("HEALTHY")),
      "both nodes healthy",
    );
  });
  after(() => gw?.stop());

  test("kill -9 of version 2's only node: its share goes to version 1, and comes back after a restart", async () => {
    const load = startLoad(gw.client(), { concurrency: 6, ...unpinned });
    try {
      await load.more(100);
      const port = gw.nodes.get("node-b")!.port;
      await gw.nodes.get("node-b")!.stop("SIGKILL");
      await gw.xds.waitFor((s) => s.degradedSplits?.scale?.versionsDown.includes("2") ?? false, "v2 down");
      const status1 = await gw.xds.status();
      assert.deepEqual(status1.degradedSplits?.scale?.weights, { "1": 100, "2": 0 });
      assert.match(await gw.xds.metrics(), /inferencehub_model_versions_down\{model="scale"\} 1/);
      await gw.xds.waitForSync("envoy-1");
      const failedOver = Date.now();
      await load.more(300);
      const during = load.calls.filter((c) => c.startedAt > failedOver);
      assert.ok(during.length >= 200, `${during.length} calls after failover`);
      assert.deepEqual(
        during.filter((c) => !c.ok).map((c) => `${c.code} ${c.details}`),
        [],
        "no unpinned call fails once the share moved",
      );
      assert.ok(during.every((c) => c.version === "1"));

      // A call pinned to the version that is down: UNAVAILABLE, naming it.
      const pinned = await failure(
        gw
          .client()
          .infer(scale, { metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "2" } }),
      );
      assert.equal(pinned.code, status.UNAVAILABLE);
      assert.match(pinned.details, /no node is up to serve scale~2/);

      // Back: the split returns.
      gw.nodes.set("node-b", await startNode({ name: "node-b", port, models: ["scale"] }));
      await gw.xds.waitFor((s) => s.degradedSplits?.scale === undefined, "the split restored");
      await gw.xds.waitForSync("envoy-1");
      const restored = Date.now();
      await load.more(300);
      const back = load.calls.filter((c) => c.startedAt > restored && c.ok);
      assert.ok(
        back.some((c) => c.version === "2"),
        "version 2 takes calls again",
      );
      assert.ok(back.some((c) => c.version === "1"));
    } finally {
      await load.stop();
    }
  });

  test("versionFailover: none keeps the split: the dead version's share fails, UNAVAILABLE", async () => {
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, "none"));
    const port = gw.nodes.get("node-b")!.port;
    await gw.nodes.get("node-b")!.stop("SIGKILL");
    try {
      await gw.xds.waitFor((s) => s.degradedSplits?.scale?.versionsDown.includes("2") ?? false, "v2 down");
      await gw.xds.waitForSync("envoy-1");
      const status1 = await gw.xds.status();
      assert.deepEqual(status1.degradedSplits?.scale?.weights, { "1": 50, "2": 50 });
      const stats = await callMany(gw.client(), {
        total: 200,
        concurrency: 4,
        ...unpinned,
        maxFailures: 200,
      });
      const failed = stats.failures.length;
      // Half the calls, within binomial bounds (p = 0.5, n = 200: 5 standard deviations is ±35).
      assert.ok(failed > 65 && failed < 135, `${failed} of 200 failed`);
      assert.ok(stats.failures.every((c) => c.code === status.UNAVAILABLE));
      assert.ok(stats.calls.filter((c) => c.ok).every((c) => c.version === "1"));
    } finally {
      gw.nodes.set("node-b", await startNode({ name: "node-b", port, models: ["scale"] }));
    }
  });
});
