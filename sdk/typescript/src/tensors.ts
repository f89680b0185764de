/**
 * Tensors as typed arrays, to and from the Open Inference Protocol's two wire forms: typed
 * `contents` fields and raw little-endian bytes (`raw_input_contents` / `raw_output_contents`).
 * Pure: no gRPC here.
 */
import {
  InferTensorContents,
  type ModelInferRequest_InferInputTensor,
  type ModelInferResponse_InferOutputTensor,
} from "../../../gen/inference/inference/grpc_service.js";

/** Every datatype the protocol has. */
export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
] as const;

export type Datatype = (typeof DATATYPES)[number];

/**
 * The array each datatype comes back as. BOOL is one byte per element (0 or 1); FP16 is the raw
 * IEEE 754 half-precision bits (convert with @inferencehub/contracts/float16 or your own); BYTES
 * is one Uint8Array per element.
 */
export interface DataOf {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
  BYTES: Uint8Array[];
}

export type TensorData = DataOf[Datatype];

/** An output tensor: its datatype, shape (row-major) and data. */
export interface Tensor<D extends Datatype = Datatype> {
  datatype: D;
  shape: number[];
  data: DataOf[D];
}

/**
 * An input tensor. `datatype` may be left out where the array says it: Float32Array is FP32,
 * Float64Array FP64, Int8/16/32Array INT8/16/32, BigInt64Array INT64, Uint8/16/32Array
 * UINT8/16/32, BigUint64Array UINT64, boolean[] BOOL, string[] and Uint8Array[] BYTES. Name it for
 * BOOL given as a Uint8Array and for FP16 (a Uint16Array of half-precision bits).
 */
export interface TensorInput {
  data: TensorData | readonly boolean[] | readonly string[];
  shape: readonly number[];
  datatype?: Datatype;
}

export type Inputs = Record<string, TensorInput>;

/** An input that does not fit its datatype or shape; thrown before anything is sent. */
export class TensorError extends TypeError {
  override name = "TensorError";
}

function inferDatatype(name: string, data: TensorInput["data"]): Datatype {
  if (data instanceof Float32Array) return "FP32";
  if (data instanceof Float64Array) return "FP64";
  if (data instanceof Int8Array) return "INT8";
  if (data instanceof Int16Array) return "INT16";
  if (data instanceof Int32Array) return "INT32";
  if (data instanceof BigInt64Array) return "INT64";
  if (data instanceof Uint8Array) return "UINT8";
  if (data instanceof Uint16Array) return "UINT16";
  if (data instanceof Uint32Array) return "UINT32";
  if (data instanceof BigUint64Array) return "UINT64";
  if (Array.isArray(data)) {
    const first: unknown = data[0];
    if (typeof first === "boolean") return "BOOL";
    if (typeof first === "string" || first instanceof Uint8Array) return "BYTES";
  }
  throw new TensorError(`input '${name}': name its datatype (the data does not say it)`);
}

const arrayTypes: Record<
  Exclude<Datatype, "BOOL" | "BYTES">,
  { name: string; of: (d: unknown) => boolean }
> = {
  UINT8: { name: "Uint8Array", of: (d) => d instanceof Uint8Array },
  UINT16: { name: "Uint16Array", of: (d) => d instanceof Uint16Array },
  UINT32: { name: "Uint32Array", of: (d) => d instanceof Uint32Array },
  UINT64: { name: "BigUint64Array", of: (d) => d instanceof BigUint64Array },
  INT8: { name: "Int8Array", of: (d) => d instanceof Int8Array },
  INT16: { name: "Int16Array", of: (d) => d instanceof Int16Array },
  INT32: { name: "Int32Array", of: (d) => d instanceof Int32Array },
  INT64: { name: "BigInt64Array", of: (d) => d instanceof BigInt64Array },
  FP16: { name: "Uint16Array (half-precision bits)", of: (d) => d instanceof Uint16Array },
  FP32: { name: "Float32Array", of: (d) => d instanceof Float32Array },
  FP64: { name: "Float64Array", of: (d) => d instanceof Float64Array },
};

const utf8 = new TextEncoder();

/** The data in the array its datatype takes (BOOL as bytes, BYTES as Uint8Array[]), checked. */
function normalize(name: string, datatype: Datatype, data: TensorInput["data"]): TensorData {
  if (datatype === "BOOL") {
    if (data instanceof Uint8Array) return data;
    if (Array.isArray(data) && data.every((v) => typeof v === "boolean")) {
      return Uint8Array.from(data as boolean[], (v) => (v ? 1 : 0));
    }
    throw new TensorError(`input '${name}': BOOL takes boolean[] or a Uint8Array of 0 and 1`);
  }
  if (datatype === "BYTES") {
    if (Array.isArray(data)) {
      return (data as readonly unknown[]).map((v) => {
        if (typeof v === "string") return utf8.encode(v);
        if (v instanceof Uint8Array) return v;
        throw new TensorError(`input '${name}': BYTES takes string[] or Uint8Array[]`);
      });
    }
    throw new TensorError(`input '${name}': BYTES takes string[] or Uint8Array[]`);
  }
  const type = arrayTypes[datatype];
  if (!type) throw new TensorError(`input '${name}': unknown datatype '${String(datatype)}'`);
  if (!type.of(data)) throw new TensorError(`input '${name}': ${datatype} takes a ${type.name}`);
  return data as TensorData;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function checkShape(name: string, shape: readonly number[], length: number): void {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorError(`input '${name}': shape [${shape.join(", ")}] has a dimension that is not a size`);
  }
  if (elementCount(shape) !== length) {
    throw new TensorError(
      `input '${name}': shape [${shape.join(", ")}] holds ${elementCount(shape)} elements, the data has ${length}`,
    );
  }
}

/** FP16 has no typed field: a request with an FP16 input is sent raw (raw is all or nothing). */
export function canBeTyped(datatype: Datatype): boolean {
  return datatype !== "FP16";
}

function safeNumber(name: string, v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    throw new TensorError(`input '${name}': ${v} does not fit the typed form (2^53); send it raw`);
  }
  return n;
}

function typedContents(name: string, datatype: Datatype, data: TensorData): InferTensorContents {
  // The generated message with every field at its default: every contents list empty.
  const c = InferTensorContents.fromPartial({});
  switch (datatype) {
    case "BOOL":
      c.boolContents = Array.from(data as Uint8Array, (v) => v !== 0);
      break;
    case "INT8":
    case "INT16":
    case "INT32":
      c.intContents = Array.from(data as Int32Array);
      break;
    case "UINT8":
    case "UINT16":
    case "UINT32":
      c.uintContents = Array.from(data as Uint32Array);
      break;
    case "INT64":
      c.int64Contents = Array.from(data as BigInt64Array, (v) => safeNumber(name, v));
      break;
    case "UINT64":
      c.uint64Contents = Array.from(data as BigUint64Array, (v) => safeNumber(name, v));
      break;
    case "FP32":
      c.fp32Contents = Array.from(data as Float32Array);
      break;
    case "FP64":
      c.fp64Contents = Array.from(data as Float64Array);
      break;
    case "BYTES":
      c.bytesContents = (data as Uint8Array[]).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      break;
    case "FP16":
      throw new TensorError(`input '${name}': FP16 has no typed form; send it raw`);
  }
  return c;
}

/** BYTES elements, raw: each a 4-byte little-endian length, then its bytes. */
function rawBytes(elements: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(elements.reduce((n, e) => n + 4 + e.byteLength, 0));
  let o = 0;
  for (const e of elements) {
    out.writeUInt32LE(e.byteLength, o);
    out.set(e, o + 4);
    o += 4 + e.byteLength;
  }
  return out;
}

function rawOf(datatype: Datatype, data: TensorData): Buffer {
  if (datatype === "BYTES") return rawBytes(data as Uint8Array[]);
  // The protocol's raw form is little-endian, as typed arrays are on every platform Node runs on.
  const view = data as Exclude<TensorData, Uint8Array[]>;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

export interface EncodedInputs {
  inputs: ModelInferRequest_InferInputTensor[];
  rawInputContents: Buffer[];
}

/**
 * The request's inputs, raw (no copy for typed arrays) or typed. Raw is forced when an input can
 * only be raw (FP16).
 */
export function encodeInputs(inputs: Inputs, raw: boolean): EncodedInputs {
  const entries = Object.entries(inputs).map(([name, input]) => {
    const datatype = input.datatype ?? inferDatatype(name, input.data);
    const data = normalize(name, datatype, input.data);
    checkShape(name, input.shape, data.length);
    return { name, datatype, data, shape: [...input.shape] };
  });
  const asRaw = raw || entries.some((e) => !canBeTyped(e.datatype));
  return {
    inputs: entries.map((e) => ({
      name: e.name,
      datatype: e.datatype,
      shape: e.shape,
      parameters: {},
      contents: asRaw ? undefined : typedContents(e.name, e.datatype, e.data),
    })),
    rawInputContents: asRaw ? entries.map((e) => rawOf(e.datatype, e.data)) : [],
  };
}

function isDatatype(s: string): s is Datatype {
  return (DATATYPES as readonly string[]).includes(s);
}

/** A copy into fresh memory: the wire buffer may be unaligned for the element size, and is shared. */
function aligned(buf: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return copy.buffer;
}

function parseRawBytes(name: string, buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let o = 0; o < buf.byteLength;) {
    if (o + 4 > buf.byteLength) throw new TensorError(`output '${name}': truncated BYTES length`);
    const len = view.getUint32(o, true);
    if (o + 4 + len > buf.byteLength) throw new TensorError(`output '${name}': truncated BYTES element`);
    // A copy, as a plain Uint8Array (a Buffer's slice would share the wire buffer).
    out.push(new Uint8Array(buf.buffer, buf.byteOffset + o + 4, len).slice());
    o += 4 + len;
  }
  return out;
}

function fromRaw(name: string, datatype: Datatype, buf: Uint8Array): TensorData {
  switch (datatype) {
    case "BYTES":
      return parseRawBytes(name, buf);
    case "BOOL":
    case "UINT8":
      return new Uint8Array(aligned(buf));
    case "INT8":
      return new Int8Array(aligned(buf));
    case "UINT16":
    case "FP16":
      return new Uint16Array(aligned(buf));
    case "INT16":
      return new Int16Array(aligned(buf));
    case "UINT32":
      return new Uint32Array(aligned(buf));
    case "INT32":
      return new Int32Array(aligned(buf));
    case "UINT64":
      return new BigUint64Array(aligned(buf));
    case "INT64":
      return new BigInt64Array(aligned(buf));
    case "FP32":
      return new Float32Array(aligned(buf));
    case "FP64":
      return new Float64Array(aligned(buf));
  }
}

function fromContents(name: string, datatype: Datatype, c: InferTensorContents | undefined): TensorData {
  const contents = c ?? InferTensorContents.fromPartial({});
  switch (datatype) {
    case "BOOL":
      return Uint8Array.from(contents.boolContents, (v) => (v ? 1 : 0));
    case "UINT8":
      return Uint8Array.from(contents.uintContents);
    case "UINT16":
      return Uint16Array.from(contents.uintContents);
    case "UINT32":
      return Uint32Array.from(contents.uintContents);
    case "UINT64":
      return BigUint64Array.from(contents.uint64Contents, (v) => BigInt(v));
    case "INT8":
      return Int8Array.from(contents.intContents);
    case "INT16":
      return Int16Array.from(contents.intContents);
    case "INT32":
      return Int32Array.from(contents.intContents);
    case "INT64":
      return BigInt64Array.from(contents.int64Contents, (v) => BigInt(v));
    case "FP32":
      return Float32Array.from(contents.fp32Contents);
    case "FP64":
      return Float64Array.from(contents.fp64Contents);
    case "BYTES":
      return contents.bytesContents.map((b) => new Uint8Array(b));
    case "FP16":
      throw new TensorError(`output '${name}': FP16 came in typed form, which it has none of`);
  }
}

/** The response's outputs as typed arrays, whichever form the server answered in. */
export function decodeOutputs(
  outputs: readonly ModelInferResponse_InferOutputTensor[],
  rawOutputContents: readonly Uint8Array[],
): Record<string, Tensor> {
  const raw = rawOutputContents.length > 0;
  if (raw && rawOutputContents.length !== outputs.length) {
    throw new TensorError(`${outputs.length} outputs but ${rawOutputContents.length} raw output contents`);
  }
  const result: Record<string, Tensor> = {};
  outputs.forEach((o, i) => {
    if (!isDatatype(o.datatype))
      throw new TensorError(`output '${o.name}': unknown datatype '${o.datatype}'`);
    const rawData = rawOutputContents[i];
    const data =
      raw && rawData ? fromRaw(o.name, o.datatype, rawData) : fromContents(o.name, o.datatype, o.contents);
    result[o.name] = { datatype: o.datatype, shape: [...o.shape], data };
  });
  return result;
}

const utf8Decoder = new TextDecoder();

/** BYTES elements as UTF-8 strings. */
export function bytesToStrings(data: readonly Uint8Array[]): string[] {
  return data.map((b) => utf8Decoder.decode(b));
}
