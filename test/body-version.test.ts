/**
 * The version routing chose reaches a server that reads the version from the request body, as
 * Triton and MLServer do (issue #11). A reference node started with `--version-from body` stands
 * in for such a server: it ignores the gateway's x-inferencehub-model-version header, so without
 * the body rewrite an unpinned call (empty model_version) would run its default model (the newest,
 * version 3) whatever the split said.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { createInferClient } from "../scripts/lib/infer-client.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import { failure } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany } from "./lib/load.js";

const scale = fp32Request("scale", SCALE_SAMPLE_INPUT);
const header = { "inferencehub-model": "scale" };

function config(nodes: NodeEntry[], listenPort: number, serverVersion?: string) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes: nodes.map((n) => (n.name === "stock" ? { ...n, versionFrom: "body" } : n)),
    models: [
      {
        name: "scale",
        versions: [
          { version: "1", weight: 50, nodes: ["reference"] },
          {
            version: "2",
            weight: 50,
            nodes: ["stock"],
            ...(serverVersion !== undefined ? { serverVersion } : {}),
          },
          { version: "3", weight: 0, nodes: ["stock"] },
        ],
      },
    ],
  };
}

const outputOf = (contents: { fp32Contents: number[] } | undefined) => contents?.fp32Contents ?? [];

describe("a server that reads the version from the body", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({
      nodes: [
        { name: "reference", models: ["scale"] },
        { name: "stock", models: ["scale"], args: ["--version-from", "body"] },
      ],
      config: (nodes, port) => config(nodes, port),
    });
  });
  after(() => gw?.stop());

  test("every unpinned call is answered by the version the split chose, with that version's output", async () => {
    const stats = await callMany(gw.client(), {
      total: 200,
      concurrency: 4,
      request: scale,
      metadata: header,
    });
    assert.equal(stats.failures.length, 0);
    const byVersion = stats.byVersion();
    assert.deepEqual([...byVersion.keys()].sort(), ["1", "2"], "version 3 (weight 0) never answers");
    for (const v of ["1", "2"]) {
      const n = byVersion.get(v) ?? 0;
      assert.ok(n > 65 && n < 135, `${n} of 200 on version ${v} (50%, ±5 sd)`);
    }
    assert.ok(stats.calls.every((c) => (c.version === "2") === (c.node === "stock")));
  });

  test("pinned by header: the body says the pinned version, and the output is that version's", async () => {
    for (const v of ["2", "3"]) {
      const { response, headers } = await gw
        .client()
        .infer(scale, { metadata: { ...header, "inferencehub-model-version": v } });
      assert.equal(response.modelVersion, v);
      assert.equal(headers["x-inferencehub-node"], "stock");
      assert.deepEqual(outputOf(response.outputs[0]?.contents), scaleReference(v, SCALE_SAMPLE_INPUT).flat());
    }
  });

  test('serverVersion "": the server\'s default model answers (the body names no version)', async () => {
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, ""));
    const { response } = await gw.client().infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }), {
      metadata: { ...header, "inferencehub-model-version": "2" },
    });
    // The stand-in's default is its newest version.
    assert.equal(response.modelVersion, "3");
  });

  test("a request over Envoy's 1 MiB buffer: RESOURCE_EXHAUSTED saying why, not UNKNOWN", async () => {
    const rows = Array.from({ length: 70_000 }, (_, i) => [i, i, i, i]);
    const err = await failure(
      gw
        .client()
        .infer(fp32Request("scale", rows), { metadata: { ...header, "inferencehub-model-version": "2" } }),
    );
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
    assert.match(err.details, /larger than the 1 MiB the gateway can buffer/);
  });

  test("a compressed request cannot be rewritten: INVALID_ARGUMENT, not the client's version", async () => {
    const client = createInferClient(`127.0.0.1:${gw.listenPort}`, {
      "grpc.default_compression_algorithm": 2,
    });
    try {
      const err = await failure(
        client.infer(scale, { metadata: { ...header, "inferencehub-model-version": "2" } }),
      );
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /cannot rewrite in a compressed message/);
    } finally {
      client.close();
    }
  });
});
