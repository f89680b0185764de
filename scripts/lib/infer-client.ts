/** A promise-based Open Inference Protocol client for tests and benchmarks, on grpc-js. */
import { credentials, Metadata, type CallOptions, type ServiceError } from "@grpc/grpc-js";
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelInferResponse,
} from "../../gen/inference/inference/grpc_service.js";

export interface InferResult {
  response: ModelInferResponse;
  headers: Record<string, string>;
}

export interface InferClient {
  raw: GRPCInferenceServiceClient;
  infer(
    request: Partial<ModelInferRequest>,
    opts?: { metadata?: Record<string, string>; deadlineMs?: number },
  ): Promise<InferResult>;
  close(): void;
}

export function toMetadata(values: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(values)) md.set(k, v);
  return md;
}

export function fullRequest(request: Partial<ModelInferRequest>): ModelInferRequest {
  return {
    modelName: "",
    modelVersion: "",
    id: "",
    parameters: {},
    inputs: [],
    outputs: [],
    rawInputContents: [],
    ...request,
  };
}

export function createInferClient(address: string, options: Record<string, unknown> = {}): InferClient {
  const raw = new GRPCInferenceServiceClient(address, credentials.createInsecure(), options);
  return {
    raw,
    close: () => raw.close(),
    infer: (request, opts = {}) =>
      new Promise<InferResult>((resolve, reject) => {
        const headers: Record<string, string> = {};
        const callOptions: Partial<CallOptions> = opts.deadlineMs
          ? { deadline: Date.now() + opts.deadlineMs }
          : {};
        const call = raw.modelInfer(
          fullRequest(request),
          toMetadata(opts.metadata),
          callOptions,
          (err: ServiceError | null, response?: ModelInferResponse) => {
            if (err) reject(err);
            else if (response) resolve({ response, headers });
          },
        );
        call.on("metadata", (md: Metadata) => {
          for (const [k, v] of Object.entries(md.getMap())) headers[k] = String(v);
        });
      }),
  };
}
