/** Builds Open Inference Protocol requests for the test models and reads their outputs, in both tensor forms. */
import type { ModelInferRequest, ModelInferResponse } from "../../gen/inference/inference/grpc_service.js";
import { flatten, toFloat16Array, fromFloat16Array, unflatten, type MixedInputs } from "./test-models.js";
import { emptyContents } from "../../node/src/contents.js";
import { fullRequest } from "./infer-client.js";

/** A request with one FP32 input named `input` (the mlp and scale models). */
export function fp32Request(
  model: string,
  rows: readonly (readonly number[])[],
  opts: { raw?: boolean; version?: string } = {},
): ModelInferRequest {
  const values = flatten(rows);
  const shape = [rows.length, rows[0]?.length ?? 0];
  return fullRequest({
    modelName: model,
    modelVersion: opts.version ?? "",
    inputs: [
      {
        name: "input",
        datatype: "FP32",
        shape,
        parameters: {},
        contents: opts.raw ? undefined : { ...emptyContents(), fp32Contents: values },
      },
    ],
    rawInputContents: opts.raw ? [Buffer.from(Float32Array.from(values).buffer)] : [],
  });
}

function rawOf(response: ModelInferResponse, name: string): Buffer {
  const i = response.outputs.findIndex((o) => o.name === name);
  const raw = response.rawOutputContents[i];
  if (i < 0 || !raw) throw new Error(`no raw output '${name}'`);
  const copy = Buffer.alloc(raw.length);
  Buffer.from(raw).copy(copy);
  return copy;
}

/** Reads an FP32 output as rows, whichever form the node answered in. */
export function fp32Output(response: ModelInferResponse, name = "output"): number[][] {
  const out = response.outputs.find((o) => o.name === name);
  if (!out) throw new Error(`no output '${name}' in ${response.outputs.map((o) => o.name).join(",")}`);
  const width = out.shape[1] ?? 1;
  if (response.rawOutputContents.length > 0) {
    const raw = rawOf(response, name);
    return unflatten(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4), width);
  }
  return unflatten(out.contents?.fp32Contents ?? [], width);
}

function lengthPrefixed(values: readonly string[]): Buffer {
  return Buffer.concat(
    values.flatMap((s) => {
      const bytes = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      return [len, bytes];
    }),
  );
}

/** The `mixed` model's six inputs, all raw (FP16 has no typed field). */
export function mixedRequest(inputs: MixedInputs): ModelInferRequest {
  const rows = inputs.a.length;
  const t = (name: string, datatype: string, shape: number[]) => ({ name, datatype, shape, parameters: {} });
  return fullRequest({
    modelName: "mixed",
    inputs: [
      t("a", "FP32", [rows, 2]),
      t("b", "INT64", [rows, 2]),
      t("c", "INT32", [rows, 2]),
      t("flag", "BOOL", [rows, 2]),
      t("h", "FP16", [rows, 2]),
      t("text", "BYTES", [inputs.text.length]),
    ],
    rawInputContents: [
      Buffer.from(Float32Array.from(flatten(inputs.a)).buffer),
      Buffer.from(BigInt64Array.from(flatten(inputs.b), (v) => BigInt(v)).buffer),
      Buffer.from(Int32Array.from(flatten(inputs.c)).buffer),
      Buffer.from(Uint8Array.from(flatten(inputs.flag), (v) => (v ? 1 : 0))),
      Buffer.from(toFloat16Array(flatten(inputs.h)).buffer),
      lengthPrefixed(inputs.text),
    ],
  });
}

/** Decodes the `mixed` model's raw outputs into the shape of `mixedReference`. */
export function mixedOutputs(response: ModelInferResponse) {
  const buf = (name: string) => rawOf(response, name);
  const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  const text: string[] = [];
  const raw = buf("text_out");
  for (let o = 0; o < raw.length;) {
    const len = raw.readUInt32LE(o);
    text.push(raw.subarray(o + 4, o + 4 + len).toString("utf8"));
    o += 4 + len;
  }
  return {
    sum: unflatten(new Float32Array(ab(buf("sum"))), 2),
    b_twice: unflatten(Array.from(new BigInt64Array(ab(buf("b_twice"))), Number), 2),
    c_neg: unflatten(new Int32Array(ab(buf("c_neg"))), 2),
    not_flag: unflatten(
      Array.from(buf("not_flag"), (v) => v !== 0),
      2,
    ),
    h_double: unflatten(fromFloat16Array(new Uint16Array(ab(buf("h_double")))), 2),
    text_out: text,
  };
}
