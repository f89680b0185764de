/**
 * The TypeScript SDK's proxyless mode (#19): `Client.proxyless` registers grpc-js-xds against the
 * control plane and calls the nodes itself (no Envoy runs here): the split and a version pin seen
 * from the client, a stream, metadata, and the refusals (credentials, gateway-only calls).
 * A file of its own: grpc-js-xds reads its bootstrap once per process.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { modelsDir } from "../scripts/lib/paths.js";
import { SCALE_SAMPLE_INPUT, flatten, scaleReference, unflatten } from "../scripts/lib/test-models.js";
import { Client, DeadlineExceededError, InferenceHubError, status } from "../sdk/typescript/src/index.js";
import { assertClose } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";

/** A model repository holding one version of one model (a link to the generated model). */
async function oneVersionRepository(model: string, version: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-repo-"));
  await mkdir(join(dir, model));
  await symlink(join(modelsDir, model, version), join(dir, model, version));
  return dir;
}

const input = { data: Float32Array.from(flatten(SCALE_SAMPLE_INPUT)), shape: [SCALE_SAMPLE_INPUT.length, 4] };

describe("TypeScript SDK, proxyless (grpc-js-xds)", () => {
  let gw: GatewayFixture;
  let client: Client;
  let repos: string[] = [];

  before(async () => {
    // One version per node: a node runs the version the body names, and an unpinned call names
    // none, so the version grpc-js-xds picked is the one its node holds (see the SDK's README).
    repos = await Promise.all(["1", "2"].map((v) => oneVersionRepository("scale", v)));
    gw = await startGateway({
      envoy: false,
      nodes: repos.map((modelsDir, i) => ({ name: `node-v${i + 1}`, modelsDir })),
      config: (nodes, port) => gatewayConfig(nodes, port, [scaleModel([50, 50], (v) => [`node-v${v}`])]),
    });
    client = await Client.proxyless({
      controlPlane: `127.0.0.1:${gw.xds.adsPort}`,
      nodeId: "sdk-proxyless",
      timeoutMs: 10_000,
    });
  });

  after(async () => {
    client?.close();
    await gw?.stop();
    for (const dir of repos) await rm(dir, { recursive: true, force: true });
  });

  test("the 50/50 split and a pin, from the nodes themselves; each answer is its version's", async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await client.infer("scale", { input });
      assertClose(
        unflatten(r.output("output", "FP32").data, 4),
        scaleReference(r.modelVersion, SCALE_SAMPLE_INPUT),
      );
      seen[r.modelVersion] = (seen[r.modelVersion] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(seen).sort(), ["1", "2"], JSON.stringify(seen));
    for (let i = 0; i < 5; i++)
      assert.equal((await client.infer("scale", { input }, { version: "2" })).modelVersion, "2");
    const status_ = await gw.xds.status();
    assert.equal(status_.clients.find((c) => c.nodeId === "sdk-proxyless")?.group, "proxyless");
  });

  test("a stream and metadata go to the model's nodes", async () => {
    const answers = [];
    for await (const r of client.stream("scale", [{ input }, { input }], { version: "1" })) answers.push(r);
    assert.deepEqual(
      answers.map((r) => r.modelVersion),
      ["1", "1"],
    );
    assert.equal((await client.metadata("scale", { version: "1" })).name, "scale");
    assert.equal(await client.ready("scale"), true);
  });

  test("refused: credentials (they stop at the gateway), gateway-only calls, unknown models", async () => {
    assert.throws(() => new Client("xds:///", { apiKey: "ihk_x" }), /must stop at the gateway/);
    const live = await client.live().catch((e: unknown) => e);
    assert.ok(live instanceof InferenceHubError && live.code === status.UNIMPLEMENTED, String(live));
    assert.throws(() => client.grpc, /channel per model/);
    // No gateway to say NOT_FOUND: grpc-js-xds waits for the model's routes until the deadline.
    const unknown = await client.infer("nope", { input }, { timeoutMs: 1000 }).catch((e: unknown) => e);
    assert.ok(unknown instanceof DeadlineExceededError, String(unknown));
  });
});
