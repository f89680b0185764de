/**
 * The reference node as a real process, called over real gRPC: real ONNX outputs in both tensor
 * forms, metadata, health, repository calls (operators only), and every kind of bad input
 * answered with the right status, in a bounded message, while the node keeps serving.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  MIXED_SAMPLE_INPUTS,
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  SCALE_VERSIONS,
  mixedReference,
  mlpReference,
  scaleReference,
} from "../scripts/lib/test-models.js";
import { createInferClient, toMetadata, type InferClient } from "../scripts/lib/infer-client.js";
import { metricValue, startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { modelsDir, repoRoot } from "../scripts/lib/paths.js";
import { fp32Output, fp32Request, mixedOutputs, mixedRequest } from "../scripts/lib/requests.js";
import { assertClose, grpcCall } from "./lib/assertions.js";
import { HealthClient } from "../gen/inference/grpc/health/v1/health.js";
import { DataType, type ModelStatistics } from "../gen/inference/inference/grpc_service.js";
import { openStream } from "./lib/stream-client.js";
import { credentials } from "@grpc/grpc-js";

/** Bytes a status message takes as the grpc-message trailer (grpc-js sends encodeURI(details)). */
const wireBytes = (details: string) => encodeURI(details).length;

function isStatus(code: status, pattern: RegExp) {
  return (err: unknown) => {
    const e = err as ServiceError;
    assert.equal(
      e.code,
      code,
      `expected ${status[code]}, got ${status[e.code]}: ${e.details?.slice(0, 300)}`,
    );
    // issue #10 finding 3: whatever the client sent, a message stays well under 1 KiB.
    assert.ok(wireBytes(e.details) < 1024, `grpc-message of ${wireBytes(e.details)} bytes`);
    assert.match(e.details, pattern);
    return true;
  };
}

const REPOSITORY_TOKEN = "node-test-repository-token-0123456789";
const operator = (token = REPOSITORY_TOKEN) => toMetadata({ "x-inferencehub-repository-token": token });

describe("reference inference node, called directly", () => {
  let node: NodeProcess;
  let slow: NodeProcess;
  let client: InferClient;
  let slowClient: InferClient;
  let dir = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferencehub-node-test-"));
    const tokenFile = join(dir, "repository-token");
    await writeFile(tokenFile, `${REPOSITORY_TOKEN}\n`);
    await chmod(tokenFile, 0o600);
    [node, slow] = await Promise.all([
      startNode({
        name: "direct-1",
        args: ["--max-message-bytes", String(256 * 1024), "--repository-token-file", tokenFile],
      }),
      // No repository token: repository calls are refused (fail closed).
      // One slot, one queue place and a slow "accelerator", so queueing is deterministic.
      startNode({
        name: "slow-1",
        models: ["mlp"],
        args: ["--max-concurrent", "1", "--max-queue", "1", "--infer-delay-ms", "400"],
      }),
    ]);
    client = createInferClient(node.address);
    slowClient = createInferClient(slow.address);
  });

  after(async () => {
    client?.close();
    slowClient?.close();
    await Promise.all([node?.stop(), slow?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  const stillServes = async (c: InferClient = client) => {
    const { response } = await c.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assertClose(fp32Output(response), mlpReference(MLP_SAMPLE_INPUT));
  };

  test("mlp: typed contents in, typed contents out, equal to the known weights", async () => {
    const { response, headers } = await client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assert.equal(response.rawOutputContents.length, 0);
    assertClose(fp32Output(response), mlpReference(MLP_SAMPLE_INPUT));
    assert.equal(headers["x-inferencehub-node"], "direct-1");
    assert.equal(headers["x-inferencehub-model-version"], "1");
  });

  test("mlp: raw_input_contents in, raw_output_contents out", async () => {
    const { response } = await client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT, { raw: true }));
    assert.equal(response.rawOutputContents.length, 1);
    assertClose(fp32Output(response), mlpReference(MLP_SAMPLE_INPUT));
  });

  test("scale: each version gives its own output and says which version answered", async () => {
    for (const version of SCALE_VERSIONS) {
      const { response, headers } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version }));
      assert.equal(response.modelVersion, version);
      assert.equal(headers["x-inferencehub-model-version"], version);
      assertClose(fp32Output(response), scaleReference(version, SCALE_SAMPLE_INPUT));
    }
    const { response } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT));
    assert.equal(response.modelVersion, SCALE_VERSIONS.at(-1), "no version asked: the newest answers");
  });

  test("the gateway's x-inferencehub-model-version header picks the version; a body naming another is refused", async () => {
    const { response } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
      metadata: { "x-inferencehub-model-version": "2" },
    });
    assert.equal(response.modelVersion, "2");
    assertClose(fp32Output(response), scaleReference("2", SCALE_SAMPLE_INPUT));
    // The same version in both: answered. Another: refused, naming both, never answered by either.
    const same = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }), {
      metadata: { "x-inferencehub-model-version": "2" },
    });
    assert.equal(same.response.modelVersion, "2");
    await assert.rejects(
      client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }), {
        metadata: { "x-inferencehub-model-version": "2" },
      }),
      isStatus(
        status.INVALID_ARGUMENT,
        /model_version '1' in the request is not version '2', which the gateway routed/,
      ),
    );
  });

  test("a body naming another model than the gateway routed for is refused", async () => {
    await assert.rejects(
      client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), { metadata: { "x-inferencehub-model": "mlp" } }),
      isStatus(status.INVALID_ARGUMENT, /routed for model 'mlp' but its body names 'scale'/),
    );
  });

  test("mixed: FP32, INT64, INT32, BOOL, FP16 and BYTES in one call", async () => {
    const { response } = await client.infer(mixedRequest(MIXED_SAMPLE_INPUTS));
    const got = mixedOutputs(response);
    const want = mixedReference(MIXED_SAMPLE_INPUTS);
    assertClose(got.sum, want.sum);
    assert.deepEqual(got.b_twice, want.b_twice);
    assert.deepEqual(got.c_neg, want.c_neg);
    assert.deepEqual(got.not_flag, want.not_flag);
    assertClose(got.h_double, want.h_double);
    assert.deepEqual(got.text_out, want.text_out);
  });

  test("model metadata comes from the ONNX graph", async () => {
    const md = await grpcCall(client.raw, "modelMetadata", { name: "mixed", version: "" });
    assert.equal(md.name, "mixed");
    assert.deepEqual(md.versions, ["1"]);
    const byName = Object.fromEntries(md.inputs.map((i) => [i.name, i]));
    assert.deepEqual(byName.h, { name: "h", datatype: "FP16", shape: [-1, 2] });
    assert.deepEqual(byName.text, { name: "text", datatype: "BYTES", shape: [-1] });
    assert.deepEqual(md.outputs.map((o) => o.name).sort(), [
      "b_twice",
      "c_neg",
      "h_double",
      "not_flag",
      "sum",
      "text_out",
    ]);
  });

  test("ModelConfig (Triton's): name, platform, inputs and outputs from the ONNX graph", async () => {
    const { config } = await grpcCall(client.raw, "modelConfig", { name: "mixed", version: "" });
    assert.ok(config);
    assert.equal(config.name, "mixed");
    assert.equal(config.platform, "onnxruntime_onnx");
    assert.equal(config.backend, "onnxruntime");
    assert.equal(config.maxBatchSize, 0, "no batching by the node: dims are whole shapes");
    const inputs = Object.fromEntries(config.input.map((i) => [i.name, i]));
    assert.deepEqual(Object.keys(inputs).sort(), ["a", "b", "c", "flag", "h", "text"]);
    assert.deepEqual(inputs.a, { name: "a", dataType: DataType.TYPE_FP32, dims: [-1, 2] });
    assert.deepEqual(inputs.b, { name: "b", dataType: DataType.TYPE_INT64, dims: [-1, 2] });
    assert.deepEqual(inputs.flag, { name: "flag", dataType: DataType.TYPE_BOOL, dims: [-1, 2] });
    assert.deepEqual(inputs.h, { name: "h", dataType: DataType.TYPE_FP16, dims: [-1, 2] });
    assert.deepEqual(inputs.text, { name: "text", dataType: DataType.TYPE_STRING, dims: [-1] });
    const sum = config.output.find((o) => o.name === "sum");
    assert.deepEqual(sum, { name: "sum", dataType: DataType.TYPE_FP32, dims: [-1, 2] });

    const mlp = await grpcCall(client.raw, "modelConfig", { name: "mlp", version: "1" });
    assert.deepEqual(mlp.config?.input, [{ name: "input", dataType: DataType.TYPE_FP32, dims: [-1, 4] }]);
    assert.deepEqual(mlp.config?.output, [{ name: "output", dataType: DataType.TYPE_FP32, dims: [-1, 3] }]);

    await assert.rejects(
      grpcCall(client.raw, "modelConfig", { name: "nope", version: "" }),
      isStatus(status.NOT_FOUND, /'nope' is not served/),
    );
    await assert.rejects(
      grpcCall(client.raw, "modelConfig", { name: "scale", version: "9" }),
      isStatus(status.NOT_FOUND, /version '9'/),
    );
    await assert.rejects(
      grpcCall(
        client.raw,
        "modelConfig",
        { name: "scale", version: "" },
        toMetadata({ "x-inferencehub-model": "mlp" }),
      ),
      isStatus(status.INVALID_ARGUMENT, /routed for model 'mlp' but its body names 'scale'/),
    );
  });

  test("ModelStatistics (Triton's): counts that grow with each inference, per version", async () => {
    const stats = async (version: string): Promise<ModelStatistics> => {
      const { modelStats } = await grpcCall(client.raw, "modelStatistics", { name: "scale", version });
      assert.equal(modelStats.length, 1);
      const [s] = modelStats;
      assert.ok(s);
      return s;
    };
    const before = await stats("1");
    const other = await stats("2");
    const t0 = Date.now();
    for (let i = 0; i < 3; i++)
      await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }));
    await assert.rejects(
      client.infer({ ...fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }), inputs: [] }),
      isStatus(status.INVALID_ARGUMENT, /needs input/),
    );
    const after = await stats("1");
    assert.equal(after.name, "scale");
    assert.equal(after.version, "1");
    assert.equal(after.inferenceCount - before.inferenceCount, 3);
    assert.equal(after.executionCount - before.executionCount, 3);
    assert.ok(
      after.lastInference >= t0 && after.lastInference <= Date.now(),
      `last_inference ${after.lastInference}`,
    );
    const d = (k: "success" | "fail" | "queue" | "computeInput" | "computeInfer" | "computeOutput") => ({
      count: (after.inferenceStats?.[k]?.count ?? 0) - (before.inferenceStats?.[k]?.count ?? 0),
      ns: (after.inferenceStats?.[k]?.ns ?? 0) - (before.inferenceStats?.[k]?.ns ?? 0),
    });
    assert.equal(d("success").count, 3);
    assert.equal(d("fail").count, 1);
    for (const k of ["queue", "computeInfer", "computeOutput"] as const) assert.equal(d(k).count, 3, k);
    assert.equal(d("computeInput").count, 3, "the failed request never finished reading its inputs");
    assert.ok(d("success").ns > 0 && d("computeInfer").ns > 0);
    assert.ok(d("success").ns >= d("computeInfer").ns, "a request's time covers its compute");
    assert.deepEqual(await stats("2"), other, "another version's statistics do not move");

    // Without a version: each loaded version, as Triton does; without a name: every loaded model.
    const all = await grpcCall(client.raw, "modelStatistics", { name: "scale", version: "" });
    assert.deepEqual(
      all.modelStats.map((s) => s.version),
      [...SCALE_VERSIONS],
    );
    const everything = await grpcCall(client.raw, "modelStatistics", { name: "", version: "" });
    const names = new Set(everything.modelStats.map((s) => `${s.name}/${s.version}`));
    for (const key of ["mlp/1", "mixed/1", ...SCALE_VERSIONS.map((v) => `scale/${v}`)])
      assert.ok(names.has(key), key);
    await assert.rejects(
      grpcCall(client.raw, "modelStatistics", { name: "nope", version: "" }),
      isStatus(status.NOT_FOUND, /'nope' is not served/),
    );
  });

  test("ModelStreamInfer: several requests on one stream, each answered in order with its output", async () => {
    const stream = openStream(client.raw);
    const sent = [
      { model: "scale", version: "1", rows: SCALE_SAMPLE_INPUT },
      { model: "mlp", version: "", rows: MLP_SAMPLE_INPUT },
      { model: "scale", version: "2", rows: [[5, 6, 7, 8]] },
      { model: "scale", version: "1", rows: [[-1, 0, 1, 2]] },
    ];
    sent.forEach((r, i) =>
      stream.send({ ...fp32Request(r.model, r.rows, { version: r.version }), id: `req-${i}` }),
    );
    for (const [i, r] of sent.entries()) {
      const answer = await stream.next();
      assert.equal(answer.errorMessage, "");
      const response = answer.inferResponse;
      assert.ok(response);
      assert.equal(response.id, `req-${i}`);
      assert.equal(response.modelName, r.model);
      const want = r.model === "mlp" ? mlpReference(r.rows) : scaleReference(r.version, r.rows);
      assertClose(fp32Output(response), want);
    }
    assert.equal((await stream.headers)["x-inferencehub-node"], "direct-1");
    stream.end();
    const end = await stream.status;
    assert.equal(end.code, status.OK, `${status[end.code]} ${end.details}`);
  });

  test("ModelStreamInfer: an error is that request's error_message, and the stream goes on", async () => {
    const stream = openStream(client.raw);
    stream.send({ ...fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }), id: "ok-1" });
    stream.send({ ...fp32Request("nope", SCALE_SAMPLE_INPUT), id: "unknown-model" });
    stream.send({ ...fp32Request("scale", [[1, 2, 3]]), id: "bad-shape" });
    stream.send({ ...fp32Request("mlp", MLP_SAMPLE_INPUT), id: "ok-2" });
    const first = await stream.next();
    assert.equal(first.inferResponse?.id, "ok-1");
    assertClose(fp32Output(first.inferResponse ?? assert.fail()), scaleReference("1", SCALE_SAMPLE_INPUT));
    const unknown = await stream.next();
    assert.match(unknown.errorMessage, /model 'nope' is not served/);
    assert.equal(unknown.inferResponse, undefined);
    assert.match((await stream.next()).errorMessage, /shape \[1,3\] does not fit/);
    const last = await stream.next();
    assert.equal(last.errorMessage, "");
    assertClose(fp32Output(last.inferResponse ?? assert.fail()), mlpReference(MLP_SAMPLE_INPUT));
    // Still open after the errors: one more request, then a clean end.
    stream.send(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }));
    assertClose(
      fp32Output((await stream.next()).inferResponse ?? assert.fail()),
      scaleReference("2", SCALE_SAMPLE_INPUT),
    );
    stream.end();
    assert.equal((await stream.status).code, status.OK);
  });

  test("ModelStreamInfer: the routed model and version headers apply to every message", async () => {
    const stream = openStream(client.raw, {
      metadata: { "x-inferencehub-model": "scale", "x-inferencehub-model-version": "2" },
    });
    stream.send(fp32Request("scale", SCALE_SAMPLE_INPUT));
    stream.send(fp32Request("mlp", MLP_SAMPLE_INPUT));
    stream.send(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }));
    const pinned = await stream.next();
    assert.equal(pinned.inferResponse?.modelVersion, "2", "the routed version");
    assertClose(fp32Output(pinned.inferResponse ?? assert.fail()), scaleReference("2", SCALE_SAMPLE_INPUT));
    assert.match((await stream.next()).errorMessage, /routed for model 'scale' but its body names 'mlp'/);
    assert.match((await stream.next()).errorMessage, /model_version '1' in the request is not version '2'/);
    assert.equal((await stream.headers)["x-inferencehub-model-version"], "2");
    stream.end();
    assert.equal((await stream.status).code, status.OK);
  });

  test("ModelStreamInfer: the same bounded queue as ModelInfer, past it RESOURCE_EXHAUSTED per request", async () => {
    // slow-1: one slot, one queue place, 400 ms each. Three at once: one runs, one waits, one is refused.
    const stream = openStream(slowClient.raw);
    for (let i = 0; i < 3; i++) stream.send({ ...fp32Request("mlp", MLP_SAMPLE_INPUT), id: `q-${i}` });
    assert.equal((await stream.next()).inferResponse?.id, "q-0");
    assert.equal((await stream.next()).inferResponse?.id, "q-1");
    assert.match((await stream.next()).errorMessage, /at capacity: 1 running and 1 queued/);
    stream.end();
    assert.equal((await stream.status).code, status.OK);
    await stillServes(slowClient);
  });

  test("health, liveness and readiness", async () => {
    const health = new HealthClient(node.address, credentials.createInsecure());
    try {
      const res = await grpcCall(health, "check", { service: "inference.GRPCInferenceService" });
      assert.equal(res.status, 1 /* SERVING */);
    } finally {
      health.close();
    }
    assert.deepEqual(await grpcCall(client.raw, "serverLive", {}), { live: true });
    assert.deepEqual(await grpcCall(client.raw, "serverReady", {}), { ready: true });
    assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "scale", version: "2" }), {
      ready: true,
    });
    assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "scale", version: "9" }), {
      ready: false,
    });
  });

  test("repository: unload makes the model NOT_FOUND and not ready; load brings it back", async () => {
    await grpcCall(
      client.raw,
      "repositoryModelUnload",
      { repositoryName: "", modelName: "scale", parameters: {} },
      operator(),
    );
    assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "scale", version: "" }), {
      ready: false,
    });
    await assert.rejects(
      client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT)),
      isStatus(status.NOT_FOUND, /'scale'/),
    );
    const index = await grpcCall(
      client.raw,
      "repositoryIndex",
      { repositoryName: "", ready: false },
      operator(),
    );
    assert.ok(index.models.some((m) => m.name === "scale" && m.state === "UNAVAILABLE"));
    await grpcCall(
      client.raw,
      "repositoryModelLoad",
      { repositoryName: "", modelName: "scale", parameters: {} },
      operator(),
    );
    const { response } = await client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }));
    assertClose(fp32Output(response), scaleReference("2", SCALE_SAMPLE_INPUT));
    await stillServes();
  });

  describe("repository calls are for operators only (issue #10 finding 1)", () => {
    const unload = { repositoryName: "", modelName: "mlp", parameters: {} };
    const denied = isStatus(
      status.PERMISSION_DENIED,
      /^repository calls need the operator token \(x-inferencehub-repository-token\)$/,
    );

    test("without the token, or with a wrong one, every repository call is PERMISSION_DENIED and changes nothing", async () => {
      for (const metadata of [
        new Metadata(),
        operator("wrong"),
        operator(`${REPOSITORY_TOKEN}x`),
        operator(REPOSITORY_TOKEN.slice(0, -1)),
        operator(""),
      ]) {
        await assert.rejects(grpcCall(client.raw, "repositoryModelUnload", unload, metadata), denied);
        await assert.rejects(grpcCall(client.raw, "repositoryModelLoad", unload, metadata), denied);
        await assert.rejects(
          grpcCall(client.raw, "repositoryIndex", { repositoryName: "", ready: false }, metadata),
          denied,
        );
      }
      // Two values (a client's appended to the gateway's) are refused even if one is right.
      const twice = operator();
      twice.add("x-inferencehub-repository-token", "client-chosen");
      await assert.rejects(grpcCall(client.raw, "repositoryModelUnload", unload, twice), denied);
      assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "mlp", version: "" }), {
        ready: true,
      });
      await stillServes();
    });

    test("a node started without a token refuses repository calls, even with a token sent, and says how to enable them", async () => {
      await assert.rejects(
        grpcCall(slowClient.raw, "repositoryModelUnload", unload, operator()),
        isStatus(status.FAILED_PRECONDITION, /disabled on this node.*--repository-token-file/),
      );
      await assert.rejects(
        grpcCall(slowClient.raw, "repositoryIndex", { repositoryName: "", ready: false }, new Metadata()),
        isStatus(status.FAILED_PRECONDITION, /INFERENCEHUB_REPOSITORY_TOKEN/),
      );
      assert.deepEqual(await grpcCall(slowClient.raw, "modelReady", { name: "mlp", version: "" }), {
        ready: true,
      });
    });
  });

  describe("repository model names (issue #10 finding 2)", () => {
    const noServerPath = (err: unknown) => {
      const details = (err as ServiceError).details;
      for (const path of [repoRoot, modelsDir])
        assert.ok(!details.includes(path), `'${details}' shows the server path ${path}`);
      return true;
    };

    test("a name that is no model name (a path) is INVALID_ARGUMENT, for load and unload", async () => {
      for (const modelName of ["../../etc", "..", "scale/../mlp", "/etc/passwd", "Scale", "", "a_b", "-a"]) {
        for (const method of ["repositoryModelLoad", "repositoryModelUnload"] as const) {
          await assert.rejects(
            grpcCall(client.raw, method, { repositoryName: "", modelName, parameters: {} }, operator()),
            (err) => isStatus(status.INVALID_ARGUMENT, /is not a model name/)(err) && noServerPath(err),
            `${method} ${JSON.stringify(modelName)}`,
          );
        }
      }
      await stillServes();
    });

    test("a model that is not on disk is NOT_FOUND without the repository's path", async () => {
      await assert.rejects(
        grpcCall(
          client.raw,
          "repositoryModelLoad",
          { repositoryName: "", modelName: "no-such-model", parameters: {} },
          operator(),
        ),
        (err) =>
          isStatus(
            status.NOT_FOUND,
            /'no-such-model' has no versions in this node's model repository/,
          )(err) && noServerPath(err),
      );
      // The operator finds where the node looked in its log.
      await node.waitForLine(/no versions on disk/);
    });
  });

  describe("model-scoped calls check the routed model (issue #10 finding 4)", () => {
    const routedMlp = () => toMetadata({ "x-inferencehub-model": "mlp" });
    const refused = isStatus(status.INVALID_ARGUMENT, /routed for model 'mlp' but its body names 'scale'/);

    test("ModelMetadata naming another model than the routed one is refused", async () => {
      await assert.rejects(
        grpcCall(client.raw, "modelMetadata", { name: "scale", version: "" }, routedMlp()),
        refused,
      );
      const md = await grpcCall(client.raw, "modelMetadata", { name: "mlp", version: "" }, routedMlp());
      assert.equal(md.name, "mlp");
    });

    test("ModelReady naming another model than the routed one is refused", async () => {
      await assert.rejects(
        grpcCall(client.raw, "modelReady", { name: "scale", version: "" }, routedMlp()),
        refused,
      );
      assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "mlp", version: "" }, routedMlp()), {
        ready: true,
      });
    });

    test("repository load and unload naming another model than the routed one are refused", async () => {
      const metadata = operator();
      metadata.set("x-inferencehub-model", "mlp");
      for (const method of ["repositoryModelLoad", "repositoryModelUnload"] as const) {
        await assert.rejects(
          grpcCall(client.raw, method, { repositoryName: "", modelName: "scale", parameters: {} }, metadata),
          refused,
        );
      }
      assert.deepEqual(await grpcCall(client.raw, "modelReady", { name: "scale", version: "" }), {
        ready: true,
      });
    });
  });

  describe("client input in error messages is bounded (issue #10 finding 3)", () => {
    const long = "x".repeat(20_000);

    test("a 5,000-dimension shape: INVALID_ARGUMENT with the first dimensions and the count", async () => {
      const request = fp32Request("mlp", MLP_SAMPLE_INPUT);
      request.inputs[0]!.shape = Array.from({ length: 5_000 }, () => 1);
      await assert.rejects(
        client.infer(request),
        isStatus(status.INVALID_ARGUMENT, /input 'input': shape \[1,1,1,1,1,1,1,1,… \(5000 dims\)\]/),
      );
      await stillServes();
    });

    test("long names (model, version, input, output, datatype, routed model) are clipped", async () => {
      const cases: [string, () => Promise<unknown>, status][] = [
        ["model", () => client.infer(fp32Request(long, MLP_SAMPLE_INPUT)), status.NOT_FOUND],
        [
          "version",
          () => client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT, { version: long })),
          status.NOT_FOUND,
        ],
        [
          "input",
          () =>
            client.infer({
              ...fp32Request("mlp", MLP_SAMPLE_INPUT),
              inputs: [{ ...fp32Request("mlp", MLP_SAMPLE_INPUT).inputs[0]!, name: long }],
            }),
          status.INVALID_ARGUMENT,
        ],
        [
          "output",
          () =>
            client.infer({
              ...fp32Request("mlp", MLP_SAMPLE_INPUT),
              outputs: [{ name: long, parameters: {} }],
            }),
          status.INVALID_ARGUMENT,
        ],
        [
          "datatype",
          () =>
            client.infer({
              ...fp32Request("mlp", MLP_SAMPLE_INPUT),
              inputs: [{ ...fp32Request("mlp", MLP_SAMPLE_INPUT).inputs[0]!, datatype: long }],
            }),
          status.INVALID_ARGUMENT,
        ],
        [
          "routed model",
          () =>
            client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT), {
              metadata: { "x-inferencehub-model": long.slice(0, 4000) },
            }),
          status.INVALID_ARGUMENT,
        ],
        [
          "metadata",
          () => grpcCall(client.raw, "modelMetadata", { name: long, version: "" }),
          status.NOT_FOUND,
        ],
        [
          "unload",
          () =>
            grpcCall(
              client.raw,
              "repositoryModelUnload",
              { repositoryName: "", modelName: long, parameters: {} },
              operator(),
            ),
          status.INVALID_ARGUMENT,
        ],
      ];
      for (const [what, call, code] of cases) {
        await assert.rejects(call(), (err) => isStatus(code, /x{10,64}…/)(err), what);
      }
      await stillServes();
    });

    test("names outside printable ASCII are escaped, so each character stays a few bytes", async () => {
      const name = "é\u0000\n".repeat(3_000);
      await assert.rejects(
        client.infer(fp32Request(name, MLP_SAMPLE_INPUT)),
        isStatus(status.NOT_FOUND, /\\u\{e9\}\\u\{0\}\\u\{a\}/),
      );
    });
  });

  describe("bad input gets the right status, and the node keeps serving", () => {
    test("unknown model → NOT_FOUND naming the model", async () => {
      await assert.rejects(
        client.infer(fp32Request("no-such-model", MLP_SAMPLE_INPUT)),
        isStatus(status.NOT_FOUND, /'no-such-model'/),
      );
      await stillServes();
    });

    test("unknown version → NOT_FOUND naming model and version", async () => {
      await assert.rejects(
        client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "7" })),
        isStatus(status.NOT_FOUND, /'scale' version '7'/),
      );
    });

    test("wrong shape → INVALID_ARGUMENT naming the input", async () => {
      await assert.rejects(
        client.infer(fp32Request("mlp", [[1, 2, 3]])),
        isStatus(status.INVALID_ARGUMENT, /input 'input'.*shape \[1,3\]/),
      );
      await stillServes();
    });

    test("wrong datatype → INVALID_ARGUMENT naming the input", async () => {
      const request = fp32Request("mlp", MLP_SAMPLE_INPUT);
      request.inputs[0]!.datatype = "INT32";
      await assert.rejects(
        client.infer(request),
        isStatus(status.INVALID_ARGUMENT, /input 'input': datatype INT32.*FP32/),
      );
      await stillServes();
    });

    test("data that does not fill the shape → INVALID_ARGUMENT naming the input", async () => {
      const request = fp32Request("mlp", MLP_SAMPLE_INPUT, { raw: true });
      request.rawInputContents = [Buffer.alloc(3)];
      await assert.rejects(client.infer(request), isStatus(status.INVALID_ARGUMENT, /input 'input'/));
    });

    test("a missing input → INVALID_ARGUMENT naming it", async () => {
      const request = mixedRequest(MIXED_SAMPLE_INPUTS);
      request.inputs.pop();
      request.rawInputContents.pop();
      await assert.rejects(client.infer(request), isStatus(status.INVALID_ARGUMENT, /'text'/));
    });

    test("a message over the size limit → RESOURCE_EXHAUSTED", async () => {
      const rows = Array.from({ length: 20_000 }, () => [1, 2, 3, 4]); // 320 KB > 256 KiB
      await assert.rejects(
        client.infer(fp32Request("mlp", rows, { raw: true })),
        isStatus(status.RESOURCE_EXHAUSTED, /./),
      );
      await stillServes();
    });

    test("a full queue → RESOURCE_EXHAUSTED at once", async () => {
      const running = slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
      const queued = slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
      // The first two hold the slot and the queue place before the third arrives: calls on one
      // channel reach the server in order.
      await assert.rejects(
        slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT)),
        isStatus(status.RESOURCE_EXHAUSTED, /capacity/),
      );
      await Promise.all([running, queued]);
      await stillServes(slowClient);
    });

    test("a deadline that passes in the queue → DEADLINE_EXCEEDED, and the node never runs it", async () => {
      const before = await slow.metrics();
      const running = slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
      await assert.rejects(
        slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT), { deadlineMs: 150 }),
        isStatus(status.DEADLINE_EXCEEDED, /./),
      );
      await running;
      const afterText = await slow.metrics();
      const seen = (t: string) =>
        metricValue(t, "inferencehub_node_errors_total", { model: "mlp", code: "DEADLINE_EXCEEDED" });
      assert.equal(
        seen(afterText) - seen(before),
        1,
        `the node itself gave up on the queued call:\n${afterText
          .split("\n")
          .filter((l) => l.startsWith("inferencehub_node_"))
          .join("\n")}`,
      );
      assert.equal(metricValue(afterText, "inferencehub_node_queue_depth", { model: "mlp" }), 0);
      await stillServes(slowClient);
    });
  });

  test("graceful shutdown finishes the call in flight, then exits 0", async () => {
    const inflight = slowClient.infer(fp32Request("mlp", MLP_SAMPLE_INPUT), { metadata: {} });
    // The call is on the node once its queue gauge or inflight gauge shows it.
    await waitFor(
      async () => metricValue(await slow.metrics(), "inferencehub_node_inflight", { model: "mlp" }) === 1,
    );
    const stopped = slow.stop("SIGTERM");
    const { response } = await inflight;
    assertClose(fp32Output(response), mlpReference(MLP_SAMPLE_INPUT));
    await stopped;
    assert.equal(slow.process.exitCode, 0);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
