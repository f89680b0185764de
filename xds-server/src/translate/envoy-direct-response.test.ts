/**
 * Runs one real Envoy on the translated envoy group (static, as in envoy-validate.test.ts) and
 * calls it with grpc-js, to check what validation cannot: that Envoy's direct responses reach a
 * gRPC client as the intended status, with %REQ(...)% substituted in grpc-message.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client, Metadata, credentials, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { startEnvoy } from "../../../scripts/lib/envoy-process.js";
import type { EnvoyProcess } from "../../../scripts/lib/envoy-process.js";
import { freePorts } from "../../../scripts/lib/ports.js";
import { formatErrors, parseConfig } from "../config/index.js";
import { buildIR, unknownHealth } from "../ir/index.js";
import { modelHeader, versionHeader } from "./names.js";
import { toStaticBootstrap } from "./testing/index.js";
import { translate } from "./translate.js";

let envoy: EnvoyProcess | undefined;
let client: Client | undefined;

before(async () => {
  // The node's port is free and stays unused: a routed call must fail to connect (UNAVAILABLE).
  const [listenerPort, nodePort] = await freePorts(2);
  assert.ok(listenerPort && nodePort);
  const parsed = parseConfig(`
nodes: [{ name: node-1, address: "127.0.0.1:${nodePort}" }]
models:
  - name: scale
    versions: [{ version: "1", nodes: [node-1] }]
    retry: { attempts: 1 }
`);
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  const resources = translate(buildIR(parsed.value, unknownHealth));
  envoy = await startEnvoy({
    name: "direct-response",
    bootstrap: toStaticBootstrap(resources.envoy, { listenerPort }),
  });
  client = new Client(`127.0.0.1:${listenerPort}`, credentials.createInsecure());
});

after(async () => {
  client?.close();
  await envoy?.stop();
});

/** One unary call with an empty body; resolves with the error grpc-js reports. */
function call(
  headers: Record<string, string>,
  path = "/inference.GRPCInferenceService/ModelInfer",
): Promise<ServiceError> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const c = client;
  assert.ok(c);
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      Buffer.alloc(0),
      metadata,
      { deadline: Date.now() + 5_000 },
      (err) => (err ? resolve(err) : reject(new Error("the call succeeded"))),
    );
  });
}

test("an unknown model is NOT_FOUND, naming the model", async () => {
  const err = await call({ [modelHeader]: "resnet-50" });
  assert.equal(err.code, status.NOT_FOUND);
  assert.equal(err.details, "model 'resnet-50' is not served by this gateway");
});

test("an unknown version of a known model is NOT_FOUND, naming the version", async () => {
  const err = await call({ [modelHeader]: "scale", [versionHeader]: "9" });
  assert.equal(err.code, status.NOT_FOUND);
  assert.equal(err.details, "version '9' of model 'scale' is not served by this gateway");
});

test("a call without the model header is INVALID_ARGUMENT", async () => {
  const err = await call({});
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(err.details, "set the inferencehub-model header");
});

test("a server-level call without the model header, with no controlPlane.address: UNIMPLEMENTED saying so", async () => {
  const err = await call({}, "/inference.GRPCInferenceService/ServerReady");
  assert.equal(err.code, status.UNIMPLEMENTED);
  assert.match(err.details, /once controlPlane\.address is set in inferencehub\.yaml/);
});

test("a method outside the protocol, without the model header: UNIMPLEMENTED, not INVALID_ARGUMENT", async () => {
  for (const path of ["/inference.Other/Method", "/tensorflow.serving.PredictionService/Predict"]) {
    const err = await call({}, path);
    assert.equal(err.code, status.UNIMPLEMENTED, path);
    assert.match(err.details, /serves inference\.GRPCInferenceService/);
  }
  const infer = await call({}, "/inference.GRPCInferenceService/ModelStreamInfer");
  assert.equal(infer.code, status.INVALID_ARGUMENT, "a protocol method still asks for the header");
});

test("a known model, pinned or not, is routed to its cluster (no node listens: UNAVAILABLE)", async () => {
  const calls: Record<string, string>[] = [
    { [modelHeader]: "scale" },
    { [modelHeader]: "scale", [versionHeader]: "1" },
  ];
  for (const headers of calls) {
    const err = await call(headers);
    assert.equal(err.code, status.UNAVAILABLE, JSON.stringify(headers));
  }
});
