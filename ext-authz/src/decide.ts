/**
 * One authorization decision, in order: the credential (UNAUTHENTICATED), the model the call names
 * in its headers or else its body (INVALID_ARGUMENT when unusable), the tenant's policy
 * (PERMISSION_DENIED), its rate limit (RESOURCE_EXHAUSTED). A call that names no model at all is
 * let through once authenticated: Envoy answers it itself and it reaches no node.
 */
import {
  gatewayHeaderPrefix,
  modelHeader,
  noModelHeaderValue,
  principalHeader,
  repositoryTokenHeader,
  tenantHeader,
  versionHeader,
} from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";
import { restModelsPrefix } from "@inferencehub/contracts/protocol";
import type { CallAttributes } from "./check-request.js";
import { parseAuthorization } from "./credentials.js";
import { invalidArgument, quoteInput, resourceExhausted } from "./errors.js";
import type { Identities } from "./identities.js";
import { readModelFromBody, type BodyModelFailure } from "./model-from-body.js";
import { isGatewayIndex, repositoryPathPrefix, type Policy } from "./policy.js";
import type { RateLimiter } from "./token-bucket.js";

export interface DecideContext {
  identities: Identities;
  policy: Policy;
  limiter: RateLimiter;
  /** The nodes' repository token, sent on the repository calls the policy allows; absent = none. */
  repositoryToken?: string;
}

/** Where the model name came from: "header", "body", a REST "path", or why the body gave none. */
export type ModelSource = "header" | "body" | "path" | "none" | BodyModelFailure;

export type Decision =
  | {
      allowed: true;
      tenant: string;
      principal: string;
      modelSource: ModelSource;
      /** Request headers to set (overwriting any the client sent). */
      set: [string, string][];
      /** Client-sent gateway headers to remove. */
      remove: string[];
    }
  | { allowed: false; error: GatewayError; tenant?: string; modelSource?: ModelSource };

/** As the config schema: model names are DNS labels, versions letters, digits and '-'. */
const modelName = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const versionName = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

export async function decide(call: CallAttributes, ctx: DecideContext): Promise<Decision> {
  let tenant: string | undefined;
  let modelSource: ModelSource | undefined;
  try {
    const identity = await ctx.identities.authenticate(
      parseAuthorization(call.headers.get("authorization") ?? []),
    );
    tenant = identity.tenant;
    // The tenant and the method first: a tenant that may not make the call has its body left unread.
    ctx.policy.check(tenant, { path: call.path });
    const target = modelOf(call);
    modelSource = target.source;
    ctx.policy.check(tenant, { path: call.path, ...target });
    const take = ctx.limiter.take(tenant);
    if (!take.ok) {
      throw resourceExhausted(
        `tenant '${tenant}' is over its rate limit; retry in ${take.retryAfterMs} ms`,
        take.retryAfterMs,
      );
    }
    const set: [string, string][] = [
      [tenantHeader, tenant],
      [principalHeader, identity.principal],
      ...target.route,
    ];
    const toNodes = !isGatewayIndex(call.path, target.model);
    if (ctx.repositoryToken !== undefined && call.path.startsWith(repositoryPathPrefix) && toNodes) {
      // The policy let this tenant call the repository: the nodes take it from the gateway only.
      // The gateway's own index (no model) goes to the control plane, which needs no token.
      set.push([repositoryTokenHeader, ctx.repositoryToken]);
    }
    // Envoy applies removals after the headers set above: never remove one being set.
    const setNames = new Set(set.map(([name]) => name));
    const remove = [...call.headers.keys()].filter(
      (h) => h.startsWith(gatewayHeaderPrefix) && !setNames.has(h),
    );
    return { allowed: true, tenant, principal: identity.principal, modelSource: target.source, set, remove };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return {
      allowed: false,
      error: err,
      ...(tenant === undefined ? {} : { tenant }),
      ...(modelSource === undefined ? {} : { modelSource }),
    };
  }
}

interface Target {
  model?: string;
  version?: string;
  source: ModelSource;
  /** Routing headers to set from the body, so Envoy routes on what the node will read. */
  route: [string, string][];
}

/**
 * The model and pinned version: from the headers when set, else from the body's first bytes.
 * Envoy sets the model header to noModelHeaderValue when the client sent none (to choose a route
 * scope), so that value means "no header". Where the route sent body bytes with a model header
 * (unary model calls), the body must name the same model, and a version in it pins like the
 * header; a version in both must agree. Nothing is replaced silently.
 */
function modelOf(call: CallAttributes): Target {
  const models = (call.headers.get(modelHeader) ?? []).filter((m) => m !== noModelHeaderValue);
  const versions = call.headers.get(versionHeader) ?? [];
  if (models.length > 1) throw invalidArgument(`send one ${modelHeader} header, not ${models.length}`);
  if (versions.length > 1) throw invalidArgument(`send one ${versionHeader} header, not ${versions.length}`);
  const [model] = models;
  const [headerVersion] = versions;
  if (model !== undefined) return headerAndBody(call.body, model, headerVersion);
  const rest = modelFromRestPath(call.path);
  if (rest) {
    // The model routes the call (Envoy chooses its scope again); the version stays in the path,
    // which the model's REST routes read, and only pins here for the policy.
    return {
      ...rest,
      version: headerVersion ?? rest.version,
      source: "path",
      route: [[modelHeader, rest.model]],
    };
  }
  if (call.body.length === 0) return { source: "none", route: [] };
  const found = readModelFromBody(call.body);
  if (!found.ok) return { source: found.reason, route: [] };
  // A version in the header pins the body's model too; else the body's own version does.
  const version = headerVersion ?? found.version;
  checkNames(found.model, version);
  const route: [string, string][] = [[modelHeader, found.model]];
  if (version) route.push([versionHeader, version]);
  return { model: found.model, version, source: "body", route };
}

function headerAndBody(body: Uint8Array, model: string, headerVersion: string | undefined): Target {
  const fromHeader: Target = { model, version: headerVersion ?? "", source: "header", route: [] };
  if (body.length === 0) return fromHeader;
  const found = readModelFromBody(body);
  if (!found.ok) {
    if (found.reason === "no-model") return fromHeader;
    throw invalidArgument(
      `the gateway checks model_name in the first bytes of the request against the ${modelHeader} header, ` +
        `and could not read it (${found.detail}): send the request uncompressed, with model_name first`,
    );
  }
  if (found.model !== model) {
    throw invalidArgument(
      `model_name ${quoteInput(found.model)} in the request does not match the ${modelHeader} header ${quoteInput(model)}`,
    );
  }
  if (found.version === "" || found.version === headerVersion) return fromHeader;
  if (headerVersion !== undefined) {
    throw invalidArgument(
      `model_version ${quoteInput(found.version)} in the request does not match the ${versionHeader} header ${quoteInput(headerVersion)}`,
    );
  }
  checkNames(model, found.version);
  return { model, version: found.version, source: "header", route: [[versionHeader, found.version]] };
}

/**
 * A REST call names its model in the path, /v2/models/<model>[/versions/<version>][/...]: read
 * here, before Envoy routes it, so that the tenant's policy answers a call for a model that does
 * not exist as it answers one the tenant may not call (the route would otherwise say which names
 * exist before any check). A segment that is no model name gives nothing: Envoy's route answers.
 */
function modelFromRestPath(path: string): { model: string; version: string } | undefined {
  if (!path.startsWith(restModelsPrefix)) return undefined;
  const [model = "", versions, version = ""] = path.slice(restModelsPrefix.length).split("/");
  if (!modelName.test(model)) return undefined;
  return { model, version: versions === "versions" && versionName.test(version) ? version : "" };
}

function checkNames(model: string, version: string): void {
  if (!modelName.test(model)) {
    throw invalidArgument(`model_name ${quoteInput(model)} in the request is not a model name`);
  }
  if (version !== "" && !versionName.test(version)) {
    throw invalidArgument(`model_version ${quoteInput(version)} in the request is not a version name`);
  }
}
