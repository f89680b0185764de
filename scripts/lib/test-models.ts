/**
 * The single source of truth for the ONNX test models: scripts/gen-models.ts builds the graphs
 * from these constants, and tests compare real inference against the reference functions here.
 *
 * Pure: no I/O and no onnxruntime import, so any test can use it. Weights are dyadic rationals
 * (multiples of 1/8) so that, for inputs with few significant bits, float32 inference is exact
 * and the references below match it bit for bit; compare with a tolerance all the same.
 */
import { float16ToFloat32, float32ToFloat16 } from "@inferencehub/contracts/float16";

export { float16ToFloat32, float32ToFloat16 };

/** The datatypes the test models use, as the Open Inference Protocol spells them. */
export type TestDatatype = "FP32" | "FP16" | "INT32" | "INT64" | "BOOL" | "BYTES";

/** Element type names of `onnx.TensorProto.DataType`. */
export type OnnxElemType = "FLOAT" | "FLOAT16" | "INT32" | "INT64" | "BOOL" | "STRING";

/** onnxruntime `Tensor.Type` names. */
export type OrtElemType = "float32" | "float16" | "int32" | "int64" | "bool" | "string";

export interface TensorSpec {
  readonly name: string;
  readonly datatype: TestDatatype;
  readonly onnxType: OnnxElemType;
  readonly ortType: OrtElemType;
  /** -1 marks the dynamic batch dimension (dim_param "batch" in the graph). */
  readonly shape: readonly number[];
}

export interface ModelVersionSpec {
  readonly model: string;
  readonly version: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

const typeNames: Record<TestDatatype, { onnxType: OnnxElemType; ortType: OrtElemType }> = {
  FP32: { onnxType: "FLOAT", ortType: "float32" },
  FP16: { onnxType: "FLOAT16", ortType: "float16" },
  INT32: { onnxType: "INT32", ortType: "int32" },
  INT64: { onnxType: "INT64", ortType: "int64" },
  BOOL: { onnxType: "BOOL", ortType: "bool" },
  BYTES: { onnxType: "STRING", ortType: "string" },
};

function spec(name: string, datatype: TestDatatype, shape: readonly number[]): TensorSpec {
  return { name, datatype, ...typeNames[datatype], shape };
}

export const MLP_INPUT_SIZE = 4;
export const MLP_HIDDEN_SIZE = 8;
export const MLP_OUTPUT_SIZE = 3;

function matrix(rows: number, cols: number, f: (i: number, j: number) => number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => f(i, j)));
}

/** [4][8]; entries in [-3/4, 3/4] with mixed signs so Relu clips some hidden units. */
export const MLP_W1: readonly (readonly number[])[] = matrix(
  MLP_INPUT_SIZE,
  MLP_HIDDEN_SIZE,
  (i, j) => (((i * 3 + j * 5) % 7) - 3) / 4,
);
/** [8] */
export const MLP_B1: readonly number[] = Array.from({ length: MLP_HIDDEN_SIZE }, (_, j) => ((j % 3) - 1) / 8);
/** [8][3] */
export const MLP_W2: readonly (readonly number[])[] = matrix(
  MLP_HIDDEN_SIZE,
  MLP_OUTPUT_SIZE,
  (j, k) => (((j * 2 + k * 3) % 5) - 2) / 4,
);
/** [3] */
export const MLP_B2: readonly number[] = Array.from({ length: MLP_OUTPUT_SIZE }, (_, k) => (k - 1) / 4);

/** output = input * k + b, per version. */
export const SCALE_PARAMS: Readonly<Record<string, { readonly k: number; readonly b: number }>> = {
  "1": { k: 1, b: 0.1 },
  "2": { k: 2, b: 0.2 },
  "3": { k: 3, b: 0.3 },
};
export const SCALE_VERSIONS: readonly string[] = Object.keys(SCALE_PARAMS);
export const SCALE_WIDTH = 4;

/** The constant the mixed model multiplies `b` by. */
export const MIXED_B_FACTOR = 2;

export const TEST_MODELS: readonly ModelVersionSpec[] = [
  {
    model: "mlp",
    version: "1",
    inputs: [spec("input", "FP32", [-1, MLP_INPUT_SIZE])],
    outputs: [spec("output", "FP32", [-1, MLP_OUTPUT_SIZE])],
  },
  ...SCALE_VERSIONS.map((version) => ({
    model: "scale",
    version,
    inputs: [spec("input", "FP32", [-1, SCALE_WIDTH])],
    outputs: [spec("output", "FP32", [-1, SCALE_WIDTH])],
  })),
  {
    model: "mixed",
    version: "1",
    inputs: [
      spec("a", "FP32", [-1, 2]),
      spec("b", "INT64", [-1, 2]),
      spec("c", "INT32", [-1, 2]),
      spec("flag", "BOOL", [-1, 2]),
      spec("h", "FP16", [-1, 2]),
      spec("text", "BYTES", [-1]),
    ],
    outputs: [
      spec("sum", "FP32", [-1, 2]),
      spec("b_twice", "INT64", [-1, 2]),
      spec("c_neg", "INT32", [-1, 2]),
      spec("not_flag", "BOOL", [-1, 2]),
      spec("h_double", "FP16", [-1, 2]),
      spec("text_out", "BYTES", [-1]),
    ],
  },
];

export function findTestModel(model: string, version: string): ModelVersionSpec {
  const found = TEST_MODELS.find((m) => m.model === model && m.version === version);
  if (!found) throw new Error(`no test model ${model} version ${version}`);
  return found;
}

/** Relative to a models root: `<model>/<version>/model.onnx`, the layout the nodes load. */
export function modelFile(model: string, version: string): string {
  return `${model}/${version}/model.onnx`;
}

function checkRows(name: string, rows: readonly (readonly unknown[])[], width: number): void {
  rows.forEach((row, i) => {
    if (row.length !== width)
      throw new Error(`${name}: row ${i} has ${row.length} elements, expected ${width}`);
  });
}

function at<T>(values: readonly T[], i: number): T {
  const v = values[i];
  if (v === undefined) throw new Error(`index ${i} out of range`);
  return v;
}

/** Row-major flattening, the order of `contents` and raw tensors on the wire. */
export function flatten<T>(rows: readonly (readonly T[])[]): T[] {
  return rows.flat() as T[];
}

/** Splits row-major data back into rows of `width`. */
export function unflatten<T>(values: ArrayLike<T>, width: number): T[][] {
  const flat = Array.from(values);
  if (width <= 0 || flat.length % width !== 0) {
    throw new Error(`${flat.length} elements do not split into rows of ${width}`);
  }
  const rows: T[][] = [];
  for (let i = 0; i < flat.length; i += width) rows.push(flat.slice(i, i + width));
  return rows;
}

const f = Math.fround;

/** Float32 semantics: each product and partial sum rounds, in index order as MatMul does on CPU. */
function denseRow(
  x: readonly number[],
  w: readonly (readonly number[])[],
  bias: readonly number[],
): number[] {
  return bias.map((b, j) => {
    let acc = 0;
    x.forEach((xi, i) => {
      acc = f(acc + f(f(xi) * f(at(at(w, i), j))));
    });
    return f(acc + f(b));
  });
}

export function mlpReference(input: readonly (readonly number[])[]): number[][] {
  checkRows("mlp input", input, MLP_INPUT_SIZE);
  return input.map((x) => {
    const hidden = denseRow(x, MLP_W1, MLP_B1).map((v) => Math.max(v, 0));
    return denseRow(hidden, MLP_W2, MLP_B2);
  });
}

export function scaleReference(version: string, input: readonly (readonly number[])[]): number[][] {
  const params = SCALE_PARAMS[version];
  if (!params) throw new Error(`no scale version ${version}`);
  checkRows("scale input", input, SCALE_WIDTH);
  return input.map((row) => row.map((x) => f(f(f(x) * f(params.k)) + f(params.b))));
}

export interface MixedInputs {
  a: number[][];
  /** INT64 as numbers: safe integers only, the form ts-proto's forceLong=number gives. */
  b: number[][];
  c: number[][];
  flag: boolean[][];
  /** FP16 as numbers; rounded to the nearest float16 first, as any FP16 transport would. */
  h: number[][];
  text: string[];
}

export interface MixedOutputs {
  sum: number[][];
  b_twice: number[][];
  c_neg: number[][];
  not_flag: boolean[][];
  h_double: number[][];
  text_out: string[];
}

export function mixedReference(inputs: MixedInputs): MixedOutputs {
  const { a, b, c, flag, h, text } = inputs;
  for (const [name, rows] of Object.entries({ a, b, c, flag, h })) {
    checkRows(`mixed input ${name}`, rows, 2);
    if (rows.length !== a.length) throw new Error(`mixed input ${name}: batch ${rows.length} != ${a.length}`);
  }
  b.flat().forEach((v) => {
    if (!Number.isSafeInteger(v) || !Number.isSafeInteger(v * MIXED_B_FACTOR)) {
      throw new Error(`mixed input b: ${v} is not a safe integer`);
    }
  });
  c.flat().forEach((v) => {
    if ((v | 0) !== v) throw new Error(`mixed input c: ${v} is not an int32`);
  });
  return {
    sum: a.map((row, i) => row.map((x, j) => f(f(f(x) + f(at(at(b, i), j))) + f(at(at(c, i), j))))),
    b_twice: b.map((row) => row.map((x) => x * MIXED_B_FACTOR)),
    // Wraps like int32: Neg(-2^31) is -2^31.
    c_neg: c.map((row) => row.map((x) => -x | 0)),
    not_flag: flag.map((row) => row.map((x) => !x)),
    h_double: h.map((row) => row.map((x) => roundToFloat16(roundToFloat16(x) * 2))),
    text_out: [...text],
  };
}

/** Inputs whose reference outputs exercise every branch (Relu clipping, negative values). */
export const MLP_SAMPLE_INPUT: readonly (readonly number[])[] = [
  [1, 2, 3, 4],
  [-1, 0.5, -2, 0],
  [0, 0, 0, 0],
  [0.25, -0.75, 1.5, -3],
];

export const SCALE_SAMPLE_INPUT: readonly (readonly number[])[] = [
  [0, 1, -1, 2.5],
  [10, -0.5, 0.125, 100],
];

export const MIXED_SAMPLE_INPUTS: Readonly<MixedInputs> = {
  a: [
    [1.5, -2],
    [0, 0.25],
  ],
  b: [
    [3, -4],
    [2 ** 40, 0],
  ],
  c: [
    [7, -8],
    [2 ** 31 - 1, -(2 ** 31)],
  ],
  flag: [
    [true, false],
    [false, true],
  ],
  h: [
    [0.5, -1.25],
    [1000, 0.0999755859375],
  ],
  text: ["hello", "wörld ✓"],
};

export function roundToFloat16(value: number): number {
  return float16ToFloat32(float32ToFloat16(value));
}

/** The `Uint16Array` onnxruntime takes and returns for float16 tensors. */
export function toFloat16Array(values: readonly number[]): Uint16Array {
  return Uint16Array.from(values, float32ToFloat16);
}

export function fromFloat16Array(bits: ArrayLike<number>): number[] {
  return Array.from(bits, float16ToFloat32);
}
