/**
 * Triton's extensions through a real Envoy steered by the control plane, with the real ext-authz
 * and real reference nodes (issue #12): ModelConfig and ModelStatistics routed by the model name in
 * their body (as stock tritonclient calls them, with no model header) or by the header, and checked
 * against it; ModelStreamInfer answered message by message, and ended with UNAVAILABLE, not a
 * hang, when its node is killed mid-stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { DataType } from "../gen/inference/inference/grpc_service.js";
import type { ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { toMetadata } from "../scripts/lib/infer-client.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import {
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  mlpReference,
  scaleReference,
} from "../scripts/lib/test-models.js";
import { assertClose, eventually, failure, grpcCall } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startTestAuthz } from "./lib/auth.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";
import { openStream } from "./lib/stream-client.js";

const apiKey = "ihk_model-calls";
const bearer = { authorization: `Bearer ${apiKey}` };
const scaleHeader = { "inferencehub-model": "scale" };

describe("ModelConfig, ModelStatistics and ModelStreamInfer through the gateway (#12)", () => {
  let gw: GatewayFixture;
  let authz: ExtAuthzProcess;

  before(async () => {
    const extAuthzPort = await freePort();
    gw = await startGateway({
      nodes: [
        { name: "node-scale", models: ["scale"] },
        // mlp's preferred node, slow enough for a kill to land while a request runs: the last test
        // kills it. node-mlp-b, in the fallback pool, serves mlp only once node-mlp is down.
        { name: "node-mlp", models: ["mlp"], args: ["--infer-delay-ms", "1000"] },
        { name: "node-mlp-b", models: ["mlp"] },
      ],
      config: (nodes, port) =>
        gatewayConfig(
          nodes.map((n) => (n.name === "node-mlp-b" ? { ...n, pool: "fallback" } : n)),
          port,
          [
            scaleModel([50, 50], ["node-scale"]),
            { name: "mlp", versions: [{ version: "1", nodes: ["node-mlp", "node-mlp-b"] }] },
          ],
          {
            pools: ["default", "fallback"],
            auth: {
              extAuthz: { address: `127.0.0.1:${extAuthzPort}`, timeout: "1s" },
              keysFile: "keys.yaml",
              tenants: [{ name: "acme", models: ["scale", "mlp"] }],
            },
          },
        ),
    });
    authz = await startTestAuthz(gw, extAuthzPort, [{ id: "acme", tenant: "acme", key: apiKey }]);
  });

  after(async () => {
    await authz?.stop();
    await gw?.stop();
  });

  test("ModelConfig: routed by the body's model without a header, by the header with one", async () => {
    const client = gw.client().raw;
    const byBody = await grpcCall(client, "modelConfig", { name: "scale", version: "" }, toMetadata(bearer));
    assert.equal(byBody.config?.name, "scale");
    assert.equal(byBody.config?.platform, "onnxruntime_onnx");
    assert.deepEqual(byBody.config?.input, [{ name: "input", dataType: DataType.TYPE_FP32, dims: [-1, 4] }]);
    assert.deepEqual(byBody.config?.output, [
      { name: "output", dataType: DataType.TYPE_FP32, dims: [-1, 4] },
    ]);
    const mlp = await grpcCall(client, "modelConfig", { name: "mlp", version: "" }, toMetadata(bearer));
    assert.deepEqual(mlp.config?.output, [{ name: "output", dataType: DataType.TYPE_FP32, dims: [-1, 3] }]);
    const byHeader = await grpcCall(
      client,
      "modelConfig",
      { name: "scale", version: "2" },
      toMetadata({ ...bearer, ...scaleHeader }),
    );
    assert.deepEqual(byHeader.config, byBody.config);
    // No credentials: refused before any node sees the call.
    const anonymous = await failure(grpcCall(client, "modelConfig", { name: "scale", version: "" }));
    assert.equal(anonymous.code, status.UNAUTHENTICATED, anonymous.details);
  });

  test("ModelStatistics: routed by body or header, counting the calls the gateway sent", async () => {
    const client = gw.client().raw;
    const v2 = async () => {
      const { modelStats } = await grpcCall(
        client,
        "modelStatistics",
        { name: "scale", version: "2" },
        toMetadata(bearer),
      );
      assert.equal(modelStats.length, 1);
      assert.equal(modelStats[0]?.name, "scale");
      assert.equal(modelStats[0]?.version, "2");
      return modelStats[0]?.inferenceCount ?? -1;
    };
    const before = await v2();
    for (let i = 0; i < 3; i++) {
      const { response } = await gw
        .client()
        .infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }), {
          metadata: bearer,
        });
      assert.equal(response.modelVersion, "2");
    }
    assert.equal((await v2()) - before, 3);
    // With the header and no version: the version the gateway's split picked answers for itself.
    const { modelStats } = await grpcCall(
      client,
      "modelStatistics",
      { name: "scale", version: "" },
      toMetadata({ ...bearer, ...scaleHeader }),
    );
    assert.equal(modelStats.length, 1);
    assert.ok(["1", "2"].includes(modelStats[0]?.version ?? ""), JSON.stringify(modelStats));
  });

  test("a body naming another model than the header is INVALID_ARGUMENT, for both calls", async () => {
    const client = gw.client().raw;
    const metadata = toMetadata({ ...bearer, ...scaleHeader });
    for (const method of ["modelConfig", "modelStatistics"] as const) {
      const err = await failure(grpcCall(client, method, { name: "mlp", version: "" }, metadata));
      assert.equal(err.code, status.INVALID_ARGUMENT, `${method}: ${err.details}`);
      assert.match(
        err.details,
        /model_name 'mlp' in the request does not match the inferencehub-model header 'scale'/,
      );
    }
  });

  test("ModelStreamInfer with the model header: each message answered in turn with the right output", async () => {
    const pinned = openStream(gw.client().raw, {
      metadata: { ...bearer, ...scaleHeader, "inferencehub-model-version": "2" },
    });
    const inputs = [SCALE_SAMPLE_INPUT, [[1, 1, 1, 1]], [[-2, 0, 2, 4]]];
    // Message by message: the next is sent only once the previous one is answered.
    for (const [i, rows] of inputs.entries()) {
      pinned.send({ ...fp32Request("scale", rows), id: `m-${i}` });
      const answer = await pinned.next();
      assert.equal(answer.errorMessage, "");
      assert.equal(answer.inferResponse?.id, `m-${i}`);
      assert.equal(answer.inferResponse?.modelVersion, "2");
      assertClose(fp32Output(answer.inferResponse ?? assert.fail()), scaleReference("2", rows));
    }
    // An error answers that message only; the stream goes on.
    pinned.send(fp32Request("scale", [[1, 2, 3]]));
    assert.match((await pinned.next()).errorMessage, /does not fit/);
    pinned.send(fp32Request("scale", SCALE_SAMPLE_INPUT));
    assertClose(
      fp32Output((await pinned.next()).inferResponse ?? assert.fail()),
      scaleReference("2", SCALE_SAMPLE_INPUT),
    );
    assert.equal((await pinned.headers)["x-inferencehub-node"], "node-scale");
    pinned.end();
    const end = await pinned.status;
    assert.equal(end.code, status.OK, `${status[end.code]} ${end.details}`);

    // Unpinned: the split picks one version for the whole stream, and every answer is that version's.
    const split = openStream(gw.client().raw, { metadata: { ...bearer, ...scaleHeader } });
    for (let i = 0; i < 3; i++) split.send(fp32Request("scale", SCALE_SAMPLE_INPUT));
    const versions = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const response = (await split.next()).inferResponse ?? assert.fail();
      versions.add(response.modelVersion);
      assertClose(fp32Output(response), scaleReference(response.modelVersion, SCALE_SAMPLE_INPUT));
    }
    assert.equal(versions.size, 1, [...versions].join(","));
    split.end();
    assert.equal((await split.status).code, status.OK);
  });

  test("ModelStreamInfer without the model header: routed by its first message's model and version", async () => {
    const pinned = openStream(gw.client().raw, { metadata: bearer });
    pinned.send({ ...fp32Request("scale", SCALE_SAMPLE_INPUT), modelVersion: "2" });
    const first = (await pinned.next()).inferResponse ?? assert.fail();
    assert.equal(first.modelVersion, "2");
    assertClose(fp32Output(first), scaleReference("2", SCALE_SAMPLE_INPUT));
    assert.equal((await pinned.headers)["x-inferencehub-node"], "node-scale");
    // A later message naming another model is answered by an error on the stream, which goes on.
    pinned.send(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assert.match((await pinned.next()).errorMessage, /routed for model 'scale' but its body names 'mlp'/);
    pinned.send({ ...fp32Request("scale", [[1, 1, 1, 1]]), modelVersion: "2" });
    assertClose(
      fp32Output((await pinned.next()).inferResponse ?? assert.fail()),
      scaleReference("2", [[1, 1, 1, 1]]),
    );
    pinned.end();
    assert.equal((await pinned.status).code, status.OK);

    // A first message naming no model: INVALID_ARGUMENT, saying what to send.
    const nameless = openStream(gw.client().raw, { metadata: bearer });
    nameless.send(fp32Request("", SCALE_SAMPLE_INPUT));
    const refused = await nameless.status;
    assert.equal(refused.code, status.INVALID_ARGUMENT, refused.details);
    assert.match(refused.details, /set the inferencehub-model header, or model_name/);
    // Without credentials, a stream named by its first message is refused like any call.
    const anonymous = openStream(gw.client().raw, {});
    anonymous.send(fp32Request("scale", SCALE_SAMPLE_INPUT));
    assert.equal((await anonymous.status).code, status.UNAUTHENTICATED);
  });

  test("ModelStreamInfer: the node killed mid-stream ends its streams at once, not in a hang", async () => {
    // Each stream's deadline bounds the wait: a hang would end DEADLINE_EXCEEDED, long after the kill.
    const streamOpts = { metadata: { ...bearer, "inferencehub-model": "mlp" }, deadlineMs: 20_000 };
    // `answered` has had an answer (its response has begun); `waiting` has a request on the node.
    const answered = openStream(gw.client().raw, streamOpts);
    answered.send(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assertClose(
      fp32Output((await answered.next()).inferResponse ?? assert.fail()),
      mlpReference(MLP_SAMPLE_INPUT),
    );
    const node = gw.nodes.get("node-mlp") ?? assert.fail();
    const waiting = openStream(gw.client().raw, streamOpts);
    waiting.send(fp32Request("mlp", MLP_SAMPLE_INPUT));
    await eventually(
      async () => metricValue(await node.metrics(), "inferencehub_node_inflight", { model: "mlp" }) === 1,
      "the waiting stream's request to run on the node",
    );
    const killedAt = Date.now();
    await node.stop("SIGKILL");
    const [waitingEnd, answeredEnd] = await Promise.all([waiting.status, answered.status]);
    const took = Date.now() - killedAt;
    assert.ok(took < 5_000, `the streams ended ${took} ms after the kill`);
    // No answer had begun: Envoy answers the stream itself, UNAVAILABLE, as for a unary call.
    assert.equal(waitingEnd.code, status.UNAVAILABLE, `${status[waitingEnd.code]} ${waitingEnd.details}`);
    // Its answer had begun, so Envoy can only reset the stream (RST_STREAM INTERNAL_ERROR), which
    // gRPC reads as INTERNAL: what matters here is that it ends at once, with an error.
    assert.ok(
      answeredEnd.code === status.UNAVAILABLE || answeredEnd.code === status.INTERNAL,
      `${status[answeredEnd.code]} ${answeredEnd.details}`,
    );
    // A new stream, with no model header, is served by the node that is left.
    const next = openStream(gw.client().raw, { metadata: bearer, deadlineMs: 10_000 });
    next.send(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assertClose(
      fp32Output((await next.next()).inferResponse ?? assert.fail()),
      mlpReference(MLP_SAMPLE_INPUT),
    );
    assert.equal((await next.headers)["x-inferencehub-node"], "node-mlp-b");
    next.end();
    assert.equal((await next.status).code, status.OK);
  });
});
