/**
 * Triton's binary tensor data extension for the v2 REST protocol
 * (server/docs/protocol/extension_binary_data.md): with `Inference-Header-Content-Length: N`, the
 * first N bytes of a body are the JSON inference header and the rest is raw tensor data, one
 * tensor after another in the order of the tensors that carry `parameters.binary_data_size`.
 * Raw data is the protocol's raw form (little-endian; BYTES elements each a 4-byte little-endian
 * length, then the bytes), so it passes to the inference core as raw_input_contents unchanged.
 */
import { clip } from "../client-text.js";
import { invalidArgument } from "../errors.js";

/** The header, as Node's http module spells incoming header names (lowercase). */
export const headerLengthHeader = "inference-header-content-length";
/** As Triton writes it in responses. */
export const headerLengthResponseHeader = "Inference-Header-Content-Length";

/** Splits a body into its JSON header and its binary part (empty without the header). */
export function splitBody(body: Buffer, headerLength: string | undefined): { json: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  const n = /^\d{1,15}$/.test(headerLength.trim()) ? Number(headerLength.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n === 0 || n > body.length) {
    throw invalidArgument(
      `${headerLengthResponseHeader} '${clip(headerLength, 24)}' must be a byte count from 1 to the body's ${body.length}`,
    );
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** A tensor's `parameters.binary_data_size`: undefined when absent, else a byte count. */
export function binaryDataSize(
  tensor: string,
  parameters: Record<string, unknown> | undefined,
): number | undefined {
  const size = parameters?.["binary_data_size"];
  if (size === undefined) return undefined;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(`input '${clip(tensor)}': parameters.binary_data_size must be a byte count`);
  }
  return size;
}

/**
 * Cuts the binary part into one buffer per entry of `sizes` (undefined for a tensor sent as JSON),
 * in order; the sizes must account for every byte.
 */
export function takeBinaryTensors(
  binary: Buffer,
  tensors: readonly { name: string; size: number | undefined }[],
): (Buffer | undefined)[] {
  let offset = 0;
  const out = tensors.map(({ name, size }) => {
    if (size === undefined) return undefined;
    if (offset + size > binary.length) {
      throw invalidArgument(
        `input '${clip(name)}': binary_data_size ${size} overruns the binary data (${binary.length - offset} bytes left)`,
      );
    }
    const slice = binary.subarray(offset, offset + size);
    offset += size;
    return slice;
  });
  if (offset !== binary.length) {
    throw invalidArgument(
      `the binary data after the JSON header is ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  return out;
}

/**
 * A response body: the JSON header, then each binary output's bytes in the order of the outputs
 * that carry `binary_data_size`. `headerLength` is undefined when nothing is binary (plain JSON).
 */
export function binaryResponseBody(
  json: string,
  chunks: readonly Buffer[],
): { body: Buffer; headerLength: number | undefined } {
  const head = Buffer.from(json, "utf8");
  if (chunks.length === 0) return { body: head, headerLength: undefined };
  return { body: Buffer.concat([head, ...chunks]), headerLength: head.length };
}
