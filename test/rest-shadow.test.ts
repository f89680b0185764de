/**
 * REST shadow copies through a real Envoy (#15): every unpinned REST call to `scale` is answered
 * by version 1 and copied to version 2, whose REST cluster writes version 2 into the copy's path;
 * version 2's node counts the copies as its own calls (a copy with version 1's path would be
 * counted as version 1, or refused for naming another version than the routed one).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { servedVersionHeader } from "@inferencehub/contracts/headers";
import { metricValue } from "../scripts/lib/node-process.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { eventually } from "./lib/assertions.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";

describe("REST shadow copies run the shadow version (#15)", () => {
  let gw: GatewayFixture;
  const body = JSON.stringify({
    inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: SCALE_SAMPLE_INPUT }],
  });

  before(async () => {
    gw = await startGateway({
      nodes: [
        { name: "node-a", models: ["scale"], httpPort: 0 },
        { name: "node-b", models: ["scale"], httpPort: 0 },
      ],
      config: (nodes, port) => ({
        listener: { address: "127.0.0.1", port },
        nodes,
        models: [
          {
            name: "scale",
            versions: [
              { version: "1", weight: 100, nodes: ["node-a"] },
              { version: "2", weight: 0, nodes: ["node-b"] },
            ],
            shadow: { version: "2", percent: 100 },
          },
        ],
      }),
    });
  });
  after(() => gw?.stop());

  test("each call is answered by version 1 and copied to version 2 as version 2's call", async () => {
    const shadowNode = gw.nodes.get("node-b");
    assert.ok(shadowNode);
    const count = async (version: string) =>
      metricValue(await shadowNode.metrics(), "inferencehub_node_requests_total", {
        model: "scale",
        version,
      });
    const calls = 20;
    for (let i = 0; i < calls; i++) {
      const res = await fetch(`http://127.0.0.1:${gw.listenPort}/v2/models/scale/infer`, {
        method: "POST",
        body,
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get(servedVersionHeader), "1");
      await res.arrayBuffer();
    }
    // Copies are sent beside the call, and may land after its answer.
    await eventually(async () => (await count("2")) >= calls, `${calls} copies counted as version 2`);
    assert.equal(await count("2"), calls);
    assert.equal(await count("1"), 0, "no copy ran version 1 on the shadow node");
    const errors = metricValue(await shadowNode.metrics(), "inferencehub_node_errors_total", {
      model: "scale",
    });
    assert.equal(errors, 0);
  });
});
