/**
 * Proxyless clients (issue #11): a grpc-js-xds client (xds:///scale) sends no version header, so a
 * node serving several versions of a model could not tell which one its split chose (300 of 300
 * calls answered by a weight-0 version). With a port per version on the node (--version-port,
 * nodes[].versionPorts), the control plane sends proxyless clients to the chosen version's port:
 * the published weights are the split they get, a weight-0 version answers only when pinned, and
 * every answer is computed by the version that the split or the pin chose.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import type { InferClient } from "../scripts/lib/infer-client.js";
import { freePorts } from "../scripts/lib/ports.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import { assertClose, failure } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { proxylessClient } from "./lib/proxyless.js";

const versions = ["1", "2", "3"];

describe("proxyless clients and a node serving three versions, one port each (#11)", () => {
  let gw: GatewayFixture;
  let client: InferClient;
  let versionPorts: { model: string; version: string; port: number }[] = [];

  const config = (nodes: NodeEntry[], listenPort: number, withPorts: boolean) =>
    gatewayConfig(
      nodes.map((n) => (withPorts ? { ...n, versionPorts } : n)),
      listenPort,
      // Version 3 has weight 0: only a call pinned to it may reach it.
      [scaleModel([60, 40, 0], ["node-a"])],
    );

  before(async () => {
    const ports = await freePorts(versions.length);
    versionPorts = versions.map((version, i) => ({ model: "scale", version, port: ports[i] ?? 0 }));
    gw = await startGateway({
      envoy: false,
      nodes: [
        {
          name: "node-a",
          models: ["scale"],
          args: versionPorts.flatMap((vp) => ["--version-port", `scale/${vp.version}=${vp.port}`]),
        },
      ],
      config: (nodes, port) => config(nodes, port, true),
    });
    client = proxylessClient(gw.xds.adsPort, "proxyless-versions", "xds:///scale");
  });

  after(async () => {
    client?.close();
    await gw?.stop();
  });

  /** `total` calls, eight at a time; each answer checked against the version that computed it. */
  const answeredVersions = async (total: number, metadata: Record<string, string> = {}) => {
    const counts = new Map<string, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        sent++;
        const { response } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
          metadata,
          deadlineMs: 10_000,
        });
        // The output is the version's own (scale versions multiply by different factors).
        assertClose(fp32Output(response), scaleReference(response.modelVersion, SCALE_SAMPLE_INPUT));
        counts.set(response.modelVersion, (counts.get(response.modelVersion) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return counts;
  };

  test("unpinned calls follow the 60/40/0 split; the weight-0 version never answers", async () => {
    const counts = await answeredVersions(1000);
    assert.equal(counts.get("3") ?? 0, 0, "version 3 has weight 0");
    const v2 = counts.get("2") ?? 0;
    // 4.5 standard deviations of Binomial(1000, 0.4).
    const sd = Math.sqrt(1000 * 0.4 * 0.6);
    assert.ok(Math.abs(v2 - 400) <= 4.5 * sd, `version 2 answered ${v2} of 1000`);
    assert.equal((counts.get("1") ?? 0) + v2, 1000);
    const xdsStatus = await gw.xds.status();
    assert.deepEqual(xdsStatus.proxylessLimits, [], "every version of node-a has its port");
  });

  test("a call pinned by the version header gets that version, weight 0 included", async () => {
    for (const version of versions) {
      const counts = await answeredVersions(40, { "inferencehub-model-version": version });
      assert.deepEqual([...counts], [[version, 40]]);
    }
  });

  test("a version in the body that the split did not choose is refused, never answered by another", async () => {
    // grpc-js routes on headers only: the body's version is the node's to check against its port's.
    const request = { ...fp32Request("scale", SCALE_SAMPLE_INPUT), modelVersion: "3" };
    const err = await failure(client.infer(request, { deadlineMs: 10_000 }));
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.match(
      err.details,
      /model_version '3' in the request is not version '[12]', which the gateway routed/,
    );
    // Pinned by the header as well, the same version: answered.
    const pinned = await client.infer(request, { metadata: { "inferencehub-model-version": "3" } });
    assert.equal(pinned.response.modelVersion, "3");
  });

  test("without version ports the control plane says which versions proxyless clients cannot get", async () => {
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, false), { clients: ["proxyless-versions"] });
    const xdsStatus = await gw.xds.status();
    assert.equal(xdsStatus.proxylessLimits.length, 1);
    assert.match(
      xdsStatus.proxylessLimits[0] ?? "",
      /node 'node-a' serves versions 1, 2, 3, and 1, 2, 3 without a port/,
    );
  });
});
