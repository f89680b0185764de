/**
 * The cluster naming scheme, shared by the IR builder and whoever reads Envoy stats: one cluster
 * per model version, `<model>~<version>`. Model names are DNS labels and versions are
 * `[A-Za-z0-9-]`, so `~` separates them unambiguously and no name contains a dot (dots would
 * split Envoy's `cluster.<name>.` stat prefix).
 */
export const clusterSeparator = "~";

export function clusterName(model: string, version: string): string {
  return `${model}${clusterSeparator}${version}`;
}

/** The version's cluster of nodes that serve the REST/JSON form, on their REST ports. */
export function restClusterName(model: string, version: string): string {
  return `${clusterName(model, version)}${clusterSeparator}rest`;
}

/**
 * The cluster that reaches ext-authz. `_` occurs in no model name, and the name has no `~`, so it
 * can never collide with a model version's cluster.
 */
export const extAuthzClusterName = "ext_authz";
/** The control plane's gRPC port, for the server-level calls the gateway answers itself. */
export const controlPlaneClusterName = "control_plane";
/** Where Envoy fetches the identity provider's JWKS from (auth.jwt.jwksUrl, native mode). */
export const jwksClusterName = "jwks";
/** envoyproxy/ratelimit's gRPC port (auth.rateLimitService). */
export const rateLimitServiceClusterName = "rate_limit_service";
