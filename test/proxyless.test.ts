/**
 * A proxyless grpc-js client (@grpc/grpc-js-xds, target xds:///scale) steered by the same control
 * plane, with no Envoy at all: it follows the version weights and sees an edit.
 * Versions live on different nodes here, so the node that answers tells which cluster was picked.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import type { InferClient } from "../scripts/lib/infer-client.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany } from "./lib/load.js";
import { proxylessClient } from "./lib/proxyless.js";

function config(nodes: NodeEntry[], listenPort: number, weights: [number, number]) {
  return gatewayConfig(nodes, listenPort, [scaleModel(weights, (version) => [`node-v${version}`])]);
}

describe("proxyless grpc-js-xds client", () => {
  let gw: GatewayFixture;
  let listenPort = 0;
  let client: InferClient;

  before(async () => {
    gw = await startGateway({
      envoy: false,
      nodes: [{ name: "node-v1" }, { name: "node-v2" }],
      config: (nodes, port) => ((listenPort = port), config(nodes, port, [70, 30])),
    });
    client = proxylessClient(gw.xds.adsPort, "proxyless-1", "xds:///scale");
  });

  after(async () => {
    client?.close();
    await gw?.stop();
  });

  const nodesSeen = async (total: number) => {
    const stats = await callMany(client, {
      total,
      concurrency: 8,
      request: fp32Request("scale", SCALE_SAMPLE_INPUT),
      metadata: {},
    });
    assert.deepEqual(stats.failures, []);
    const byNode = new Map<string, number>();
    for (const c of stats.calls) byNode.set(c.node, (byNode.get(c.node) ?? 0) + 1);
    return byNode;
  };

  test("follows the 70/30 weights", async () => {
    const byNode = await nodesSeen(1000);
    const v2 = byNode.get("node-v2") ?? 0;
    // 4.5 standard deviations of Binomial(1000, 0.3).
    const sd = Math.sqrt(1000 * 0.3 * 0.7);
    assert.ok(Math.abs(v2 - 300) <= 4.5 * sd, `node-v2 got ${v2} of 1000`);
    const status = await gw.xds.status();
    const me = status.clients.find((c) => c.nodeId === "proxyless-1");
    assert.equal(me?.group, "proxyless", "grpc-js is served the proxyless snapshot");
    assert.equal(me?.transport, "sotw");
  });

  test("sees an edit to 0/100", async () => {
    await gw.applyConfig(config(gw.nodeEntries(), listenPort, [0, 100]), { clients: ["proxyless-1"] });
    const byNode = await nodesSeen(200);
    assert.deepEqual([...byNode], [["node-v2", 200]]);
  });
});
