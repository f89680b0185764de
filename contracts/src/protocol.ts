/**
 * The Open Inference Protocol (KServe v2) as the gateway sees it on the wire: the gRPC service and
 * the methods that name a model. The routes, the filters and ext-authz derive from this one list.
 */

import packageJson from "../package.json" with { type: "json" };

/** The Open Inference Protocol's gRPC service, as it appears in a call's :path. */
export const inferenceService = "inference.GRPCInferenceService";

/**
 * The unary model calls, whose request names the model and version as fields 1 and 2, with those
 * fields' names (ModelInferRequest's differ from the others'). Routing by the body and the body
 * rewrite for stock servers both cover these.
 */
export const unaryModelMethods = {
  ModelInfer: ["model_name", "model_version"],
  ModelMetadata: ["name", "version"],
  ModelReady: ["name", "version"],
  ModelConfig: ["name", "version"],
  ModelStatistics: ["name", "version"],
} as const;

/** Triton's streaming inference: every message is a ModelInferRequest. */
export const streamModelMethod = "ModelStreamInfer";

/**
 * The protocol's REST/JSON form (KServe v2 HTTP): every path is under /v2, and a model's under
 * /v2/models/<model>[/versions/<version>].
 * https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
 */
export const restPrefix = "/v2";
export const restModelsPrefix = "/v2/models/";

/** How the gateway names itself in ServerMetadata, gRPC and REST alike. */
export const gatewayServerName = "inferencehub";
export const gatewayVersion: string = packageJson.version;
