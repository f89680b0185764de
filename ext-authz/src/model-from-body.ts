/**
 * The model a unary call names in its body, from the first bytes Envoy buffered: a gRPC message
 * frame (1-byte compressed flag, 4-byte big-endian length, then the protobuf message) whose fields
 * 1 and 2 are the model name and version in ModelInferRequest, ModelMetadataRequest,
 * ModelReadyRequest, ModelConfigRequest and ModelStatisticsRequest alike. The bytes may stop anywhere: Envoy sends at most a few hundred.
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#requests (Length-Prefixed-Message)
 * https://protobuf.dev/programming-guides/encoding/
 */

export type BodyModel =
  { ok: true; model: string; version: string } | { ok: false; reason: BodyModelFailure; detail: string };

/**
 * empty: no body bytes; compressed: the message is compressed (grpc-encoding), unreadable here;
 * truncated: the bytes end before the model name (or version) does; malformed: not a protobuf
 * message of the expected shape; no-model: the whole message was read and names no model.
 */
export type BodyModelFailure = "empty" | "compressed" | "truncated" | "malformed" | "no-model";

const frameHeaderBytes = 5;
const modelNameField = 1;
const modelVersionField = 2;

const wire = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function readModelFromBody(body: Uint8Array): BodyModel {
  if (body.length === 0) return fail("empty", "the request has no body bytes");
  if (body.length < frameHeaderBytes) return fail("truncated", "the body ends inside the gRPC frame prefix");
  const flag = body[0];
  if (flag === 1) return fail("compressed", "the message is compressed");
  if (flag !== 0) return fail("malformed", `compressed flag is ${flag}, not 0 or 1`);
  const declared = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  const available = body.length - frameHeaderBytes;
  const complete = available >= declared;
  const message = body.subarray(frameHeaderBytes, frameHeaderBytes + Math.min(declared, available));
  const found: Found = {};
  try {
    readFields(message, found);
  } catch (err) {
    if (err instanceof Malformed) return fail("malformed", err.message);
    if (!(err instanceof Truncated)) throw err;
    // The frame's length says every byte is here: a field that runs past the end is broken.
    if (complete) return fail("malformed", err.message);
    // A partial body is fine once the model name is whole, unless the cut fell inside the version.
    if (found.model && !err.inVersion) return { ok: true, model: found.model, version: found.version ?? "" };
    return fail("truncated", err.message);
  }
  // proto3 leaves an empty string out, so an empty model_name is no model name.
  if (found.model) return { ok: true, model: found.model, version: found.version ?? "" };
  return fail(complete ? "no-model" : "truncated", "no model_name in the bytes read");
}

interface Found {
  model?: string;
  version?: string;
}

class Malformed extends Error {}
class Truncated extends Error {
  constructor(
    message: string,
    readonly inVersion = false,
  ) {
    super(message);
  }
}

function fail(reason: BodyModelFailure, detail: string): BodyModel {
  return { ok: false, reason, detail };
}

/**
 * Reads every field the bytes hold rather than stopping at the name, so a second model_name (which
 * a protobuf parser would take over the first) is caught instead of half-read.
 */
function readFields(message: Uint8Array, found: Found): void {
  let at = 0;
  while (at < message.length) {
    const tag = readVarint(message, at, "a field tag");
    at = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) throw new Malformed("field number 0");
    if (field !== modelNameField && field !== modelVersionField) {
      at = skipValue(message, at, field, wireType);
      continue;
    }
    const key = field === modelNameField ? "model" : "version";
    if (wireType !== wire.lengthDelimited) throw new Malformed(`field ${field} is not a string`);
    if (found[key] !== undefined) throw new Malformed(`field ${field} appears twice`);
    const length = readVarint(message, at, `field ${field}`, field === modelVersionField);
    const end = length.next + length.value;
    if (end > message.length)
      throw new Truncated(`the body ends inside field ${field}`, field === modelVersionField);
    try {
      found[key] = utf8.decode(message.subarray(length.next, end));
    } catch {
      throw new Malformed(`field ${field} is not UTF-8`);
    }
    at = end;
  }
}

/** The position after a field's value. */
function skipValue(bytes: Uint8Array, at: number, field: number, wireType: number): number {
  const within = (end: number): number => {
    if (end > bytes.length) throw new Truncated(`the body ends inside field ${field}`);
    return end;
  };
  switch (wireType) {
    case wire.varint:
      return readVarint(bytes, at, `field ${field}`).next;
    case wire.fixed64:
      return within(at + 8);
    case wire.fixed32:
      return within(at + 4);
    case wire.lengthDelimited: {
      const length = readVarint(bytes, at, `field ${field}`);
      return within(length.next + length.value);
    }
    default:
      // Groups (3, 4) do not exist in proto3; 6 and 7 are not wire types.
      throw new Malformed(`wire type ${wireType} in field ${field}`);
  }
}

/** A base-128 varint of at most 10 bytes. */
function readVarint(
  bytes: Uint8Array,
  at: number,
  what: string,
  inVersion = false,
): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < at + 10; i++) {
    if (i >= bytes.length) throw new Truncated(`the body ends inside ${what}`, inVersion);
    const byte = bytes[i] ?? 0;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: i + 1 };
    scale *= 128;
  }
  throw new Malformed(`a varint in ${what} is longer than 10 bytes`);
}
