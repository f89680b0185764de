/**
 * The TypeScript SDK (sdk/typescript, issue #19) against the SDK stack (test/lib/sdk-stack.ts: real
 * nodes, the control plane, ext-authz and Envoy), as the Python and C# suites are: the shared test
 * vectors byte for byte, typed arrays sent typed and raw (every datatype the test models have), a
 * version pin and the weighted split seen from the client, ModelStreamInfer, ready/live/metadata,
 * each typed error from a real failing call, a deadline, cancellation, and last, with nodes killed:
 * a call retried when its node died before it arrived, and never once it had. Every other datatype
 * of the protocol is checked by a round trip through the SDK's encoder and decoder, both forms.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { readFileSync } from "node:fs";
import type { VectorFile } from "../scripts/lib/sdk-vectors.js";
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
  InvalidArgumentError,
  MODEL_HEADER,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TensorError,
  UnauthenticatedError,
  UnavailableError,
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
import { startSdkStack, type SdkStack } from "./lib/sdk-stack.js";

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

/** A vector's input as the SDK takes it: the typed array its datatype calls for. */
function vectorInput(t: VectorFile["cases"][number]["inputs"][number]): Inputs[string] {
  const numbers = t.data as number[];
  const shape = t.shape;
  switch (t.datatype) {
    case "FP32":
      return { data: Float32Array.from(numbers), shape };
    case "INT32":
      return { data: Int32Array.from(numbers), shape };
    case "INT64":
      return { data: BigInt64Array.from(numbers, BigInt), shape };
    case "FP16":
      return { data: toFloat16Array(numbers), shape, datatype: "FP16" };
    case "BOOL":
      return { data: t.data as boolean[], shape };
    case "BYTES":
      return { data: t.data as string[], shape };
  }
}

describe("TypeScript SDK through the gateway (#19)", () => {
  let stack: SdkStack;
  let env: Record<string, string>;
  let client: Client;
  const clients: Client[] = [];
  const newClient = (opts: ConstructorParameters<typeof Client>[1] = {}) => {
    const c = new Client(env.INFERENCEHUB_TARGET ?? "", opts);
    clients.push(c);
    return c;
  };
  const faults = async (path: string, method = "GET") => {
    const res = await fetch(`${env.INFERENCEHUB_FAULTS_URL}${path}`, { method });
    assert.equal(res.status, 200, `${method} ${path}: ${await res.clone().text()}`);
    return (await res.json()) as Record<string, number | string>;
  };

  before(async () => {
    stack = await startSdkStack();
    env = stack.env;
    client = newClient({ apiKey: env.INFERENCEHUB_API_KEY, timeoutMs: 10_000 });
  });

  after(async () => {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  test("the shared test vectors: outputs byte for byte, raw and typed", async () => {
    const vectors = JSON.parse(readFileSync(env.INFERENCEHUB_VECTORS ?? "", "utf8")) as VectorFile;
    assert.ok(vectors.cases.length >= 4);
    for (const c of vectors.cases) {
      const inputs = Object.fromEntries(c.inputs.map((t) => [t.name, vectorInput(t)]));
      for (const raw of [true, false]) {
        const result = await client.infer(c.model, inputs, { version: c.version, raw });
        assert.equal(result.modelVersion, c.version, c.name);
        assert.deepEqual(Object.keys(result.outputs).sort(), c.outputs.map((o) => o.name).sort(), c.name);
        for (const want of c.outputs) {
          const got = result.outputs[want.name];
          assert.equal(got?.datatype, want.datatype, `${c.name}/${want.name}`);
          assert.deepEqual(got?.shape, want.shape, `${c.name}/${want.name}`);
          const bytes = encodeInputs({ o: got! }, true).rawInputContents[0];
          assert.equal(
            Buffer.from(bytes ?? []).toString("base64"),
            want.raw,
            `${c.name}/${want.name} raw=${raw}`,
          );
        }
      }
    }
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

  test("scale: a version pin is answered by that version; unpinned, the 50/50 split answers both", async () => {
    for (const raw of [true, false]) {
      const pinned = await client.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "2", raw });
      assert.equal(pinned.modelVersion, "2");
      assertClose(
        unflatten(pinned.output("output", "FP32").data, 4),
        scaleReference("2", SCALE_SAMPLE_INPUT),
      );
    }
    const seen: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await client.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { id: `req-${i}` });
      assert.equal(r.id, `req-${i}`);
      // Each answer is the version that ran it: its output is that version's.
      assertClose(
        unflatten(r.output("output", "FP32").data, 4),
        scaleReference(r.modelVersion, SCALE_SAMPLE_INPUT),
      );
      seen[r.modelVersion] = (seen[r.modelVersion] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(seen).sort(), ["1", "2"], JSON.stringify(seen));
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

  test("models(): what this tenant may call, from the control plane, READY when a node is up", async () => {
    const mine = await client.models();
    assert.deepEqual(
      mine.map((m) => `${m.name}/${m.version}:${m.state}`),
      ["mlp/1:READY", "mixed/1:READY", "scale/1:READY", "scale/2:READY", "scale/3:READY"],
    );
    const other = await newClient({ apiKey: env.INFERENCEHUB_OTHER_API_KEY }).models({ readyOnly: true });
    assert.deepEqual(
      other.map((m) => m.name),
      ["mlp"],
    );
    const anonymous = await newClient()
      .models()
      .catch((e: unknown) => e);
    assert.ok(anonymous instanceof UnauthenticatedError, String(anonymous));
    // The REST form's index is the same list (Envoy transcodes it to the control plane's answer).
    const rest = await fetch(`${env.INFERENCEHUB_URL}/v2/repository/index`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.INFERENCEHUB_API_KEY}` },
      body: "{}",
    });
    assert.equal(rest.headers.get("content-type"), "application/json");
    assert.deepEqual(
      await rest.json(),
      mine.map(({ name, version, state }) => ({ name, version, state })),
    );
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

  test("errors from real failing calls, as their classes with the status", async () => {
    const notFound = await client.infer("resnet", { input: rows(MLP_SAMPLE_INPUT) }).catch((e: unknown) => e);
    assert.ok(notFound instanceof NotFoundError, String(notFound));
    assert.ok(notFound instanceof InferenceHubError);
    assert.equal(notFound.code, status.NOT_FOUND);
    assert.equal(notFound.details, "model 'resnet' is not served by this gateway");

    for (const anonymous of [newClient(), newClient({ apiKey: "ihk_not-a-key" })]) {
      const unauth = await anonymous.infer("mlp", { input: rows(MLP_SAMPLE_INPUT) }).catch((e: unknown) => e);
      assert.ok(unauth instanceof UnauthenticatedError, String(unauth));
      assert.equal(unauth.code, status.UNAUTHENTICATED);
    }

    const other = newClient({ apiKey: env.INFERENCEHUB_OTHER_API_KEY });
    const denied = await other.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }).catch((e: unknown) => e);
    assert.ok(denied instanceof PermissionDeniedError, String(denied));
    assert.equal(denied.code, status.PERMISSION_DENIED);
    // The same key may call what its tenant is granted.
    assert.equal((await other.infer("mlp", { input: rows(MLP_SAMPLE_INPUT) })).modelVersion, "1");

    // The model takes rows of 4: the node refuses rows of 3.
    const invalid = await client
      .infer("mlp", { input: { data: Float32Array.of(1, 2, 3), shape: [1, 3] } })
      .catch((e: unknown) => e);
    assert.ok(invalid instanceof InvalidArgumentError, String(invalid));
    assert.equal(invalid.code, status.INVALID_ARGUMENT);

    // 1 call/s, burst 1: of ten quick calls, some are over the limit, with a hint when to retry.
    const limited = newClient({ apiKey: env.INFERENCEHUB_LIMITED_API_KEY });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        limited
          .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "1" })
          .catch((e: unknown) => e),
      ),
    );
    const exhausted = outcomes.filter((o) => o instanceof ResourceExhaustedError);
    assert.ok(exhausted.length > 0, outcomes.map(String).join("; "));
    assert.equal(exhausted[0]?.code, status.RESOURCE_EXHAUSTED);
    assert.ok((exhausted[0]?.retryAfterMs ?? 0) > 0, `retry hint: ${exhausted[0]?.retryAfterMs}`);
  });

  test("a deadline that passes before the slow node answers: DeadlineExceededError; an abort: CANCELLED", async () => {
    const slowMs = Number(env.INFERENCEHUB_SLOW_MS);
    const started = Date.now();
    const err = await client
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3", timeoutMs: 300 })
      .catch((e: unknown) => e);
    assert.ok(err instanceof DeadlineExceededError, String(err));
    assert.equal(err.code, status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < slowMs, "the call ended at its deadline, not the node's answer");
    // The client's default applies too.
    const short = newClient({ apiKey: env.INFERENCEHUB_API_KEY, timeoutMs: 300 });
    const again = await short
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3" })
      .catch((e: unknown) => e);
    assert.ok(again instanceof DeadlineExceededError, String(again));

    const controller = new AbortController();
    const call = client
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3", signal: controller.signal })
      .catch((e: unknown) => e);
    controller.abort();
    const cancelled = await call;
    assert.ok(cancelled instanceof InferenceHubError, String(cancelled));
    assert.equal(cancelled.code, status.CANCELLED);
  });

  // Last: these kill nodes.
  test("a node killed before the call reached it: the call is retried on the other node, and answers", async () => {
    await faults("/kill?node=node-b", "POST");
    const before = Number((await faults("/envoy-retries")).retries);
    for (let i = 0; i < 20; i++) {
      const r = await client.infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "1" });
      assert.equal(r.modelVersion, "1");
    }
    const retries = Number((await faults("/envoy-retries")).retries) - before;
    assert.ok(retries > 0, "some call met the dead node first and was retried");
  });

  test("a node killed while it holds the call: UnavailableError, and the call never runs again", async () => {
    const counts = await faults("/requests?model=scale&version=3");
    const call = client
      .infer("scale", { input: rows(SCALE_SAMPLE_INPUT) }, { version: "3", timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    const { killed } = await faults("/kill-busy?model=scale&version=3", "POST");
    const err = await call;
    assert.ok(err instanceof UnavailableError, String(err));
    assert.equal(err.code, status.UNAVAILABLE);
    const survivors = await faults("/requests?model=scale&version=3");
    assert.ok(!(String(killed) in survivors));
    for (const [node, n] of Object.entries(survivors)) assert.equal(n, counts[node], `${node} ran no retry`);
  });
});
