/**
 * A node that speaks only the REST/JSON form behind the gateway (#15): `protocol: rest`, its address
 * its REST port. The control plane probes it over HTTP; REST calls are split across it and a node
 * that speaks both; gRPC calls go only where gRPC is served (its version's share moves to the
 * other); killed, it is found UNHEALTHY over HTTP and REST calls fail over to the other version.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { servedByHeader, servedVersionHeader } from "@inferencehub/contracts/headers";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";

const health = { interval: "500ms", timeout: "250ms", healthyThreshold: 1, unhealthyThreshold: 2, jitter: 0 };

describe("a REST-only node behind the gateway (#15)", () => {
  let gw: GatewayFixture;
  let base = "";
  const scaleBody = JSON.stringify({
    inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: SCALE_SAMPLE_INPUT }],
  });
  const restVersions = async (calls: number) => {
    const seen: string[] = [];
    for (let i = 0; i < calls; i++) {
      const res = await fetch(`${base}/v2/models/scale/infer`, { method: "POST", body: scaleBody });
      assert.equal(res.status, 200, await res.clone().text());
      const version = res.headers.get(servedVersionHeader) ?? "";
      assert.equal(res.headers.get(servedByHeader), version === "2" ? "node-r" : "node-g");
      await res.arrayBuffer();
      seen.push(version);
    }
    return seen;
  };

  before(async () => {
    gw = await startGateway({
      nodes: [
        { name: "node-g", models: ["scale"], httpPort: 0 },
        { name: "node-r", models: ["scale"], httpPort: 0 },
      ],
      config: (entries, port) => {
        const rest = entries.find((e) => e.name === "node-r");
        return {
          listener: { address: "127.0.0.1", port },
          defaults: { health },
          nodes: [
            entries.find((e) => e.name === "node-g"),
            // Its gRPC port is not in the config: the gateway knows it by its REST port alone.
            { name: "node-r", address: `127.0.0.1:${rest?.restPort}`, protocol: "rest" },
          ],
          models: [
            {
              name: "scale",
              versions: [
                { version: "1", weight: 50, nodes: ["node-g"] },
                { version: "2", weight: 50, nodes: ["node-r"] },
              ],
            },
          ],
        };
      },
    });
    base = `http://127.0.0.1:${gw.listenPort}`;
  });
  after(() => gw?.stop());

  test("probed over HTTP: HEALTHY, with no probe failing", async () => {
    await gw.xds.waitFor((s) => s.health?.["node-r"]?.["scale/2"] === "HEALTHY", "node-r HEALTHY");
    const metrics = await gw.xds.metrics();
    assert.doesNotMatch(metrics, /inferencehub_health_probe_failures_total\{[^}]*node="node-r"[^}]*\} [1-9]/);
  });

  test("REST calls are split across both; gRPC calls all go to the version with a gRPC node", async () => {
    const seen = await restVersions(100);
    const v2 = seen.filter((v) => v === "2").length;
    // 50/50 over 100 calls: 5 sd is 25 either side.
    assert.ok(v2 >= 25 && v2 <= 75, `REST: version 2 answered ${v2} of 100`);
    const client = gw.client();
    for (let i = 0; i < 30; i++) {
      const { response, headers } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
        metadata: { "inferencehub-model": "scale" },
      });
      assert.equal(response.modelVersion, "1");
      assert.equal(headers[servedByHeader], "node-g");
    }
    // Pinned over gRPC to the REST-only version: told so, not "no node is up".
    await assert.rejects(
      client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
        metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "2" },
      }),
      (err: ServiceError) => {
        assert.equal(err.code, status.UNIMPLEMENTED, err.details);
        assert.match(err.details, /version '2' of model 'scale' is served over REST only/);
        return true;
      },
    );
  });

  test("killed: found UNHEALTHY over HTTP, and its share of REST calls goes to the other version", async () => {
    await gw.nodes.get("node-r")?.stop("SIGKILL");
    await gw.xds.waitFor((s) => s.health?.["node-r"]?.["scale/2"] === "UNHEALTHY", "node-r UNHEALTHY");
    await gw.xds.waitForSync("envoy-1");
    assert.deepEqual([...new Set(await restVersions(30))], ["1"]);
    // One version still serves: the gateway stays ready.
    const ready = await fetch(`${base}/v2/health/ready`);
    assert.equal(ready.status, 200, await ready.text());
  });
});
