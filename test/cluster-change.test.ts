/**
 * A changed cluster warms again in Envoy and waits for its endpoints before Envoy ACKs the
 * clusters; the control plane sends them with the cluster, even unchanged. Before, it waited for
 * the ACK, and every edit that changed a cluster took Envoy's 15 s initial_fetch_timeout to apply
 * (the cluster's init_fetch_timeout stat counted it). SotW and delta.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startGateway, type AdsTransport, type NodeEntry } from "./lib/gateway-fixture.js";

const config = (nodes: NodeEntry[], listenPort: number, maxRequests: number) => ({
  listener: { address: "127.0.0.1", port: listenPort },
  nodes,
  models: [{ name: "scale", versions: [{ version: "1", nodes: ["a"] }], circuitBreaker: { maxRequests } }],
});

for (const transport of ["sotw", "delta"] as AdsTransport[]) {
  describe(`a cluster change over ${transport}`, () => {
    test("applies on the endpoints sent with it, not after Envoy's initial fetch timeout", async () => {
      const gw = await startGateway({
        transport,
        nodes: [{ name: "a", models: ["scale"] }],
        config: (nodes, port) => config(nodes, port, 100),
      });
      try {
        const envoy = gw.envoys[0]!;
        let updates = (await envoy.stats())["cluster_manager.cds.update_success"] ?? 0;
        for (const maxRequests of [200, 300]) {
          await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, maxRequests));
          const stats = await envoy.stats();
          assert.equal(stats["cluster_manager.cds.update_success"], updates + 1, "the change was applied");
          updates += 1;
          assert.equal(
            stats["cluster.scale~1.init_fetch_timeout"],
            0,
            "the cluster never waited out its endpoints",
          );
          assert.equal(stats["cluster_manager.warming_clusters"], 0);
        }
      } finally {
        await gw.stop();
      }
    });
  });
}
