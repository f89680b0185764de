/**
 * Conversion between Open Inference Protocol tensors (typed `contents` or little-endian
 * `raw_*_contents`) and onnxruntime tensors. Pure: no I/O, every error names the tensor.
 */
import { Tensor } from "onnxruntime-node";
import type { InferTensorContents } from "../../gen/inference/inference/grpc_service.js";
import { clip, shapeText } from "./client-text.js";
import { elementSize, ortTypeOf, type KservDatatype } from "./datatypes.js";
import { emptyContents } from "./contents.js";
import { invalidArgument } from "./errors.js";

type TypedField = keyof InferTensorContents;

/** The typed `contents` field that carries each datatype; FP16 has none and must be sent raw. */
const typedField: Record<KservDatatype, TypedField | undefined> = {
  BOOL: "boolContents",
  INT8: "intContents",
  INT16: "intContents",
  INT32: "intContents",
  INT64: "int64Contents",
  UINT8: "uintContents",
  UINT16: "uintContents",
  UINT32: "uintContents",
  UINT64: "uint64Contents",
  FP16: undefined,
  FP32: "fp32Contents",
  FP64: "fp64Contents",
  BYTES: "bytesContents",
};

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export { emptyContents };

export function canBeTyped(datatype: KservDatatype): boolean {
  return typedField[datatype] !== undefined;
}

function numericArray(datatype: KservDatatype, values: ArrayLike<number>): Tensor["data"] {
  switch (datatype) {
    case "BOOL":
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case "INT8":
      return Int8Array.from(values);
    case "INT16":
      return Int16Array.from(values);
    case "INT32":
      return Int32Array.from(values);
    case "UINT8":
      return Uint8Array.from(values);
    case "UINT16":
      return Uint16Array.from(values);
    case "UINT32":
      return Uint32Array.from(values);
    case "INT64":
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case "UINT64":
      return BigUint64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case "FP16":
      return Uint16Array.from(values);
    case "FP32":
      return Float32Array.from(values);
    case "FP64":
      return Float64Array.from(values);
    case "BYTES":
      throw new Error("BYTES is not numeric");
  }
}

/** Builds an onnxruntime tensor from the typed `contents` form. */
export function tensorFromContents(
  name: string,
  datatype: KservDatatype,
  shape: readonly number[],
  contents: InferTensorContents,
): Tensor {
  const field = typedField[datatype];
  if (field === undefined) {
    throw invalidArgument(
      `input '${clip(name)}': ${datatype} has no typed contents field; send it in raw_input_contents`,
    );
  }
  const values = contents[field];
  const expected = elementCount(shape);
  if (values.length !== expected) {
    throw invalidArgument(
      `input '${clip(name)}': shape ${shapeText(shape)} needs ${expected} elements, ${field} has ${values.length}`,
    );
  }
  if (datatype === "BYTES") {
    return new Tensor(
      "string",
      (values as Buffer[]).map((b) => Buffer.from(b).toString("utf8")),
      [...shape],
    );
  }
  // Booleans go through `v ? 1 : 0` in numericArray, so one numeric view serves every field.
  return new Tensor(ortTypeOf(datatype), numericArray(datatype, values as unknown as ArrayLike<number>), [
    ...shape,
  ]);
}

/** Splits a raw BYTES tensor: each element is a 4-byte little-endian length, then the bytes. */
function parseRawBytes(name: string, raw: Buffer, expected: number): string[] {
  const out: string[] = [];
  let offset = 0;
  while (offset < raw.length) {
    if (offset + 4 > raw.length)
      throw invalidArgument(`input '${clip(name)}': truncated BYTES length prefix`);
    const len = raw.readUInt32LE(offset);
    offset += 4;
    if (offset + len > raw.length)
      throw invalidArgument(`input '${clip(name)}': BYTES element overruns the buffer`);
    out.push(raw.subarray(offset, offset + len).toString("utf8"));
    offset += len;
  }
  if (out.length !== expected) {
    throw invalidArgument(
      `input '${clip(name)}': shape needs ${expected} BYTES elements, raw contents hold ${out.length}`,
    );
  }
  return out;
}

/** Copies into a fresh, aligned buffer: gRPC hands out views into larger buffers at any offset. */
function aligned(raw: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(raw.length);
  new Uint8Array(copy).set(raw);
  return copy;
}

/** Builds an onnxruntime tensor from one entry of `raw_input_contents`. */
export function tensorFromRaw(
  name: string,
  datatype: KservDatatype,
  shape: readonly number[],
  raw: Buffer,
): Tensor {
  const expected = elementCount(shape);
  if (datatype === "BYTES") return new Tensor("string", parseRawBytes(name, raw, expected), [...shape]);
  const size = elementSize(datatype) ?? 1;
  if (raw.length !== expected * size) {
    throw invalidArgument(
      `input '${clip(name)}': shape ${shapeText(shape)} of ${datatype} needs ${expected * size} bytes, raw contents hold ${raw.length}`,
    );
  }
  const buf = aligned(raw);
  const data: Tensor["data"] = (() => {
    switch (datatype) {
      case "BOOL":
      case "UINT8":
        return new Uint8Array(buf);
      case "INT8":
        return new Int8Array(buf);
      case "INT16":
        return new Int16Array(buf);
      case "UINT16":
      case "FP16":
        return new Uint16Array(buf);
      case "INT32":
        return new Int32Array(buf);
      case "UINT32":
        return new Uint32Array(buf);
      case "INT64":
        return new BigInt64Array(buf);
      case "UINT64":
        return new BigUint64Array(buf);
      case "FP32":
        return new Float32Array(buf);
      case "FP64":
        return new Float64Array(buf);
    }
  })();
  return new Tensor(ortTypeOf(datatype), data, [...shape]);
}

/** The typed `contents` form of an output tensor. */
export function contentsFromTensor(datatype: KservDatatype, tensor: Tensor): InferTensorContents {
  const contents = emptyContents();
  const field = typedField[datatype];
  if (field === undefined) throw new Error(`${datatype} cannot be typed`);
  const data = tensor.data;
  if (datatype === "BYTES") {
    contents.bytesContents = (data as string[]).map((s) => Buffer.from(s, "utf8"));
  } else if (datatype === "BOOL") {
    contents.boolContents = Array.from(data as Uint8Array, (v) => v !== 0);
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    // Numbers lose precision past 2^53; raw form keeps all 64 bits.
    (contents[field] as number[]) = Array.from(data, (v) => Number(v));
  } else {
    (contents[field] as number[]) = Array.from(data as ArrayLike<number>);
  }
  return contents;
}

/** The raw little-endian form of an output tensor. */
export function rawFromTensor(datatype: KservDatatype, tensor: Tensor): Buffer {
  if (datatype === "BYTES") {
    const parts: Buffer[] = [];
    for (const s of tensor.data as string[]) {
      const bytes = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      parts.push(len, bytes);
    }
    return Buffer.concat(parts);
  }
  const data = tensor.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
