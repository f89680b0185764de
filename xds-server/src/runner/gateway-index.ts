/**
 * RepositoryIndex asked of the gateway itself (no model header): the model versions this gateway
 * serves that the caller's tenant may call, READY when a node can take its calls now. What the
 * SDKs' `models()` lists. Pure: the config and health view in, the index out.
 *
 * The tenant is the one ext-authz authenticated (the x-inferencehub-tenant header, which Envoy
 * strips from every client request); with `auth` configured and no tenant, nothing is listed:
 * a call that reaches here unauthenticated is refused, never answered in full.
 */
import { status } from "@grpc/grpc-js";
import type { Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { RepositoryIndexResponse_ModelIndex } from "../../../gen/inference/inference/grpc_service.js";
import { servesGrpc, versionUp, type HealthView } from "../ir/index.js";

export const readyState = "READY";
export const unavailableState = "UNAVAILABLE";

export function gatewayIndex(
  config: Config,
  health: HealthView,
  tenant: string | undefined,
  readyOnly: boolean,
): RepositoryIndexResponse_ModelIndex[] {
  const may = grantsOf(config, tenant);
  const up = versionUp(new Map(config.nodes.map((n) => [n.name, n])), health);
  const out: RepositoryIndexResponse_ModelIndex[] = [];
  for (const model of config.models) {
    for (const version of model.versions) {
      if (!may(model.name, version.version)) continue;
      const ready = up(model.name, version, servesGrpc);
      if (readyOnly && !ready) continue;
      out.push({
        name: model.name,
        version: version.version,
        state: ready ? readyState : unavailableState,
        reason: ready ? "" : "no node of this version is up",
      });
    }
  }
  return out;
}

/** Which (model, version) the tenant may call, as ext-authz's policy grants them. */
function grantsOf(config: Config, tenant: string | undefined): (model: string, version: string) => boolean {
  if (!config.auth) return () => true;
  if (tenant === undefined) {
    throw new GatewayError(
      status.UNAUTHENTICATED,
      "no tenant: the gateway lists models to authenticated callers only",
    );
  }
  const rules = config.auth.tenants.find((t) => t.name === tenant);
  if (!rules)
    throw new GatewayError(status.PERMISSION_DENIED, `tenant '${tenant}' is not configured on this gateway`);
  return (model, version) =>
    rules.models.some(
      (g) =>
        (g.model === "*" || g.model === model) && (g.versions === undefined || g.versions.includes(version)),
    );
}
