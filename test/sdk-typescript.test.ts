/**
 * The TypeScript SDK (sdk/typescript, issue #19) against real nodes, the control plane, ext-authz
 * and Envoy: infer with typed arrays sent typed and raw (mlp, scale, and mixed with every datatype
 * the test models have), a version pin, ModelStreamInfer, ready/live/metadata, and the typed
 * errors (NOT_FOUND, UNAUTHENTICATED, PERMISSION_DENIED, DEADLINE_EXCEEDED). Every other datatype
 * of the protocol is checked by a round trip through the SDK's encoder and decoder, both forms.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import type { ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { freePort } from "../scripts/lib/ports.js";
import {
  MIXED_SAMPLE_INPUTS,
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  flatten,
  fromFloat16Array,
  mixedReference,
  mlpReference,
  scaleReference,
  toFloat16Array,
  unflatten,
} from "../scripts/lib/test-models.js";
import {
  Client,
  DATATYPES,
  DeadlineExceededError,
  InferenceHubError,
  MODEL_HEADER,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TensorError,
  UnauthenticatedError,
  VERSION_HEADER,
  bytesToStrings,
  decodeOutputs,
  encodeInputs,
  status,
  type Datatype,
  type Inputs,
  type TensorData,
} from "../sdk/typescript/src/index.js";
import { Metadata } from "@grpc/grpc-js";
import { assertClose } from "./lib/assertions.js";
import { startTestAuthz } from "./lib/auth.js";
import { gatewayConfig, type ModelEntry } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const acmeKey = "ihk_sdk-acme";
const otherKey = "ihk_sdk-other";
/** node-slow answers each infer this late; the deadline test's timeout is well under it. */
const slowMs = 3000;

const rows = (input: readonly (readonly number[])[]) => ({
  data: Float32Array.from(flatten(input)),
  shape: [input.length, input[0]?.length ?? 0],
});

describe("TypeScript SDK, pure: every datatype through the encoder and decoder", () => {
  const samples: Record<Datatype, TensorData> = {
    BOOL: Uint8Array.from([1, 0, 1, 1]),
    UINT8: Uint8Array.from([0, 1, 254, 255]),
    UINT16: Uint16Array.from([0, 1, 65534, 65535]),
    UINT32: Uint32Array.from([0, 1, 2 ** 32 - 2, 2 ** 32 - 1]),
    UINT64: BigUint64Array.from([0n, 1n, 2n ** 53n - 1n, 7n]),
    INT8: Int8Array.from([-128, -1, 0, 127]),
    INT16: Int16Array.from([-32768, -1, 0, 32767]),
    INT32: Int32Array.from([-(2 ** 31), -1, 0, 2 ** 31 - 1]),
    INT64: BigInt64Array.from([-(2n ** 53n) + 1n, -1n, 0n, 2n ** 53n - 1n]),
    FP16: toFloat16Array([0.5, -1.25, 1000, 0.0999755859375]),
    FP32: Float32Array.from([1.5, -2, 0, 3.25]),
    FP64: Float64Array.from([Math.PI, -Math.E, 0, 1e300]),
    BYTES: [
      Uint8Array.from([]),
      Uint8Array.from([0, 255]),
      new TextEncoder().encode("wörld ✓"),
      Uint8Array.of(7),
    ],
  };

  for (const raw of [true, false]) {
    test(`${raw ? "raw" : "typed"}: what goes in comes out, datatype and shape included`, () => {
      for (const datatype of DATATYPES) {
        const data = samples[datatype];
        const encoded = encodeInputs({ x: { data, shape: [2, 2], datatype } }, raw);
        // FP16 has no typed field: it goes raw whatever was asked.
        assert.equal(encoded.rawInputContents.length > 0, raw || datatype === "FP16", datatype);
        const decoded = decodeOutputs(encoded.inputs, encoded.rawInputContents);
        assert.deepEqual(decoded.x, { datatype, shape: [2, 2], data }, datatype);
      }
    });
  }

  test("datatypes from the arrays; strings and booleans; bad inputs refused before sending", () => {
    const { inputs } = encodeInputs(
      {
        a: { data: new Float64Array(2), shape: [2] },
        b: { data: [true], shape: [1] },
        c: { data: ["hi"], shape: [1] },
      },
      false,
    );
    assert.deepEqual(
      inputs.map((i) => i.datatype),
      ["FP64", "BOOL", "BYTES"],
    );
    assert.deepEqual(inputs[2]?.contents?.bytesContents, [Buffer.from("hi")]);
    assert.throws(() => encodeInputs({ x: { data: new Float32Array(3), shape: [2, 2] } }, true), TensorError);
    assert.throws(
      () => encodeInputs({ x: { data: new Float32Array(2), shape: [2], datatype: "INT32" } }, true),
      TensorError,
    );
    // INT64 beyond 2^53 cannot travel typed (ts-proto carries int64 as number): raw only.
    const big = { x: { data: BigInt64Array.of(2n ** 60n), shape: [1] } };
    assert.throws(() => encodeInputs(big, false), TensorError);
    const raw = encodeInputs(big, true);
    assert.deepEqual(decodeOutputs(raw.inputs, raw.rawInputContents).x?.data, BigInt64Array.of(2n ** 60n));
  });

  test("the header names are the gateway's contract; RESOURCE_EXHAUSTED carries the retry hint", () => {
    assert.equal(MODEL_HEADER, modelHeader);
    assert.equal(VERSION_HEADER, versionHeader);
    const md = new Metadata();
    md.set("grpc-retry-pushback-ms", "250");
    const err = new ResourceExhaustedError(status.RESOURCE_EXHAUSTED, "over its rate limit", md);
    assert.equal(err.retryAfterMs, 250);
    assert.equal(
      new ResourceExhaustedError(
        status.RESOURCE_EXHAUSTED,
        "tenant 'a' is over its rate limit; retry in 40 ms",
      ).retryAfterMs,
      40,
    );
  });
});

describe("TypeScript SDK through the gateway (#19)", () => {
  let gw: GatewayFixture;
  let authz: ExtAuthzProcess;
  let client: Client;
  const clients: Client[] = [];
  const newClient = (opts: ConstructorParameters<typeof Client>[1] = {}) => {
    const c = new Client(`127.0.0.1:${gw.listenPort}`, opts);
    clients.push(c);
    return c;
  };

  before(async () => {
    const extAuthzPort = await freePort();
    const config = (nodes: NodeEntry[], port: number, controlPlane?: string) => {
      const models: ModelEntry[] = [
        { name: "mlp", versions: [{ version: "1", nodes: ["node-fast"] }] },
        { name: "mixed", versions: [{ version: "1", nodes: ["node-fast"] }] },
        {
          name: "scale",
          versions: [
            { version: "1", weight: 100, nodes: ["node-fast"] },
            { version: "2", weight: 0, nodes: ["node-fast"] },
            { version: "3", weight: 0, nodes: ["node-slow"] },
          ],
        },
      ];
      return gatewayConfig(nodes, port, models, {
        auth: {
          extAuthz: { address: `127.0.0.1:${extAuthzPort}`, timeout: "1s" },
          keysFile: "keys.yaml",
          tenants: [
            { name: "acme", models: ["mlp", "scale", "mixed"] },
            { name: "other", models: ["mlp"] },
          ],
        },
        ...(controlPlane ? { controlPlane: { address: controlPlane } } : {}),
      });
    };
    gw = await startGateway({
      nodes: [
        { name: "node-fast", models: ["mlp", "scale", "mixed"] },
        { name: "node-slow", models: ["scale"], args: ["--infer-delay-ms", String(slowMs)] },
      ],
      config: (nodes, port) => config(nodes, port),
    });
    authz = await startTestAuthz(gw, extAuthzPort, [
      { id: "acme", tenant: "acme", key: acmeKey },
      { id: "other", tenant: "other", key: otherKey },
    ]);
    // The control plane answers ServerReady once the config names it (its ADS port is known now).
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, `127.0.0.1:${gw.xds.adsPort}`));
    client = newClient({ apiKey: acmeKey, timeoutMs: 10_000 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await authz?.stop();
    await gw?.stop();
  });

  test("mlp: a Float32Array in, a Float32Array out, sent raw and typed", async () => {
    for (const raw of [true, false]) {
      const result = await client.infer("mlp", { input: rows(MLP_SAMPLE_INPUT) }, { raw });
      assert.equal(result.modelName, "mlp");
      assert.equal(result.modelVersion, "1");
      const out = result.output("output", "FP32");
      assert.ok(out.data instanceof Float32Array);
      assert.deepEqual(out.shape, [MLP_SAMPLE_INPUT.length, 3]);
      assertClose(unflatten(out.data, 3), mlpReference(MLP_SAMPLE_INPUT));
    }
  });

  test("scale: a version pin is answered by that version; the split answers otherwise", async () => {
    for (const raw of [true, false]) {
      const pinned = await client.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "2", raw });
      assert.equal(pinned.modelVersion, "2");
      assertClose(
        unflatten(pinned.output("output", "FP32").data, 4),
        scaleReference("2", SCALE_SAMPLE_INPUT),
      );
    }
    const split = await client.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { id: "req-1" });
    assert.equal(split.modelVersion, "1");
    assert.equal(split.id, "req-1");
    assertClose(unflatten(split.output("output", "FP32").data, 4), scaleReference("1", SCALE_SAMPLE_INPUT));
  });

  test("mixed: FP32, INT64, INT32, BOOL, FP16 and BYTES in one call, typed arrays both ways", async () => {
    const m = MIXED_SAMPLE_INPUTS;
    const n = m.a.length;
    const inputs: Inputs = {
      a: { data: Float32Array.from(flatten(m.a)), shape: [n, 2] },
      b: { data: BigInt64Array.from(flatten(m.b), (v) => BigInt(v)), shape: [n, 2] },
      c: { data: Int32Array.from(flatten(m.c)), shape: [n, 2] },
      flag: { data: flatten(m.flag), shape: [n, 2] },
      h: { data: toFloat16Array(flatten(m.h)), shape: [n, 2], datatype: "FP16" },
      text: { data: m.text, shape: [m.text.length] },
    };
    const want = mixedReference(m);
    // raw: false still goes raw (FP16 has no typed field): the call works either way.
    for (const raw of [true, false]) {
      const r = await client.infer("mixed", inputs, { raw });
      assertClose(unflatten(r.output("sum", "FP32").data, 2), want.sum);
      assert.deepEqual(unflatten(Array.from(r.output("b_twice", "INT64").data, Number), 2), want.b_twice);
      assert.deepEqual(unflatten(Array.from(r.output("c_neg", "INT32").data), 2), want.c_neg);
      assert.deepEqual(unflatten(Array.from(r.output("not_flag", "BOOL").data, Boolean), 2), want.not_flag);
      assert.deepEqual(unflatten(fromFloat16Array(r.output("h_double", "FP16").data), 2), want.h_double);
      const text = r.output("text_out", "BYTES");
      assert.deepEqual(text.shape, [m.text.length]);
      assert.deepEqual(bytesToStrings(text.data), want.text_out);
    }
    // Only the outputs asked for.
    const some = await client.infer("mixed", inputs, { outputs: ["c_neg"] });
    assert.deepEqual(Object.keys(some.outputs), ["c_neg"]);
  });

  test("stream: several requests on one ModelStreamInfer, answered in order", async () => {
    const batches = [SCALE_SAMPLE_INPUT, [[1, 1, 1, 1]], [[-2, 0, 2, 4]], [[8, 8, 8, 8]]];
    async function* inputs() {
      for (const b of batches) yield { input: rows(b) };
    }
    const answers = [];
    for await (const r of client.stream("scale", inputs(), { version: "2" })) answers.push(r);
    assert.equal(answers.length, batches.length);
    answers.forEach((r, i) => {
      assert.equal(r.modelVersion, "2");
      assertClose(unflatten(r.output("output", "FP32").data, 4), scaleReference("2", batches[i] ?? []));
    });
    // Breaking out of the loop cancels the stream, even while the inputs never end.
    async function* endless() {
      for (;;) {
        yield { input: rows([[1, 2, 3, 4]]) };
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    let seen = 0;
    for await (const r of client.stream("scale", endless(), { version: "2" })) {
      assert.equal(r.modelVersion, "2");
      if (++seen === 3) break;
    }
    assert.equal(seen, 3);
    // A plain array works too, sent typed.
    const typed = [];
    for await (const r of client.stream("mlp", [{ input: rows(MLP_SAMPLE_INPUT) }], { raw: false }))
      typed.push(r);
    assert.equal(typed.length, 1);
    assertClose(unflatten(typed[0]!.output("output", "FP32").data, 3), mlpReference(MLP_SAMPLE_INPUT));
  });

  test("ready, live and metadata", async () => {
    assert.equal(await client.live(), true);
    assert.equal(await client.ready(), true);
    assert.equal(await client.ready("scale"), true);
    assert.equal(await client.ready("scale", { version: "3" }), true);
    const md = await client.metadata("mixed");
    assert.equal(md.name, "mixed");
    assert.deepEqual(
      md.inputs.map((t) => [t.name, t.datatype]),
      [
        ["a", "FP32"],
        ["b", "INT64"],
        ["c", "INT32"],
        ["flag", "BOOL"],
        ["h", "FP16"],
        ["text", "BYTES"],
      ],
    );
    assert.deepEqual(md.outputs.find((t) => t.name === "sum")?.shape, [-1, 2]);
    const scale = await client.metadata("scale", { version: "2" });
    assert.ok(scale.versions.includes("2"), JSON.stringify(scale));
  });

  test("errors: NOT_FOUND, UNAUTHENTICATED and PERMISSION_DENIED as their classes, with the status", async () => {
    const notFound = await client.infer("resnet", { input: rows(MLP_SAMPLE_INPUT) }).catch((e: unknown) => e);
    assert.ok(notFound instanceof NotFoundError, String(notFound));
    assert.ok(notFound instanceof InferenceHubError);
    assert.equal(notFound.code, status.NOT_FOUND);
    assert.equal(notFound.details, "model 'resnet' is not served by this gateway");

    const anonymous = newClient();
    const unauth = await anonymous.infer("mlp", { input: rows(MLP_SAMPLE_INPUT) }).catch((e: unknown) => e);
    assert.ok(unauth instanceof UnauthenticatedError, String(unauth));
    assert.equal(unauth.code, status.UNAUTHENTICATED);

    const other = newClient({ apiKey: otherKey });
    const denied = await other.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }).catch((e: unknown) => e);
    assert.ok(denied instanceof PermissionDeniedError, String(denied));
    assert.equal(denied.code, status.PERMISSION_DENIED);
    // The same key may call what its tenant is granted.
    assert.equal((await other.infer("mlp", { input: rows(MLP_SAMPLE_INPUT) })).modelVersion, "1");
  });

  test("a deadline that passes before the slow node answers: DeadlineExceededError", async () => {
    const started = Date.now();
    const err = await client
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3", timeoutMs: 300 })
      .catch((e: unknown) => e);
    assert.ok(err instanceof DeadlineExceededError, String(err));
    assert.equal(err.code, status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < slowMs, "the call ended at its deadline, not the node's answer");
    // The client's default applies too.
    const short = newClient({ apiKey: acmeKey, timeoutMs: 300 });
    const again = await short
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3" })
      .catch((e: unknown) => e);
    assert.ok(again instanceof DeadlineExceededError, String(again));
  });
});
