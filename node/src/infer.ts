/**
 * One ModelInfer call against a loaded model version: check the request against the graph's
 * metadata, run it, and answer in the form the client used (raw in, raw out; typed in, typed out).
 */
import type { Deadline, Metadata } from "@grpc/grpc-js";
import type { Tensor } from "onnxruntime-node";
import type {
  ModelInferRequest,
  ModelInferResponse,
  ModelInferResponse_InferOutputTensor,
} from "../../gen/inference/inference/grpc_service.js";
import { clip, listText, shapeText } from "./client-text.js";
import { isKservDatatype } from "./datatypes.js";
import { invalidArgument } from "./errors.js";
import type { LoadedVersion, TensorSpec } from "./model-repository.js";
import {
  canBeTyped,
  contentsFromTensor,
  rawFromTensor,
  tensorFromContents,
  tensorFromRaw,
} from "./tensors.js";

/**
 * What one inference needs of the call that asked for it: a gRPC unary call, one message of a
 * gRPC stream, or a REST request (its headers as metadata, no deadline).
 */
export interface InferContext {
  metadata: Metadata;
  readonly cancelled: boolean;
  getDeadline(): Deadline;
  once(event: "cancelled", listener: () => void): unknown;
  off(event: "cancelled", listener: () => void): unknown;
}

/**
 * The calls a protocol front end (the gRPC services, the REST port) makes on the node: one
 * implementation of each, so both answer alike.
 */
export interface InferenceCore {
  /** The node's name, as in the x-inferencehub-node header. */
  name: string;
  serverReady(): boolean;
  serverMetadata(): { name: string; version: string; extensions: string[] };
  modelMetadata(
    call: { metadata: Metadata },
    name: string,
    version: string,
  ): { name: string; versions: string[]; platform: string; inputs: TensorSpec[]; outputs: TensorSpec[] };
  modelReady(call: { metadata: Metadata }, name: string, version: string): boolean;
  /** One inference: version choice, queue, run, statistics and metrics. */
  infer(
    call: InferContext,
    request: ModelInferRequest,
  ): Promise<{ loaded: LoadedVersion; response: ModelInferResponse }>;
  /** The headers a successful model call answers with (x-inferencehub-node, -model-version). */
  responseHeaders(call: { metadata: Metadata }, version: string): Metadata;
}

function checkShape(spec: TensorSpec, shape: readonly number[]): void {
  const fits =
    shape.length === spec.shape.length &&
    shape.every((d, i) => d >= 0 && (spec.shape[i] === -1 || spec.shape[i] === d));
  if (!fits) {
    throw invalidArgument(
      `input '${clip(spec.name)}': shape ${shapeText(shape)} does not fit the model's ${shapeText(spec.shape)} (-1 is any size)`,
    );
  }
}

/** Validates every input and turns it into an onnxruntime feed. */
export function buildFeeds(loaded: LoadedVersion, request: ModelInferRequest): Record<string, Tensor> {
  const where = `model '${loaded.model}' version '${loaded.version}'`;
  const raw = request.rawInputContents.length > 0;
  if (raw && request.rawInputContents.length !== request.inputs.length) {
    throw invalidArgument(
      `raw_input_contents has ${request.rawInputContents.length} entries for ${request.inputs.length} inputs; send one per input or none`,
    );
  }
  const feeds: Record<string, Tensor> = {};
  request.inputs.forEach((input, i) => {
    const spec = loaded.inputs.find((s) => s.name === input.name);
    if (!spec) {
      throw invalidArgument(
        `input '${clip(input.name)}' is not an input of ${where} (inputs: ${listText(loaded.inputs.map((s) => s.name))})`,
      );
    }
    // From here on the name is the model's own (it matched a spec), but still shown clipped.
    const name = clip(input.name);
    if (feeds[input.name]) throw invalidArgument(`input '${name}' is given twice`);
    if (!isKservDatatype(input.datatype) || input.datatype !== spec.datatype) {
      throw invalidArgument(
        `input '${name}': datatype ${clip(input.datatype, 16) || "(empty)"}, the model expects ${spec.datatype}`,
      );
    }
    checkShape(spec, input.shape);
    const rawEntry = request.rawInputContents[i];
    if (raw && rawEntry !== undefined) {
      if (input.contents)
        throw invalidArgument(`input '${name}': set either contents or raw_input_contents, not both`);
      feeds[input.name] = tensorFromRaw(input.name, spec.datatype, input.shape, Buffer.from(rawEntry));
    } else {
      if (!input.contents)
        throw invalidArgument(`input '${name}' has no data: set contents or raw_input_contents`);
      feeds[input.name] = tensorFromContents(input.name, spec.datatype, input.shape, input.contents);
    }
  });
  const missing = loaded.inputs.filter((s) => !feeds[s.name]).map((s) => s.name);
  if (missing.length > 0)
    throw invalidArgument(`${where} needs input(s) ${listText(missing.map((m) => `'${m}'`))}`);
  return feeds;
}

/** The outputs to fetch: those requested, or all of them. */
export function outputNames(loaded: LoadedVersion, request: ModelInferRequest): string[] {
  if (request.outputs.length === 0) return loaded.outputs.map((o) => o.name);
  return request.outputs.map((o) => {
    if (!loaded.outputs.some((s) => s.name === o.name)) {
      throw invalidArgument(
        `output '${clip(o.name)}' is not an output of model '${loaded.model}' (outputs: ${listText(loaded.outputs.map((s) => s.name))})`,
      );
    }
    return o.name;
  });
}

export function buildResponse(
  loaded: LoadedVersion,
  request: ModelInferRequest,
  names: readonly string[],
  results: Record<string, Tensor>,
): ModelInferResponse {
  const specs = names.map((n) => {
    const spec = loaded.outputs.find((s) => s.name === n);
    if (!spec) throw new Error(`output ${n} vanished`);
    return spec;
  });
  // raw_output_contents is all or nothing, and FP16 has no typed field: one FP16 output makes all raw.
  const raw = request.rawInputContents.length > 0 || specs.some((s) => !canBeTyped(s.datatype));
  const outputs: ModelInferResponse_InferOutputTensor[] = [];
  const rawOutputContents: Buffer[] = [];
  for (const spec of specs) {
    const tensor = results[spec.name];
    if (!tensor) throw new Error(`onnxruntime returned no '${spec.name}'`);
    outputs.push({
      name: spec.name,
      datatype: spec.datatype,
      shape: [...tensor.dims],
      parameters: {},
      contents: raw ? undefined : contentsFromTensor(spec.datatype, tensor),
    });
    if (raw) rawOutputContents.push(rawFromTensor(spec.datatype, tensor));
  }
  return {
    modelName: loaded.model,
    modelVersion: loaded.version,
    id: request.id,
    parameters: {},
    outputs,
    rawOutputContents,
  };
}
