/**
 * Authorization in Envoy's own filters (auth.mode native, #16), so that an allowed call never waits
 * on ext-authz:
 * - jwt_authn verifies the identity provider's JWTs and the gateway-signed API keys, caches what it
 *   verified, copies the tenant claim into the tenant header and the claims into dynamic metadata;
 *   a call with no token, or one that fails, goes on unverified (allow_missing_or_failed);
 * - an rbac filter, in shadow mode, applies the route's tenant policy (policyPerRoute): who may
 *   call the model, or pin that version, by a JWT naming the tenant or by a signed API key the
 *   keys file lists for it now. The policy lives in the route configurations, never in the
 *   listener: Envoy applies a new listener only to new connections, and a revoked key must stop
 *   working on every connection with the next push (RDS updates apply to the next call);
 * - ext_authz then runs only when that policy did not allow the call (filter_enabled_metadata):
 *   missing, failed or revoked credentials, tenants the route does not allow, repository calls,
 *   random `ihk_` keys, every route without a policy. It decides as in ext-authz mode, so every
 *   denial keeps its status and message, and fails closed when ext-authz is down.
 * Shadow rules decide nothing by themselves: they only record their result, so nothing here can
 * refuse a call that ext-authz would allow, and a call Envoy allows is one ext-authz's policy
 * allows (ir/build.ts's modelAccess mirrors ext-authz/src/policy.ts).
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/jwt_authn_filter
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/rbac_filter
 */
import { principalHeader, tenantHeader } from "@inferencehub/contracts/headers";
import type { Permission, Principal } from "../../../../gen/envoy/envoy/config/rbac/v3/rbac.js";
import { RBAC_Action } from "../../../../gen/envoy/envoy/config/rbac/v3/rbac.js";
import {
  JwtAuthentication,
  JwtProvider,
  type JwtRequirement,
} from "../../../../gen/envoy/envoy/extensions/filters/http/jwt_authn/v3/config.js";
import { RBAC } from "../../../../gen/envoy/envoy/extensions/filters/http/rbac/v3/rbac.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../../gen/envoy/google/protobuf/any.js";
import type { MetadataMatcher } from "../../../../gen/envoy/envoy/type/matcher/v3/metadata.js";
import type { StringMatcher } from "../../../../gen/envoy/envoy/type/matcher/v3/string.js";
import type { GatewayIR, JwtProviderIR, NativeAuthIR } from "../../ir/index.js";
import { jwtAuthnTypeUrl, packAny, rbacPerRouteTypeUrl, rbacTypeUrl } from "../../resources/index.js";
import { duration } from "../durations.js";
import type { HttpFilterSpec } from "./http-filter.js";

const jwtAuthnFilterName = "envoy.filters.http.jwt_authn";
const rbacMetadataNamespace = "envoy.filters.http.rbac";
const policyRbacFilterName = "inferencehub.rbac.policy";
/** The prefix of the rbac filter's dynamic metadata keys (`policy_shadow_engine_result`). */
const policyPrefix = "policy_";

/** jwt_authn's providers, and where each puts the verified claims in dynamic metadata. */
const providers = { idp: "idp", apiKeys: "key" } as const;

/** The repository methods are ext-authz's: it adds the nodes' repository token to allowed calls. */
const repositoryPathPrefix = "/inference.GRPCInferenceService/Repository";

/** Tokens verified and kept per worker thread, so a busy client's token is checked once. */
const jwtCacheSize = 1_000;
const remoteJwksFetchTimeoutMs = 2_000;

const native = (ir: GatewayIR, group: string) => group === "envoy" && ir.nativeAuth !== undefined;

export const jwtAuthnFilter: HttpFilterSpec = {
  name: jwtAuthnFilterName,
  enabled: (ir, group) => native(ir, group) && (ir.nativeAuth?.idp ?? ir.nativeAuth?.apiKeys) !== undefined,
  build: (ir) => {
    const auth = nativeAuthOf(ir);
    const configured = [
      ...(auth.idp ? [[providers.idp, jwtProvider(auth.idp, providers.idp)] as const] : []),
      ...(auth.apiKeys ? [[providers.apiKeys, jwtProvider(auth.apiKeys, providers.apiKeys)] as const] : []),
    ];
    return HttpFilter.fromPartial({
      name: jwtAuthnFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          jwtAuthnTypeUrl,
          JwtAuthentication.fromPartial({
            providers: Object.fromEntries(configured),
            rules: [
              {
                match: { pathSpecifier: { $case: "prefix", prefix: "/" } },
                requirementType: {
                  $case: "requires",
                  requires: anyOf([
                    ...configured.map(([name]): JwtRequirement => ({
                      requiresType: { $case: "providerName", providerName: name },
                    })),
                    // Unverified calls go on to ext-authz, which refuses them with the reason.
                    { requiresType: { $case: "allowMissingOrFailed", allowMissingOrFailed: {} } },
                  ]),
                },
              },
            ],
          }),
        ),
      },
    });
  },
};

function anyOf(requirements: JwtRequirement[]): JwtRequirement {
  return { requiresType: { $case: "requiresAny", requiresAny: { requirements } } };
}

function jwtProvider(p: JwtProviderIR, metadataKey: string): JwtProvider {
  return {
    ...emptyProvider(),
    issuer: p.issuer,
    audiences: p.audience === undefined ? [] : [p.audience],
    jwksSourceSpecifier:
      "inline" in p.jwks
        ? {
            $case: "localJwks",
            localJwks: { specifier: { $case: "inlineString", inlineString: p.jwks.inline } },
          }
        : {
            $case: "remoteJwks",
            remoteJwks: {
              httpUri: {
                uri: p.jwks.url,
                httpUpstreamType: { $case: "cluster", cluster: p.jwks.cluster },
                timeout: duration(remoteJwksFetchTimeoutMs),
              },
              cacheDuration: duration(p.jwks.cacheMs),
              // Fetched when the listener starts, not on the first call; calls wait for it.
              asyncFetch: { fastListener: false },
            },
          },
    // As ext-authz: the identity provider's tokens must expire; the gateway's keys never do (they
    // are revoked instead).
    requireExpiration: metadataKey === providers.idp,
    // Only `authorization: Bearer <token>`, as ext-authz reads it: never a query parameter.
    fromHeaders: [{ name: "authorization", valuePrefix: "Bearer " }],
    // ext-authz reads the token again when the policy sends the call there; the route removes it
    // before the call leaves Envoy.
    forward: true,
    payloadInMetadata: metadataKey,
    clockSkewSeconds: Math.ceil(p.clockSkewMs / 1000),
    jwtCacheConfig: { jwtCacheSize },
    claimToHeaders: [
      { headerName: tenantHeader, claimName: p.tenantClaim },
      { headerName: principalHeader, claimName: "sub" },
    ],
  };
}

function emptyProvider(): JwtProvider {
  return JwtProvider.fromPartial({});
}

/** The route's tenant policy; a route without one (policyPerRoute) allows nobody here. */
export const policyRbacFilter: HttpFilterSpec = {
  name: policyRbacFilterName,
  enabled: native,
  build: () => rbacFilter(policyRbacFilterName, noneAllowed(policyPrefix)),
};

/**
 * The ext_authz filter's filter_enabled_metadata in native mode: run unless the route's policy
 * allowed the call. Without that metadata (no policy ran) it runs: fail closed.
 */
export function extAuthzUnlessAllowed(): MetadataMatcher {
  return {
    filter: rbacMetadataNamespace,
    path: [{ segment: { $case: "key", key: `${policyPrefix}shadow_engine_result` } }],
    value: { matchPattern: { $case: "stringMatch", stringMatch: exact("allowed") } },
    invert: true,
  };
}

/**
 * typed_per_filter_config for a route (or a whole virtual host) that `tenants` may call: by a
 * verified JWT naming one of them, or by a signed API key the keys file lists for one of them now,
 * with that tenant. Repository calls never match.
 */
export function policyPerRoute(auth: NativeAuthIR, tenants: readonly string[]): Record<string, Any> {
  const principals: Principal[] = [];
  if (tenants.length > 0 && auth.idp) {
    principals.push(
      metadataPrincipal(jwtAuthnFilterName, [providers.idp, auth.idp.tenantClaim], oneOf(tenants)),
    );
  }
  const allowed = new Set(tenants);
  const keysByTenant = new Map<string, string[]>();
  for (const { id, tenant } of auth.apiKeys?.keys ?? []) {
    if (allowed.has(tenant)) keysByTenant.set(tenant, [...(keysByTenant.get(tenant) ?? []), id]);
  }
  for (const [tenant, ids] of keysByTenant) {
    principals.push(
      andIds([
        metadataPrincipal(jwtAuthnFilterName, [providers.apiKeys, "tenant"], exact(tenant)),
        metadataPrincipal(jwtAuthnFilterName, [providers.apiKeys, "sub"], oneOf(ids)),
      ]),
    );
  }
  const rbac = RBAC.fromPartial({
    shadowRulesStatPrefix: policyPrefix,
    ...(principals.length > 0
      ? { shadowRules: tenantsPolicy(principals) }
      : { shadowRules: { policies: {} } }),
  });
  return { [policyRbacFilterName]: packAny(rbacPerRouteTypeUrl, { rbac }) };
}

function tenantsPolicy(principals: Principal[]) {
  const notRepository: Permission = {
    rule: {
      $case: "notRule",
      notRule: {
        rule: {
          $case: "urlPath",
          urlPath: {
            rule: {
              $case: "path",
              path: { ignoreCase: false, matchPattern: { $case: "prefix", prefix: repositoryPathPrefix } },
            },
          },
        },
      },
    },
  };
  return { action: RBAC_Action.ALLOW, policies: { tenants: { permissions: [notRepository], principals } } };
}

/** Rules that allow nobody: what a route without a policy of its own records. */
function noneAllowed(prefix: string): RBAC {
  return RBAC.fromPartial({
    shadowRulesStatPrefix: prefix,
    shadowRules: { action: RBAC_Action.ALLOW, policies: {} },
  });
}

function rbacFilter(name: string, config: RBAC): HttpFilter {
  return HttpFilter.fromPartial({
    name,
    configType: { $case: "typedConfig", typedConfig: packAny(rbacTypeUrl, config) },
  });
}

function metadataPrincipal(filter: string, path: string[], match: StringMatcher): Principal {
  return {
    identifier: {
      $case: "metadata",
      metadata: {
        filter,
        path: path.map((key) => ({ segment: { $case: "key", key } })),
        value: { matchPattern: { $case: "stringMatch", stringMatch: match } },
        invert: false,
      },
    },
  };
}

function andIds(ids: Principal[]): Principal {
  return { identifier: { $case: "andIds", andIds: { ids } } };
}

function exact(value: string): StringMatcher {
  return { ignoreCase: false, matchPattern: { $case: "exact", exact: value } };
}

/** Any of `values`, exactly: one anchored RE2 alternation rather than a principal per value. */
function oneOf(values: readonly string[]): StringMatcher {
  if (values.length === 1) return exact(values[0] ?? "");
  const alternatives = values.map((v) => v.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")).join("|");
  return {
    ignoreCase: false,
    matchPattern: { $case: "safeRegex", safeRegex: { regex: `^(?:${alternatives})$` } },
  };
}

function nativeAuthOf(ir: GatewayIR): NativeAuthIR {
  if (!ir.nativeAuth) throw new Error("native-auth: the IR has no nativeAuth");
  return ir.nativeAuth;
}
