/**
 * Runs one real Envoy on the translated envoy group (static, as in envoy-validate.test.ts) and
 * calls it with grpc-js, to check what validation cannot: that Envoy's direct responses reach a
 * gRPC client as the intended status, with %REQ(...)% substituted in grpc-message.
 */
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { after, before, test } from "node:test";
import { Client, Metadata, credentials, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { startEnvoy } from "../../../scripts/lib/envoy-process.js";
import type { EnvoyProcess } from "../../../scripts/lib/envoy-process.js";
import { freePorts } from "../../../scripts/lib/ports.js";
import { buildIR, unknownHealth } from "../ir/index.js";
import { toStaticBootstrap } from "./testing/index.js";
import { translate } from "./translate.js";

let envoy: EnvoyProcess | undefined;
let listenerPort = 0;
let client: Client | undefined;

before(async () => {
  // The node's port is free and stays unused: a routed call must fail to connect (UNAVAILABLE).
  const [port, nodePort] = await freePorts(2);
  assert.ok(port && nodePort);
  listenerPort = port;
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

/**
 * A call whose framed message is written one byte per HTTP/2 DATA frame, the request left open
 * (as a stream's is); resolves with the grpc-message Envoy answers with.
 */
async function byteByByte(path: string, body: Buffer): Promise<string> {
  const session = connect(`http://127.0.0.1:${listenerPort}`);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const answer = new Promise<string>((resolve, reject) => {
      stream.on("response", (headers) => resolve(String(headers["grpc-message"] ?? "")));
      stream.on("error", reject);
    });
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    for (const byte of framed) {
      stream.write(Buffer.from([byte]));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return await answer;
  } finally {
    session.destroy();
  }
}

/** A request message with these strings as fields 1, 2, ... (model_name, model_version). */
function message(fields: string[]): Buffer {
  return Buffer.concat(
    fields.map((value, i) => {
      const bytes = Buffer.from(value);
      return Buffer.concat([Buffer.from([((i + 1) << 3) | 2, bytes.length]), bytes]);
    }),
  );
}

/** One unary call; resolves with the error grpc-js reports. */
function call(
  headers: Record<string, string>,
  path = "/inference.GRPCInferenceService/ModelInfer",
  body: Buffer = Buffer.alloc(0),
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
      body,
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

test("a model call without the model header, and no model_name in its message, is INVALID_ARGUMENT", async () => {
  const err = await call({});
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(
    err.details,
    "set the inferencehub-model header, or model_name in an uncompressed first message",
  );
  // A model_name that is no model name is not made a header: the same answer.
  const notAName = await call({}, undefined, message(["Scale!"]));
  assert.equal(notAName.details, err.details);
  // Bytes that are no request message: INVALID_ARGUMENT too.
  const garbage = await call({}, undefined, Buffer.from([0, 1, 2, 3]));
  assert.equal(garbage.code, status.INVALID_ARGUMENT, garbage.details);
});

test("without the model header, the model and version in the first message route the call", async () => {
  // The routes these land on prove the headers were set from the message: unknown model, then
  // unknown version of a known model, then a routed call to the (closed) node.
  const unknown = await call({}, undefined, message(["resnet-50"]));
  assert.equal(unknown.code, status.NOT_FOUND, unknown.details);
  assert.equal(unknown.details, "model 'resnet-50' is not served by this gateway");
  const version = await call({}, "/inference.GRPCInferenceService/ModelReady", message(["scale", "9"]));
  assert.equal(version.details, "version '9' of model 'scale' is not served by this gateway");
  const routed = await call({}, undefined, message(["scale", "1"]));
  assert.equal(routed.code, status.UNAVAILABLE, routed.details);
  // A stream's first message, arriving one byte at a time, the request left open: the same.
  const split = await byteByByte("/inference.GRPCInferenceService/ModelStreamInfer", message(["scale", "9"]));
  assert.equal(split, "version '9' of model 'scale' is not served by this gateway");
});

test("a version in the first message that differs from the version header is refused, naming both", async () => {
  const err = await call({ [versionHeader]: "1" }, undefined, message(["scale", "2"]));
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(
    err.details,
    "model_version '2' in the request does not match the inferencehub-model-version header '1'",
  );
});

test("a first message over Envoy's buffer limit, without the model header: refused, asking for the header", async () => {
  // model_name "scale", then 2 MiB in a bytes field (raw_input_contents, 7).
  const big = Buffer.concat([
    message(["scale"]),
    Buffer.from([0x3a, 0x80, 0x80, 0x80, 0x01]),
    Buffer.alloc(2 ** 21),
  ]);
  const err = await call({}, undefined, big);
  assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
  assert.match(err.details, /set the inferencehub-model header/);
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
