/**
 * Per tenant, which models (and versions) it may call, compiled from inferencehub.yaml. The
 * weights come from the same file: an unpinned call is allowed to a tenant limited to some
 * versions only when every version that takes unpinned calls is one of them, since the route
 * picks the version after this decision.
 */
import type { Config, TenantConfig } from "@inferencehub/contracts/config";
import { versionHeader } from "@inferencehub/contracts/headers";
import { permissionDenied, quoteInput } from "./errors.js";

export interface CallTarget {
  /** The gRPC method path, `/<package>.<Service>/<Method>`. */
  path: string;
  /** The model the call names; undefined when it names none (Envoy then answers it itself). */
  model?: string;
  /** The pinned version; "" or undefined when the route picks one by weight. */
  version?: string;
}

export interface Policy {
  hasTenant(name: string): boolean;
  /** Returns when the tenant may make the call; throws a PERMISSION_DENIED GatewayError otherwise. */
  check(tenant: string, target: CallTarget): void;
}

/** Load, unload and index the nodes' models: an operator's calls, not a tenant's. */
export const repositoryPathPrefix = "/inference.GRPCInferenceService/Repository";
/**
 * RepositoryIndex naming no model is the gateway's own listing (the control plane answers it with
 * the versions the caller's tenant may call): open to every tenant, unlike the nodes' repository.
 */
const repositoryIndexPath = `${repositoryPathPrefix}Index`;

/** The gateway's own index: RepositoryIndex naming no model (the control plane answers it). */
export function isGatewayIndex(path: string, model: string | undefined): boolean {
  return path === repositoryIndexPath && model === undefined;
}

interface TenantRules {
  allModels: boolean;
  /** Model → allowed versions (undefined = all). */
  grants: Map<string, readonly string[] | undefined>;
  repository: boolean;
}

export function compilePolicy(config: Config): Policy {
  // The versions an unpinned call can reach: the model's pin when it has one, else those with weight.
  const weighted = new Map(
    config.models.map((m) => [
      m.name,
      m.pin !== undefined ? [m.pin] : m.versions.filter((v) => v.weight > 0).map((v) => v.version),
    ]),
  );
  const tenants = new Map((config.auth?.tenants ?? []).map((t) => [t.name, compileTenant(t)]));
  return {
    hasTenant: (name) => tenants.has(name),
    check: (tenant, target) => {
      const rules = tenants.get(tenant);
      if (!rules) throw permissionDenied(`tenant ${quoteInput(tenant)} is not configured on this gateway`);
      const gatewayIndex = isGatewayIndex(target.path, target.model);
      if (target.path.startsWith(repositoryPathPrefix) && !rules.repository && !gatewayIndex) {
        const method = target.path.slice(target.path.lastIndexOf("/") + 1);
        throw permissionDenied(
          `tenant '${tenant}' may not call ${quoteInput(method)}: the model repository is for operators`,
        );
      }
      if (target.model === undefined) return;
      checkModel(tenant, rules, target.model, target.version ?? "", weighted);
    },
  };
}

function compileTenant(tenant: TenantConfig): TenantRules {
  return {
    allModels: tenant.models.some((g) => g.model === "*"),
    grants: new Map(tenant.models.filter((g) => g.model !== "*").map((g) => [g.model, g.versions])),
    repository: tenant.repository,
  };
}

function checkModel(
  tenant: string,
  rules: TenantRules,
  model: string,
  version: string,
  weighted: ReadonlyMap<string, readonly string[]>,
): void {
  const granted = rules.grants.has(model);
  if (!granted && !rules.allModels)
    throw permissionDenied(`tenant '${tenant}' may not call model ${quoteInput(model)}`);
  const versions = rules.grants.get(model);
  if (versions === undefined) return;
  const allowed = versions.join(", ");
  if (version !== "") {
    if (versions.includes(version)) return;
    throw permissionDenied(
      `tenant '${tenant}' may not call version ${quoteInput(version)} of model '${model}' (allowed: ${allowed})`,
    );
  }
  const picked = weighted.get(model) ?? [];
  if (picked.every((v) => versions.includes(v))) return;
  throw permissionDenied(
    `tenant '${tenant}' may call model '${model}' only at version ${allowed}: pin one with the ${versionHeader} header`,
  );
}
