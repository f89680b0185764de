/**
 * Names of the resources the translator creates (cluster names come from the IR, ir/names.ts).
 * Listener and route names are what clients subscribe to: Envoy takes every routing scope of the
 * `ingress` listener, then asks for the route configuration each scope names; a grpc-js client
 * with target `xds:///scale` asks for the listener `scale`, then for the route configuration that
 * listener names.
 */

/** Envoy's data listener. */
export const ingressListenerName = "ingress";

/**
 * The `ingress` listener's routes are split by model: Envoy picks a scope by the model header
 * (scoped routes, SRDS), and each scope has its own route configuration, so a weight change is
 * pushed as that one model's routes, whatever the number of models.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/scoped_route.proto
 */
export const ingressScopedRoutesName = "ingress_scopes";

/** A model's routing scope and its route configuration share this name. */
export const ingressRouteConfigName = (model: string): string => `ingress_${model}`;

/**
 * What stands for "no model header" in the scope key: Envoy sets the header to it when a client
 * sends none (a scope key needs a value), as Envoy's own access log writes an absent header.
 * Model names are DNS labels, so none is "-".
 */
export const noModelHeaderValue = "-";

/**
 * The scope of calls without a model header (the body-reading route and INVALID_ARGUMENT). Model
 * names have no '_', so no model's scope can take this name.
 */
export const noModelRouteConfigName = "ingress_no_model";

/** The listener a proxyless client resolves for `xds:///<model>`: exactly the model name. */
export const proxylessListenerName = (model: string): string => model;

/**
 * One route configuration per model, so a change to one model is pushed only to the clients of
 * that model (grpc-js subscribes to the routes its listeners name).
 */
export const proxylessRouteConfigName = (model: string): string => `proxyless_${model}`;

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

/** Request headers clients set to pick a model and, optionally, pin its version (docs/DESIGN.md). */
export const modelHeader = "inferencehub-model";
export const versionHeader = "inferencehub-model-version";
/**
 * Set by each version's cluster on the way to the node: the version the gateway routed the call
 * to, so a node serving several versions runs the right one (the body's version is not routed on).
 */
export const routedVersionHeader = "x-inferencehub-model-version";
/** Set beside routedVersionHeader: the model the call was routed and authorized for. */
export const routedModelHeader = "x-inferencehub-model";

/** Every header a client must not set: the gateway's own, stripped from client requests (docs/DESIGN.md). */
export const gatewayHeaderPrefix = "x-inferencehub-";
/** Set by ext-authz on an allowed call: the caller's tenant, for the node. */
export const tenantHeader = "x-inferencehub-tenant";
/** Set by ext-authz on an allowed call: which key or token subject made it (`key:<id>`, `jwt:<sub>`). */
export const principalHeader = "x-inferencehub-principal";
/**
 * Set by ext-authz on the repository calls (load, unload, index) of a tenant allowed them: the
 * shared secret nodes require before they answer those calls (SECURITY.md).
 */
export const repositoryTokenHeader = "x-inferencehub-repository-token";
/**
 * The gateway headers nodes read, removed from every client request by the first filter, whether
 * or not ext_authz runs (fail-open, routes where it is off, no auth configured). ext-authz removes
 * any other `x-inferencehub-*` header a client sends.
 */
export const strippedRequestHeaders: readonly string[] = [
  principalHeader,
  tenantHeader,
  routedVersionHeader,
  repositoryTokenHeader,
];
