/**
 * The foundation path with a real Envoy in front of two real nodes (static configuration, no
 * control plane yet): real model outputs through the gateway in both tensor forms, metadata, and
 * node errors passed through with their gRPC status.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import {
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  mlpReference,
  scaleReference,
} from "../scripts/lib/test-models.js";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { assertClose, grpcCall } from "./lib/assertions.js";
import { createInferClient, type InferClient } from "../scripts/lib/infer-client.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";

describe("through a real Envoy in front of two nodes", () => {
  let nodes: NodeProcess[] = [];
  let envoy: EnvoyProcess;
  let client: InferClient;

  before(async () => {
    nodes = await Promise.all([startNode({ name: "node-a" }), startNode({ name: "node-b" })]);
    const listenPort = await freePort();
    envoy = await startEnvoy({
      name: "static",
      bootstrap: renderBootstrap("static-two-nodes.template.yaml", {
        ADMIN_PORT: 0,
        LISTEN_PORT: listenPort,
        NODE1_PORT: nodes[0]!.port,
        NODE2_PORT: nodes[1]!.port,
      }),
    });
    client = createInferClient(`127.0.0.1:${listenPort}`);
  });

  after(async () => {
    client?.close();
    await envoy?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  });

  test("ModelInfer with typed contents returns the model's real output", async () => {
    const { response } = await client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
    assertClose(fp32Output(response), mlpReference(MLP_SAMPLE_INPUT));
  });

  test("ModelInfer with raw contents returns raw output", async () => {
    const { response } = await client.infer(
      fp32Request("scale", SCALE_SAMPLE_INPUT, { raw: true, version: "3" }),
    );
    assert.equal(response.rawOutputContents.length, 1);
    assertClose(fp32Output(response), scaleReference("3", SCALE_SAMPLE_INPUT));
  });

  test("calls spread over both nodes, and the response header says which one answered", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const { headers } = await client.infer(fp32Request("mlp", MLP_SAMPLE_INPUT));
      const by = headers["x-inferencehub-node"] ?? "none";
      seen.set(by, (seen.get(by) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ["node-a", "node-b"]);
  });

  test("model metadata through the gateway", async () => {
    const md = await grpcCall(client.raw, "modelMetadata", { name: "mlp", version: "" });
    assert.deepEqual(md.inputs, [{ name: "input", datatype: "FP32", shape: [-1, 4] }]);
    assert.deepEqual(md.outputs, [{ name: "output", datatype: "FP32", shape: [-1, 3] }]);
  });

  test("a node's NOT_FOUND and INVALID_ARGUMENT reach the client unchanged", async () => {
    await assert.rejects(client.infer(fp32Request("nope", MLP_SAMPLE_INPUT)), (err: ServiceError) => {
      assert.equal(err.code, status.NOT_FOUND);
      assert.match(err.details, /'nope'/);
      return true;
    });
    await assert.rejects(client.infer(fp32Request("mlp", [[1]])), (err: ServiceError) => {
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /input 'input'/);
      return true;
    });
    const stats = await envoy.stats();
    assert.ok((stats["cluster.nodes.upstream_rq_total"] ?? 0) > 0, "Envoy counted the upstream calls");
  });
});
