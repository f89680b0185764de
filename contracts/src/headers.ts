/**
 * The headers the gateway's parts agree on (docs/DESIGN.md, "Headers"): what clients send, what
 * Envoy and ext-authz set on the way to a node, and what nodes answer with. Envoy's routes, ext-authz,
 * the reference node and the SDKs import them from here.
 */

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

/**
 * What stands for "no model header" in the scope key: Envoy sets the header to it when a client
 * sends none (a scope key needs a value), as Envoy's own access log writes an absent header.
 * Model names are DNS labels, so none is "-".
 */
export const noModelHeaderValue = "-";

/** Response headers a node sets: which node answered, and which version ran the call. */
export const servedByHeader = "x-inferencehub-node";
export const servedVersionHeader = routedVersionHeader;
