import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { generateModels } from "./gen-models.js";
import {
  MIXED_SAMPLE_INPUTS,
  MLP_B1,
  MLP_W1,
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  SCALE_VERSIONS,
  TEST_MODELS,
  flatten,
  float16ToFloat32,
  float32ToFloat16,
  fromFloat16Array,
  mixedReference,
  mlpReference,
  modelFile,
  roundToFloat16,
  scaleReference,
  toFloat16Array,
  unflatten,
} from "./lib/test-models.js";
import type { MixedInputs } from "./lib/test-models.js";

function assertClose(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} != ${e}`);
  });
}

function floatRows(rows: readonly (readonly number[])[]): ort.Tensor {
  return new ort.Tensor("float32", Float32Array.from(flatten(rows)), [rows.length, rows[0]?.length ?? 0]);
}

function output(results: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const t = results[name];
  assert.ok(t, `missing output ${name}`);
  return t;
}

function withBatchOf(inputs: MixedInputs, rows: number[]): MixedInputs {
  const pick = <T>(values: T[]): T[] => rows.map((r) => values[r] as T);
  return {
    a: pick(inputs.a),
    b: pick(inputs.b),
    c: pick(inputs.c),
    flag: pick(inputs.flag),
    h: pick(inputs.h),
    text: pick(inputs.text),
  };
}

test("float16 conversion", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to infinity
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie goes to even (zero)
    [3 * 2 ** -25, 0x0002], // tie goes to even (2)
    [2 ** -14, 0x0400], // smallest normal
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // tie to even
    [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [value, bits] of cases) {
    assert.equal(float32ToFloat16(value), bits, `bits of ${value}`);
  }
  assert.ok(Number.isNaN(float16ToFloat32(float32ToFloat16(NaN))));
  for (let bits = 0; bits < 0x10000; bits++) {
    const value = float16ToFloat32(bits);
    if (Number.isNaN(value)) continue;
    assert.equal(float32ToFloat16(value), bits, `round trip of 0x${bits.toString(16)}`);
  }
  assert.equal(roundToFloat16(0.1), 0.0999755859375);
  assert.deepEqual(fromFloat16Array(toFloat16Array([1.5, -3])), [1.5, -3]);
  assert.deepEqual(unflatten([1, 2, 3, 4], 2), [
    [1, 2],
    [3, 4],
  ]);
});

test("generated models match the reference functions in onnxruntime", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "gen-models-"));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const first = generateModels(dir);
  assert.equal(first.generated, true);
  assert.equal(first.files.length, TEST_MODELS.length);
  const before = await readFile(join(dir, modelFile("mlp", "1")));
  const second = generateModels(dir);
  assert.equal(second.generated, false, "a second run with unchanged inputs skips");
  assert.deepEqual(await readFile(join(dir, modelFile("mlp", "1"))), before);

  const open = (model: string, version: string) =>
    ort.InferenceSession.create(join(dir, modelFile(model, version)));

  await t.test("every model declares the names and types of test-models.ts", async () => {
    for (const m of TEST_MODELS) {
      const session = await open(m.model, m.version);
      assert.deepEqual(
        session.inputNames,
        m.inputs.map((i) => i.name),
        `${m.model} inputs`,
      );
      assert.deepEqual(
        session.outputNames,
        m.outputs.map((o) => o.name),
        `${m.model} outputs`,
      );
      const meta = [...session.inputMetadata, ...session.outputMetadata];
      for (const spec of [...m.inputs, ...m.outputs]) {
        const md = meta.find((x) => x.name === spec.name);
        assert.ok(md?.isTensor, `${m.model} ${spec.name} is a tensor`);
        assert.equal(md.type, spec.ortType, `${m.model} ${spec.name} type`);
        assert.deepEqual(
          md.shape,
          spec.shape.map((d) => (d < 0 ? "batch" : d)),
          `${m.model} ${spec.name} shape`,
        );
      }
      await session.release();
    }
  });

  await t.test("mlp", async () => {
    const session = await open("mlp", "1");
    for (const input of [MLP_SAMPLE_INPUT, MLP_SAMPLE_INPUT.slice(0, 1)]) {
      const out = output(await session.run({ input: floatRows(input) }), "output");
      assert.equal(out.type, "float32");
      assert.deepEqual(out.dims, [input.length, 3]);
      assertClose(Array.from(out.data as Float32Array), flatten(mlpReference(input)), "mlp output");
    }
    // Relu must clip some hidden unit of the samples, or a graph without it would pass too.
    const preActivations = MLP_SAMPLE_INPUT.flatMap((x) =>
      MLP_B1.map((b, j) => x.reduce((acc, xi, i) => acc + xi * (MLP_W1[i]?.[j] ?? NaN), b)),
    );
    assert.ok(preActivations.some((v) => v < 0));
    await session.release();
  });

  await t.test("scale, every version distinct", async () => {
    const seen = new Set<string>();
    for (const version of SCALE_VERSIONS) {
      const session = await open("scale", version);
      const out = output(await session.run({ input: floatRows(SCALE_SAMPLE_INPUT) }), "output");
      assert.deepEqual(out.dims, [SCALE_SAMPLE_INPUT.length, 4]);
      const expected = flatten(scaleReference(version, SCALE_SAMPLE_INPUT));
      assertClose(Array.from(out.data as Float32Array), expected, `scale v${version}`);
      seen.add(JSON.stringify(expected));
      await session.release();
    }
    assert.equal(seen.size, SCALE_VERSIONS.length);
  });

  await t.test("mixed, every datatype", async () => {
    const session = await open("mixed", "1");
    for (const inputs of [MIXED_SAMPLE_INPUTS, withBatchOf(MIXED_SAMPLE_INPUTS, [1])]) {
      const n = inputs.a.length;
      const feeds = {
        a: floatRows(inputs.a),
        b: new ort.Tensor("int64", BigInt64Array.from(flatten(inputs.b), BigInt), [n, 2]),
        c: new ort.Tensor("int32", Int32Array.from(flatten(inputs.c)), [n, 2]),
        flag: new ort.Tensor("bool", Uint8Array.from(flatten(inputs.flag), Number), [n, 2]),
        h: new ort.Tensor("float16", toFloat16Array(flatten(inputs.h)), [n, 2]),
        text: new ort.Tensor("string", [...inputs.text], [n]),
      };
      const results = await session.run(feeds);
      const expected = mixedReference(inputs);

      const sum = output(results, "sum");
      assert.equal(sum.type, "float32");
      assertClose(Array.from(sum.data as Float32Array), flatten(expected.sum), "sum");

      const bTwice = output(results, "b_twice");
      assert.equal(bTwice.type, "int64");
      assert.deepEqual(Array.from(bTwice.data as BigInt64Array, Number), flatten(expected.b_twice));

      const cNeg = output(results, "c_neg");
      assert.equal(cNeg.type, "int32");
      assert.deepEqual(Array.from(cNeg.data as Int32Array), flatten(expected.c_neg));

      const notFlag = output(results, "not_flag");
      assert.equal(notFlag.type, "bool");
      assert.deepEqual(Array.from(notFlag.data as Uint8Array, Boolean), flatten(expected.not_flag));

      const hDouble = output(results, "h_double");
      assert.equal(hDouble.type, "float16");
      assert.ok(hDouble.data instanceof Uint16Array);
      assert.deepEqual(fromFloat16Array(hDouble.data), flatten(expected.h_double));

      const textOut = output(results, "text_out");
      assert.equal(textOut.type, "string");
      assert.deepEqual(textOut.dims, [n]);
      assert.deepEqual(textOut.data, expected.text_out);

      for (const name of ["sum", "b_twice", "c_neg", "not_flag", "h_double"]) {
        assert.deepEqual(output(results, name).dims, [n, 2], `${name} dims`);
      }
    }
    await session.release();
  });
});
