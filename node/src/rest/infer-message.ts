/**
 * The v2 REST infer request and response, as the protocol's ModelInferRequest and
 * ModelInferResponse: what the REST port hands the inference core it shares with gRPC, and what
 * it makes of the answer. Every input goes in raw form (JSON `data` encoded little-endian, binary
 * tensors as sent); outputs come back as JSON `data` or, when asked, as binary after the header.
 */
import type {
  ModelInferRequest,
  ModelInferRequest_InferInputTensor,
  ModelInferResponse,
} from "../../../gen/inference/inference/grpc_service.js";
import { clip } from "../client-text.js";
import { isKservDatatype, type KservDatatype } from "../datatypes.js";
import { invalidArgument } from "../errors.js";
import { binaryDataSize, binaryResponseBody, splitBody, takeBinaryTensors } from "./binary-data.js";
import { encodeValues, jsonDataText, rawFromJsonData } from "./json-tensors.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export interface RestInferRequest {
  request: ModelInferRequest;
  /** Whether an output goes back as binary data (Triton's extension) rather than JSON `data`. */
  binaryOutput(name: string): boolean;
}

function optionalObject(value: unknown, what: string): Json | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalidArgument(`${what} must be a JSON object`);
  return value;
}

function parseJson(json: Buffer): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch (err) {
    throw invalidArgument(`the request body is not valid JSON: ${clip((err as Error).message, 160)}`);
  }
  if (!isObject(parsed)) throw invalidArgument("the request body must be a JSON object with 'inputs'");
  return parsed;
}

const unsupported = ["shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"];

function checkNoSharedMemory(kind: string, name: string, parameters: Json | undefined): void {
  for (const p of unsupported) {
    if (parameters?.[p] !== undefined)
      throw invalidArgument(`${kind} '${clip(name)}': ${p} is not supported by this node (no shared memory)`);
  }
}

function parseShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw invalidArgument(`input '${clip(name)}': shape must be an array of non-negative integers`);
  }
  return shape as number[];
}

/**
 * Reads one infer request body (JSON, or JSON then binary tensors when `headerLength` is set)
 * for the model and version the URL named (version "" when it named none).
 */
export function parseInferRequest(
  model: string,
  version: string,
  body: Buffer,
  headerLength: string | undefined,
): RestInferRequest {
  const { json, binary } = splitBody(body, headerLength);
  const header = parseJson(json);
  if (!Array.isArray(header["inputs"])) throw invalidArgument("'inputs' must be an array of tensors");
  const id = header["id"] ?? "";
  if (typeof id !== "string") throw invalidArgument("'id' must be a string");
  const parameters = optionalObject(header["parameters"], "'parameters'");
  const binaryOutputDefault = parameters?.["binary_data_output"] ?? false;
  if (typeof binaryOutputDefault !== "boolean")
    throw invalidArgument("parameters.binary_data_output must be true or false");

  const declared = (header["inputs"] as unknown[]).map((raw, i) => {
    if (!isObject(raw)) throw invalidArgument(`inputs[${i}] must be a JSON object`);
    const name = raw["name"];
    if (typeof name !== "string" || name === "") throw invalidArgument(`inputs[${i}] needs a 'name'`);
    const datatype = raw["datatype"];
    if (typeof datatype !== "string" || !isKservDatatype(datatype)) {
      throw invalidArgument(
        `input '${clip(name)}': datatype ${typeof datatype === "string" ? `'${clip(datatype, 16)}'` : "(missing)"} is not an Open Inference Protocol datatype`,
      );
    }
    const shape = parseShape(name, raw["shape"]);
    const params = optionalObject(raw["parameters"], `input '${clip(name)}': parameters`);
    checkNoSharedMemory("input", name, params);
    const size = binaryDataSize(name, params);
    if (size !== undefined && raw["data"] !== undefined)
      throw invalidArgument(
        `input '${clip(name)}': give either data or parameters.binary_data_size, not both`,
      );
    if (size === undefined && raw["data"] === undefined)
      throw invalidArgument(`input '${clip(name)}' has no data: set data or parameters.binary_data_size`);
    return { name, datatype: datatype as KservDatatype, shape, size, data: raw["data"] };
  });
  if (headerLength === undefined && declared.some((d) => d.size !== undefined)) {
    const name = declared.find((d) => d.size !== undefined)?.name ?? "";
    throw invalidArgument(
      `input '${clip(name)}' has parameters.binary_data_size but the request has no Inference-Header-Content-Length saying where the JSON ends`,
    );
  }
  const slices = takeBinaryTensors(binary, declared);

  const inputs: ModelInferRequest_InferInputTensor[] = [];
  const rawInputContents: Buffer[] = [];
  declared.forEach((d, i) => {
    inputs.push({ name: d.name, datatype: d.datatype, shape: d.shape, parameters: {} });
    rawInputContents.push(slices[i] ?? rawFromJsonData(d.name, d.datatype, d.shape, d.data));
  });

  const binaryByName = new Map<string, boolean>();
  const outputsRaw = header["outputs"];
  if (outputsRaw !== undefined && !Array.isArray(outputsRaw))
    throw invalidArgument("'outputs' must be an array");
  const outputs = ((outputsRaw ?? []) as unknown[]).map((raw, i) => {
    if (!isObject(raw)) throw invalidArgument(`outputs[${i}] must be a JSON object`);
    const name = raw["name"];
    if (typeof name !== "string" || name === "") throw invalidArgument(`outputs[${i}] needs a 'name'`);
    const params = optionalObject(raw["parameters"], `output '${clip(name)}': parameters`);
    checkNoSharedMemory("output", name, params);
    if (params?.["classification"] !== undefined)
      throw invalidArgument(`output '${clip(name)}': classification is not supported by this node`);
    const wantBinary = params?.["binary_data"];
    if (wantBinary !== undefined && typeof wantBinary !== "boolean")
      throw invalidArgument(`output '${clip(name)}': parameters.binary_data must be true or false`);
    if (wantBinary !== undefined) binaryByName.set(name, wantBinary);
    return { name, parameters: {} };
  });

  return {
    request: {
      modelName: model,
      modelVersion: version,
      id,
      parameters: {},
      inputs,
      outputs,
      rawInputContents,
    },
    binaryOutput: (name) => binaryByName.get(name) ?? binaryOutputDefault,
  };
}

/** An output's raw bytes, whichever form the core answered in. */
function rawOutput(response: ModelInferResponse, i: number, datatype: KservDatatype): Buffer {
  if (response.rawOutputContents.length > 0) return Buffer.from(response.rawOutputContents[i] ?? []);
  const contents = response.outputs[i]?.contents;
  const values = contents ? (Object.values(contents).find((v: unknown[]) => v.length > 0) ?? []) : [];
  return encodeValues(datatype, values);
}

/** The response body for an answered request, and its Inference-Header-Content-Length if any. */
export function inferResponseBody(
  response: ModelInferResponse,
  binaryOutput: (name: string) => boolean,
): { body: Buffer; headerLength: number | undefined } {
  const chunks: Buffer[] = [];
  const outputs = response.outputs.map((o, i) => {
    const datatype = o.datatype as KservDatatype;
    const raw = rawOutput(response, i, datatype);
    const head = { name: o.name, datatype, shape: o.shape };
    if (binaryOutput(o.name)) {
      chunks.push(raw);
      return JSON.stringify({ ...head, parameters: { binary_data_size: raw.length } });
    }
    return `${JSON.stringify(head).slice(0, -1)},"data":${jsonDataText(datatype, raw)}}`;
  });
  const top = JSON.stringify({
    model_name: response.modelName,
    model_version: response.modelVersion,
    id: response.id,
  });
  return binaryResponseBody(`${top.slice(0, -1)},"outputs":[${outputs.join(",")}]}`, chunks);
}
