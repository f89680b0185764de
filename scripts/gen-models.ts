/**
 * Generates the small ONNX test models of scripts/lib/test-models.ts as real protobuf files
 * (`<out>/<model>/<version>/model.onnx`, default models/), built with onnx-proto, not a Python
 * exporter. Usage: tsx scripts/gen-models.ts [--out <dir>] [--force]
 *
 * Output is a pure function of the fixture definitions and this script, so a stamp of their hash
 * lets a second run return at once.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// onnx-proto is CommonJS assigning module.exports wholesale, so Node's ESM loader sees no named
// exports: only the default import works at run time.
import onnxProto from "onnx-proto";
import type { onnx as Onnx } from "onnx-proto";
import { modelsDir, repoRoot } from "./lib/paths.js";
import {
  MIXED_B_FACTOR,
  MLP_B1,
  MLP_B2,
  MLP_W1,
  MLP_W2,
  SCALE_PARAMS,
  TEST_MODELS,
  modelFile,
} from "./lib/test-models.js";
import type { ModelVersionSpec, TensorSpec } from "./lib/test-models.js";

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;

export const IR_VERSION = 8;
export const OPSET_VERSION = 13;
const STAMP = ".stamp";

function valueInfo(t: TensorSpec): Onnx.IValueInfoProto {
  return {
    name: t.name,
    type: {
      tensorType: {
        elemType: DataType[t.onnxType],
        shape: { dim: t.shape.map((d) => (d < 0 ? { dimParam: "batch" } : { dimValue: d })) },
      },
    },
  };
}

function floatTensor(name: string, dims: number[], values: readonly number[]): Onnx.ITensorProto {
  return { name, dims, dataType: DataType.FLOAT, floatData: [...values] };
}

function int64Scalar(name: string, value: number): Onnx.ITensorProto {
  return { name, dims: [], dataType: DataType.INT64, int64Data: [value] };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: Onnx.IAttributeProto[] = [],
): Onnx.INodeProto {
  return { name: `${output[0] ?? opType}_${opType.toLowerCase()}`, opType, input, output, attribute };
}

function castTo(from: string, to: string, type: Onnx.TensorProto.DataType): Onnx.INodeProto {
  return node("Cast", [from], [to], [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: type }]);
}

function buildGraph(m: ModelVersionSpec): Onnx.IGraphProto {
  const io = { input: m.inputs.map(valueInfo), output: m.outputs.map(valueInfo) };
  const name = `${m.model}_v${m.version}`;
  switch (m.model) {
    case "mlp":
      return {
        name,
        ...io,
        initializer: [
          floatTensor("W1", [MLP_W1.length, MLP_B1.length], MLP_W1.flat()),
          floatTensor("B1", [MLP_B1.length], MLP_B1),
          floatTensor("W2", [MLP_W2.length, MLP_B2.length], MLP_W2.flat()),
          floatTensor("B2", [MLP_B2.length], MLP_B2),
        ],
        node: [
          node("MatMul", ["input", "W1"], ["h1"]),
          node("Add", ["h1", "B1"], ["h1b"]),
          node("Relu", ["h1b"], ["h1r"]),
          node("MatMul", ["h1r", "W2"], ["h2"]),
          node("Add", ["h2", "B2"], ["output"]),
        ],
      };
    case "scale": {
      const params = SCALE_PARAMS[m.version];
      if (!params) throw new Error(`no scale parameters for version ${m.version}`);
      return {
        name,
        ...io,
        initializer: [floatTensor("k", [], [params.k]), floatTensor("b", [], [params.b])],
        node: [node("Mul", ["input", "k"], ["scaled"]), node("Add", ["scaled", "b"], ["output"])],
      };
    }
    case "mixed":
      return {
        name,
        ...io,
        initializer: [int64Scalar("two", MIXED_B_FACTOR)],
        node: [
          castTo("b", "b_float", DataType.FLOAT),
          castTo("c", "c_float", DataType.FLOAT),
          node("Add", ["a", "b_float"], ["ab"]),
          node("Add", ["ab", "c_float"], ["sum"]),
          node("Mul", ["b", "two"], ["b_twice"]),
          node("Neg", ["c"], ["c_neg"]),
          node("Not", ["flag"], ["not_flag"]),
          node("Add", ["h", "h"], ["h_double"]),
          node("Identity", ["text"], ["text_out"]),
        ],
      };
    default:
      throw new Error(`no graph builder for model ${m.model}`);
  }
}

export function buildModel(m: ModelVersionSpec): Uint8Array {
  const model: Onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET_VERSION }],
    producerName: "inferencehub-gen-models",
    modelVersion: Number(m.version),
    graph: buildGraph(m),
  };
  const invalid = onnx.ModelProto.verify(model);
  if (invalid) throw new Error(`${m.model} v${m.version}: ${invalid}`);
  return onnx.ModelProto.encode(model).finish();
}

function inputsHash(): string {
  const hash = createHash("sha256");
  const files = [
    "scripts/gen-models.ts",
    "scripts/lib/test-models.ts",
    "node_modules/onnx-proto/package.json",
  ];
  for (const f of files) hash.update(f).update(readFileSync(join(repoRoot, f)));
  return hash.digest("hex");
}

export interface GenerateResult {
  outDir: string;
  /** False when the stamp matched and nothing was written. */
  generated: boolean;
  files: string[];
  ms: number;
}

export function generateModels(outDir: string = modelsDir, force = false): GenerateResult {
  const started = Date.now();
  const files = TEST_MODELS.map((m) => join(outDir, modelFile(m.model, m.version)));
  const stampFile = join(outDir, STAMP);
  const hash = inputsHash();
  const upToDate =
    existsSync(stampFile) && readFileSync(stampFile, "utf8") === hash && files.every((f) => existsSync(f));
  if (!force && upToDate) return { outDir, generated: false, files, ms: Date.now() - started };

  // Only the folders of our own models go, so --out may point at a folder holding other things.
  for (const model of new Set(TEST_MODELS.map((m) => m.model))) {
    rmSync(join(outDir, model), { recursive: true, force: true });
  }
  TEST_MODELS.forEach((m, i) => {
    const file = files[i] as string;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, buildModel(m));
  });
  writeFileSync(stampFile, hash);
  return { outDir, generated: true, files, ms: Date.now() - started };
}

function parseArgs(argv: string[]): { outDir: string; force: boolean } {
  let outDir = modelsDir;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--force") force = true;
    else if (arg === "--out") {
      const value = argv[++i];
      if (!value) throw new Error("--out needs a folder");
      outDir = resolve(value);
    } else if (arg?.startsWith("--out=")) outDir = resolve(arg.slice("--out=".length));
    else throw new Error(`unknown argument ${arg}; usage: gen-models.ts [--out <dir>] [--force]`);
  }
  return { outDir, force };
}

function main(): void {
  const { outDir, force } = parseArgs(process.argv.slice(2));
  const r = generateModels(outDir, force);
  const versions = TEST_MODELS.map((m) => `${m.model}/${m.version}`).join(", ");
  console.log(
    r.generated
      ? `gen-models: wrote ${r.files.length} models (${versions}) to ${outDir} in ${r.ms} ms`
      : `gen-models: ${outDir} is up to date`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
