/** The auth section: identity sources (keys file, JWT), tenants and the models they are granted. */
import { quote } from "../errors.js";
import type { PathSegments } from "../errors.js";
import type { Issue } from "../schema.js";
import { checkServiceAddress } from "./services.js";
import { duplicates, isRecord, listOf, stringOf, versionOf } from "./shared.js";
import type { Raw } from "./shared.js";

export function checkAuth(raw: Raw): Issue[] {
  const auth = raw.auth;
  if (!isRecord(auth)) return [];
  const issues: Issue[] = [];
  if (isRecord(auth.extAuthz))
    issues.push(...checkServiceAddress(auth.extAuthz.address, ["auth", "extAuthz", "address"]));
  if (isRecord(auth.rateLimitService)) {
    issues.push(
      ...checkServiceAddress(auth.rateLimitService.address, ["auth", "rateLimitService", "address"]),
    );
  }
  if (auth.mode === "ext-authz" && auth.rateLimitService !== undefined) {
    issues.push({
      segments: ["auth", "rateLimitService"],
      message:
        "is used by Envoy in native mode only: with mode: ext-authz, ext-authz limits each tenant per replica",
    });
  }
  if (auth.apiKeys !== undefined && auth.keysFile === undefined) {
    issues.push({
      segments: ["auth", "apiKeys"],
      message:
        "needs keysFile: a signed key works only while the keys file lists its id and hash (that is how it is revoked)",
    });
  }
  if (auth.keysFile === undefined && auth.jwt === undefined) {
    issues.push({
      segments: ["auth"],
      message:
        "names no identity source: set keysFile, jwt or both (without one, every call is UNAUTHENTICATED)",
    });
  }
  if (isRecord(auth.jwt)) {
    const { jwksFile, jwksUrl } = auth.jwt;
    if (jwksFile !== undefined && jwksUrl !== undefined) {
      issues.push({ segments: ["auth", "jwt"], message: "sets both jwksFile and jwksUrl: keep one" });
    } else if (jwksFile === undefined && jwksUrl === undefined) {
      issues.push({ segments: ["auth", "jwt"], message: "needs jwksFile or jwksUrl to verify tokens with" });
    }
  }
  const tenants = listOf(auth.tenants).map((tenant, i) => ({
    raw: isRecord(tenant) ? tenant : {},
    at: ["auth", "tenants", i] as PathSegments,
  }));
  issues.push(
    ...duplicates(
      tenants.map((t) => ({ key: stringOf(t.raw.name), at: t.at })),
      "tenant",
      "name",
    ),
  );
  const models = servedModels(raw);
  for (const tenant of tenants) issues.push(...checkGrants(tenant.raw, tenant.at, models, auth));
  return issues;
}

/** Model name → its version names, for the models the file defines. */
function servedModels(raw: Raw): Map<string, string[]> {
  const served = new Map<string, string[]>();
  for (const model of listOf(raw.models)) {
    if (!isRecord(model)) continue;
    const name = stringOf(model.name);
    if (name === undefined) continue;
    const versions = listOf(model.versions).flatMap(
      (v) => versionOf(isRecord(v) ? v.version : undefined) ?? [],
    );
    served.set(name, versions);
  }
  return served;
}

/** The schema's pattern for names (definitions.name). */
const namePattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function checkGrants(
  tenant: Raw,
  at: PathSegments,
  models: ReadonlyMap<string, string[]>,
  auth: Raw,
): Issue[] {
  const known = models.size > 0 ? `models: ${[...models.keys()].join(", ")}` : "no models are defined";
  const issues: Issue[] = [];
  const grants = listOf(tenant.models).map((grant, j) => ({ grant, at: [...at, "models", j] }));
  for (const { grant, at: grantAt } of grants) {
    const name = typeof grant === "string" ? grant : isRecord(grant) ? stringOf(grant.name) : undefined;
    // "*" grants every model; a malformed name is the schema's to report.
    if (name === undefined || name === "*" || !namePattern.test(name)) continue;
    const versions = models.get(name);
    if (!versions) {
      issues.push({
        segments: typeof grant === "string" ? grantAt : [...grantAt, "name"],
        message: `unknown model ${quote(name)} (${known})`,
      });
      continue;
    }
    if (!isRecord(grant)) continue;
    if (grant.versions === undefined && grant.rateLimit === undefined) {
      issues.push({
        segments: grantAt,
        message: `says nothing a plain '${name}' would not: give versions, a rateLimit or both`,
      });
    }
    if (grant.rateLimit !== undefined && auth.mode === "ext-authz") {
      issues.push({
        segments: [...grantAt, "rateLimit"],
        message:
          "a tenant's limit on one model is Envoy's, in native mode only: with mode: ext-authz, limit the tenant as a whole",
      });
    }
    const wanted = listOf(grant.versions).map((v, k) => ({
      key: versionOf(v),
      at: [...grantAt, "versions", k],
    }));
    for (const { key, at: versionAt } of wanted) {
      if (key !== undefined && !versions.includes(key)) {
        issues.push({
          segments: versionAt,
          message: `unknown version ${quote(key)} of model ${quote(name)} (versions: ${versions.join(", ")})`,
        });
      }
    }
    issues.push(...duplicates(wanted, "version"));
  }
  issues.push(
    ...duplicates(
      grants.map(({ grant, at: grantAt }) => ({
        key: typeof grant === "string" ? grant : isRecord(grant) ? stringOf(grant.name) : undefined,
        at: grantAt,
      })),
      "model",
    ),
  );
  return issues;
}
