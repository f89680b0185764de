/**
 * ServerLive, ServerReady and ServerMetadata without a model header are about the gateway, as a
 * stock client's first calls (tritonclient's is_server_live, is_server_ready, get_server_metadata)
 * expect: Envoy sends them to the control plane, which answers for the whole gateway (issue #12).
 * ServerReady turns false when no node can serve a model, and true again when one comes back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startNode } from "../scripts/lib/node-process.js";
import { grpcCall } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

function config(nodes: NodeEntry[], listenPort: number, controlPlane?: string) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    defaults: { health: { interval: "250ms", timeout: "250ms" } },
    models: [{ name: "mlp", versions: [{ version: "1", nodes: ["node-a"] }] }],
    ...(controlPlane ? { controlPlane: { address: controlPlane } } : {}),
  };
}

describe("server-level calls answered by the gateway", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({ nodes: [{ name: "node-a", models: ["mlp"] }], config: (n, p) => config(n, p) });
    // The control plane's ADS port is known once it runs: name it in the config then.
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, `127.0.0.1:${gw.xds.adsPort}`));
    await gw.xds.waitFor((s) => s.health?.["node-a"]?.["mlp/1"] === "HEALTHY", "node-a healthy");
  });
  after(() => gw?.stop());

  test("live, ready and metadata with no model header", async () => {
    const client = gw.client().raw;
    assert.deepEqual(await grpcCall(client, "serverLive", {}), { live: true });
    assert.deepEqual(await grpcCall(client, "serverReady", {}), { ready: true });
    const metadata = await grpcCall(client, "serverMetadata", {});
    assert.equal(metadata.name, "inferencehub");
    assert.match(metadata.version, /^\d+\.\d+\.\d+/);
  });

  test("ServerReady is false while no node can serve a model, and true again once one can", async () => {
    const client = gw.client().raw;
    const port = gw.nodes.get("node-a")!.port;
    await gw.nodes.get("node-a")!.stop("SIGKILL");
    await gw.xds.waitFor((s) => s.health?.["node-a"]?.["mlp/1"] === "UNHEALTHY", "node-a out");
    assert.deepEqual(await grpcCall(client, "serverReady", {}), { ready: false });
    assert.deepEqual(await grpcCall(client, "serverLive", {}), { live: true }, "the gateway itself is up");
    gw.nodes.set("node-a", await startNode({ name: "node-a", port, models: ["mlp"] }));
    await gw.xds.waitFor((s) => s.health?.["node-a"]?.["mlp/1"] === "HEALTHY", "node-a back");
    assert.deepEqual(await grpcCall(client, "serverReady", {}), { ready: true });
  });
});
