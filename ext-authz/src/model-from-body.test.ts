import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelInferRequest, ModelReadyRequest } from "../../gen/inference/inference/grpc_service.js";
import { fp32Request } from "../../scripts/lib/requests.js";
import { readModelFromBody, type BodyModel } from "./model-from-body.js";

/** A gRPC Length-Prefixed-Message: flag, 4-byte big-endian length, message. */
function frame(message: Uint8Array, flag = 0, declared = message.length): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, declared);
  out.set(message, 5);
  return out;
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const text = (s: string) => [...Buffer.from(s, "utf8")];
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
}
/** Field `n`, wire type 2, with a string value. */
const str = (n: number, s: string) => [n * 8 + 2, ...varint(Buffer.byteLength(s)), ...text(s)];

const infer = ModelInferRequest.encode(fp32Request("scale", [[1, 2, 3, 4]], { version: "2" })).finish();

const cases: { name: string; body: Uint8Array; want: BodyModel | BodyModel["ok"] }[] = [
  { name: "a ModelInferRequest", body: frame(infer), want: { ok: true, model: "scale", version: "2" } },
  {
    name: "a ModelReadyRequest (same field numbers)",
    body: frame(ModelReadyRequest.encode({ name: "mlp", version: "" }).finish()),
    want: { ok: true, model: "mlp", version: "" },
  },
  {
    name: "only the first 20 bytes of a large request",
    body: frame(infer).subarray(0, 20),
    want: { ok: true, model: "scale", version: "2" },
  },
  {
    name: "cut right after the model name: no version seen",
    body: frame(bytes(...str(1, "scale"), ...str(2, "7"))).subarray(0, 5 + 7),
    want: { ok: true, model: "scale", version: "" },
  },
  {
    name: "other fields before the name are skipped (varint, fixed64, fixed32, bytes)",
    body: frame(
      bytes(
        3 * 8,
        0x96,
        0x01,
        4 * 8 + 1,
        ...new Array(8).fill(0),
        6 * 8 + 5,
        1,
        2,
        3,
        4,
        ...str(7, "x"),
        ...str(1, "m"),
      ),
    ),
    want: { ok: true, model: "m", version: "" },
  },
  { name: "a multi-byte length", body: frame(bytes(...str(1, "a".repeat(200)))), want: true },
  {
    name: "a UTF-8 name is returned as is (the policy judges it)",
    body: frame(bytes(...str(1, "modèle"))),
    want: { ok: true, model: "modèle", version: "" },
  },
  {
    name: "no bytes",
    body: bytes(),
    want: { ok: false, reason: "empty", detail: "the request has no body bytes" },
  },
  { name: "cut inside the frame prefix", body: bytes(0, 0, 0), want: false },
  {
    name: "compressed",
    body: frame(infer, 1),
    want: { ok: false, reason: "compressed", detail: "the message is compressed" },
  },
  { name: "a flag that is neither 0 nor 1", body: frame(infer, 2), want: false },
  {
    name: "a whole message without a model name",
    body: frame(bytes(...str(2, "1"))),
    want: { ok: false, reason: "no-model", detail: "no model_name in the bytes read" },
  },
  { name: "an empty model name", body: frame(bytes(...str(1, ""))), want: false },
  {
    name: "model_name twice (a parser would take the second)",
    body: frame(bytes(...str(1, "a"), ...str(1, "b"))),
    want: false,
  },
  { name: "model_name as a varint", body: frame(bytes(8, 1)), want: false },
  { name: "field number 0", body: frame(bytes(2, 1, 65)), want: false },
  { name: "a group wire type", body: frame(bytes(3 * 8 + 3, ...str(1, "m"))), want: false },
  { name: "a name that is not UTF-8", body: frame(bytes(10, 2, 0xc3, 0x28)), want: false },
  { name: "a varint longer than 10 bytes", body: frame(bytes(...new Array(11).fill(0xff), 1)), want: false },
  { name: "a field longer than the complete message", body: frame(bytes(10, 9, 65)), want: false },
  {
    name: "the frame declares more than the message holds: truncated",
    body: frame(bytes(10, 9, 65), 0, 100),
    want: false,
  },
];

for (const { name, body, want } of cases) {
  test(`readModelFromBody: ${name}`, () => {
    const got = readModelFromBody(body);
    if (typeof want === "boolean") assert.equal(got.ok, want, JSON.stringify(got));
    else assert.deepEqual(got, want);
  });
}

test("readModelFromBody: failures name their reason", () => {
  const reason = (body: Uint8Array) => {
    const got = readModelFromBody(body);
    return got.ok ? "ok" : got.reason;
  };
  assert.equal(reason(bytes(0, 0, 0)), "truncated");
  assert.equal(reason(frame(infer, 2)), "malformed");
  assert.equal(reason(frame(bytes(...str(1, "a"), ...str(1, "b")))), "malformed");
  assert.equal(reason(frame(bytes(10, 9, 65))), "malformed");
  assert.equal(reason(frame(bytes(10, 9, 65), 0, 100)), "truncated");
  assert.equal(reason(frame(bytes(...str(1, "scale"), ...str(2, "12"))).subarray(0, 5 + 7 + 3)), "truncated");
});

test("readModelFromBody: every cut of a real request gives the right model or no model, never a wrong one", () => {
  const whole = frame(infer);
  for (let n = 0; n <= whole.length; n++) {
    const got = readModelFromBody(whole.subarray(0, n));
    if (got.ok) {
      assert.equal(got.model, "scale", `cut at ${n}`);
      assert.ok(got.version === "2" || got.version === "", `cut at ${n}: version ${got.version}`);
    } else {
      // Prefix, name tag, length, "scale", version tag, length, "2": 15 bytes.
      assert.ok(n < 15, `cut at ${n}: ${got.reason} ${got.detail}`);
      assert.notEqual(got.reason, "malformed", `cut at ${n}: ${got.detail}`);
    }
  }
});

test("readModelFromBody reads from a view at an offset (Envoy's bytes arrive inside a larger buffer)", () => {
  const whole = frame(infer);
  const big = new Uint8Array(whole.length + 7);
  big.set(whole, 7);
  assert.deepEqual(readModelFromBody(big.subarray(7)), { ok: true, model: "scale", version: "2" });
});
