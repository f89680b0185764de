/**
 * Tensor data in the JSON form of the v2 REST protocol: `data` as a flat or nested (row-major)
 * array of JSON values, turned into the little-endian raw form the inference core reads, and raw
 * output tensors turned back into JSON text. Pure: no I/O; every error names the tensor.
 */
import { float16ToFloat32, float32ToFloat16 } from "@inferencehub/contracts/float16";
import { clip, shapeText } from "../client-text.js";
import { elementSize, type KservDatatype } from "../datatypes.js";
import { invalidArgument } from "../errors.js";

/** Elements of a shape; Infinity-safe (a huge shape simply never matches the data). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * The leaves of `data` in row-major order. Nesting is optional (Triton and KServe accept both),
 * but never deeper than the tensor has dimensions, which also bounds the walk.
 */
export function flattenData(name: string, data: unknown, rank: number): unknown[] {
  if (!Array.isArray(data)) throw invalidArgument(`input '${clip(name)}': data must be an array`);
  const out: unknown[] = [];
  const maxDepth = Math.max(rank, 1);
  // Iterative, so no input can exhaust the stack.
  const stack: { items: unknown[]; i: number }[] = [{ items: data, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.i++];
    if (Array.isArray(item)) {
      if (stack.length >= maxDepth) {
        throw invalidArgument(`input '${clip(name)}': data is nested deeper than its ${rank} dimension(s)`);
      }
      stack.push({ items: item, i: 0 });
    } else {
      out.push(item);
    }
  }
  return out;
}

const intRange: Partial<Record<KservDatatype, readonly [bigint, bigint]>> = {
  INT8: [-(2n ** 7n), 2n ** 7n - 1n],
  INT16: [-(2n ** 15n), 2n ** 15n - 1n],
  INT32: [-(2n ** 31n), 2n ** 31n - 1n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT8: [0n, 2n ** 8n - 1n],
  UINT16: [0n, 2n ** 16n - 1n],
  UINT32: [0n, 2n ** 32n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `"${clip(value, 16)}"`;
  if (typeof value === "object") return "an object";
  return clip(String(value), 24);
}

/** Checks one JSON value against the datatype; the message names the tensor and the element. */
function checkElement(name: string, datatype: KservDatatype, value: unknown, index: number): void {
  const bad = (want: string) =>
    invalidArgument(
      `input '${clip(name)}': element ${index} is ${describe(value)}, ${datatype} needs ${want}`,
    );
  if (datatype === "BYTES") {
    if (typeof value !== "string") throw bad("a string");
    return;
  }
  if (datatype === "BOOL") {
    if (typeof value !== "boolean") throw bad("true or false");
    return;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw bad("a number");
  const range = intRange[datatype];
  if (range) {
    if (!Number.isInteger(value)) throw bad("an integer");
    const v = BigInt(value);
    if (v < range[0] || v > range[1]) throw bad(`an integer in [${range[0]}, ${range[1]}]`);
  }
}

/** BYTES elements in the raw form: each a 4-byte little-endian length, then its bytes. */
export function encodeBytesElements(elements: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of elements) {
    const bytes = typeof e === "string" ? Buffer.from(e, "utf8") : Buffer.from(e);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(bytes.length);
    parts.push(len, bytes);
  }
  return Buffer.concat(parts);
}

/** The raw form of values already checked against the datatype (numbers, booleans or strings). */
export function encodeValues(datatype: KservDatatype, values: readonly unknown[]): Buffer {
  if (datatype === "BYTES") return encodeBytesElements(values as (string | Uint8Array)[]);
  const n = values.length;
  const buf = Buffer.alloc(n * (elementSize(datatype) ?? 1));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const num = values as readonly number[];
  for (let i = 0; i < n; i++) {
    const v = num[i]!;
    switch (datatype) {
      case "BOOL":
        view.setUint8(i, v ? 1 : 0);
        break;
      case "INT8":
        view.setInt8(i, v);
        break;
      case "UINT8":
        view.setUint8(i, v);
        break;
      case "INT16":
        view.setInt16(i * 2, v, true);
        break;
      case "UINT16":
        view.setUint16(i * 2, v, true);
        break;
      case "FP16":
        view.setUint16(i * 2, float32ToFloat16(v), true);
        break;
      case "INT32":
        view.setInt32(i * 4, v, true);
        break;
      case "UINT32":
        view.setUint32(i * 4, v, true);
        break;
      case "FP32":
        view.setFloat32(i * 4, v, true);
        break;
      case "INT64":
        view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case "UINT64":
        view.setBigUint64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case "FP64":
        view.setFloat64(i * 8, v, true);
        break;
    }
  }
  return buf;
}

/**
 * One input's JSON `data`, checked against its declared datatype and shape, in raw form. The
 * model's own datatype and shape are checked later by the inference core, as for gRPC.
 */
export function rawFromJsonData(
  name: string,
  datatype: KservDatatype,
  shape: readonly number[],
  data: unknown,
): Buffer {
  const values = flattenData(name, data, shape.length);
  const expected = elementCount(shape);
  if (values.length !== expected) {
    throw invalidArgument(
      `input '${clip(name)}': shape ${shapeText(shape)} needs ${expected} elements, data has ${values.length}`,
    );
  }
  values.forEach((v, i) => checkElement(name, datatype, v, i));
  return encodeValues(datatype, values);
}

/** Splits raw BYTES: the elements as buffers; undefined when the buffer is not well formed. */
export function splitBytesElements(raw: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < raw.length) {
    if (offset + 4 > raw.length) return undefined;
    const len = raw.readUInt32LE(offset);
    offset += 4;
    if (offset + len > raw.length) return undefined;
    out.push(raw.subarray(offset, offset + len));
    offset += len;
  }
  return out;
}

/** One JSON number, as JSON.stringify writes it (non-finite values have no JSON form: null). */
const numberText = (v: number): string => (Number.isFinite(v) ? String(v) : "null");

/**
 * The JSON text of a raw output tensor's elements, flat, row-major. 64-bit integers are written
 * with every digit (JSON numbers have no size limit; JavaScript's would round past 2^53).
 */
export function jsonDataText(datatype: KservDatatype, raw: Buffer): string {
  if (datatype === "BYTES") {
    const elements = splitBytesElements(raw);
    if (!elements) throw new Error("malformed BYTES output");
    return JSON.stringify(elements.map((e) => e.toString("utf8")));
  }
  const size = elementSize(datatype) ?? 1;
  const n = Math.floor(raw.length / size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    switch (datatype) {
      case "BOOL":
        parts[i] = view.getUint8(i) !== 0 ? "true" : "false";
        break;
      case "INT8":
        parts[i] = String(view.getInt8(i));
        break;
      case "UINT8":
        parts[i] = String(view.getUint8(i));
        break;
      case "INT16":
        parts[i] = String(view.getInt16(i * 2, true));
        break;
      case "UINT16":
        parts[i] = String(view.getUint16(i * 2, true));
        break;
      case "FP16":
        parts[i] = numberText(float16ToFloat32(view.getUint16(i * 2, true)));
        break;
      case "INT32":
        parts[i] = String(view.getInt32(i * 4, true));
        break;
      case "UINT32":
        parts[i] = String(view.getUint32(i * 4, true));
        break;
      case "FP32":
        parts[i] = numberText(view.getFloat32(i * 4, true));
        break;
      case "INT64":
        parts[i] = view.getBigInt64(i * 8, true).toString();
        break;
      case "UINT64":
        parts[i] = view.getBigUint64(i * 8, true).toString();
        break;
      case "FP64":
        parts[i] = numberText(view.getFloat64(i * 8, true));
        break;
    }
  }
  return `[${parts.join(",")}]`;
}
