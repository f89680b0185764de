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
  tenantHeader,
  versionHeader,
} from "../../xds-server/src/translate/index.js";
import type { CallAttributes } from "./check-request.js";
import { parseAuthorization } from "./credentials.js";
import { AuthzError, invalidArgument, quoteInput, resourceExhausted } from "./errors.js";
import type { Identities } from "./identities.js";
import { readModelFromBody, type BodyModelFailure } from "./model-from-body.js";
import type { Policy } from "./policy.js";
import type { RateLimiter } from "./token-bucket.js";

export interface DecideContext {
  identities: Identities;
  policy: Policy;
  limiter: RateLimiter;
}

/** Where the model name came from: "header", "body", or why the body gave none. */
export type ModelSource = "header" | "body" | "none" | BodyModelFailure;

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
  | { allowed: false; error: AuthzError; tenant?: string; modelSource?: ModelSource };

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
    ];
    if (target.source === "body" && target.model !== undefined) {
      set.push([modelHeader, target.model]);
      if (target.version) set.push([versionHeader, target.version]);
    }
    // Envoy applies removals after the headers set above: never remove one being set.
    const setNames = new Set(set.map(([name]) => name));
    const remove = [...call.headers.keys()].filter(
      (h) => h.startsWith(gatewayHeaderPrefix) && !setNames.has(h),
    );
    return { allowed: true, tenant, principal: identity.principal, modelSource: target.source, set, remove };
  } catch (err) {
    if (!(err instanceof AuthzError)) throw err;
    return {
      allowed: false,
      error: err,
      ...(tenant === undefined ? {} : { tenant }),
      ...(modelSource === undefined ? {} : { modelSource }),
    };
  }
}

/**
 * The model and pinned version: from the headers when set, else from the body's first bytes.
 * Envoy sets the model header to noModelHeaderValue when the client sent none (to choose a route
 * scope), so that value means "no header".
 */
function modelOf(call: CallAttributes): { model?: string; version?: string; source: ModelSource } {
  const models = (call.headers.get(modelHeader) ?? []).filter((m) => m !== noModelHeaderValue);
  const versions = call.headers.get(versionHeader) ?? [];
  if (models.length > 1) throw invalidArgument(`send one ${modelHeader} header, not ${models.length}`);
  if (versions.length > 1) throw invalidArgument(`send one ${versionHeader} header, not ${versions.length}`);
  const [model] = models;
  if (model !== undefined) return { model, version: versions[0] ?? "", source: "header" };
  if (call.body.length === 0) return { source: "none" };
  const found = readModelFromBody(call.body);
  if (!found.ok) return { source: found.reason };
  if (!modelName.test(found.model)) {
    throw invalidArgument(`model_name ${quoteInput(found.model)} in the request is not a model name`);
  }
  // A version in the header pins the body's model too; else the body's own version does.
  const version = versions[0] ?? found.version;
  if (version !== "" && !versionName.test(version)) {
    throw invalidArgument(`model_version ${quoteInput(version)} in the request is not a version name`);
  }
  return { model: found.model, version, source: "body" };
}
