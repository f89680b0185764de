/**
 * What the translator makes of native authorization (#16), on the golden cases native-auth (JWTs
 * from a JWKS file, gateway-signed keys, version-limited tenants, local rate limits) and
 * native-auth-global (a remote JWKS, the rate limit service), against edge and tenants, which run
 * in ext-authz mode. Envoy's verdict on the resources is envoy-validate.test.ts; their behaviour
 * is test/ext-authz.test.ts and test/global-rate-limit.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Cluster } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Principal } from "../../../gen/envoy/envoy/config/rbac/v3/rbac.js";
import type { Route, VirtualHost } from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type {
  HttpConnectionManager,
  HttpFilter,
} from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import {
  extAuthzTypeUrl,
  httpConnectionManagerTypeUrl,
  jwtAuthnTypeUrl,
  localRateLimitTypeUrl,
  luaPerRouteTypeUrl,
  rateLimitTypeUrl,
  rbacPerRouteTypeUrl,
  rbacTypeUrl,
  unpackAny,
  upstreamTlsContextTypeUrl,
} from "../resources/index.js";
import { goldenCase } from "./testing/index.js";

const byName = goldenCase;

function manager(name: string): HttpConnectionManager {
  const config = byName(name).resources.envoy.listeners[0]?.resource.filterChains[0]?.filters[0]?.configType;
  assert.ok(config?.$case === "typedConfig");
  return unpackAny(config.typedConfig, httpConnectionManagerTypeUrl);
}

function filter(name: string, filterName: string): HttpFilter {
  const found = manager(name).httpFilters.find((f) => f.name === filterName);
  assert.ok(found?.configType?.$case === "typedConfig", `${name} has ${filterName}`);
  return found;
}

function typed<U extends Parameters<typeof unpackAny>[1]>(f: HttpFilter, typeUrl: U) {
  assert.ok(f.configType?.$case === "typedConfig");
  return unpackAny(f.configType.typedConfig, typeUrl);
}

function hosts(name: string): Map<string, VirtualHost> {
  return new Map(
    byName(name).resources.envoy.routes.map(({ name: n, resource }) => [n, resource.virtualHosts[0]!]),
  );
}

/** The tenants a route's (or virtual host's) policy lets Envoy allow, by JWT and by key. */
function policy(config: {
  [key: string]: Any;
}): { jwt: string[]; keys: Record<string, string[]> } | undefined {
  const any = config["inferencehub.rbac.policy"];
  if (!any) return undefined;
  const rbac = unpackAny(any, rbacPerRouteTypeUrl).rbac;
  const rules = rbac?.shadowRules;
  assert.equal(rbac?.shadowRulesStatPrefix, "policy_");
  const tenants = rules?.policies.tenants;
  if (!tenants) return { jwt: [], keys: {} };
  // Repository calls are ext-authz's, whoever calls them.
  assert.deepEqual(tenants.permissions, [
    {
      rule: {
        $case: "notRule",
        notRule: {
          rule: {
            $case: "urlPath",
            urlPath: {
              rule: {
                $case: "path",
                path: {
                  ignoreCase: false,
                  matchPattern: { $case: "prefix", prefix: "/inference.GRPCInferenceService/Repository" },
                },
              },
            },
          },
        },
      },
    },
  ]);
  const result = { jwt: [] as string[], keys: {} as Record<string, string[]> };
  for (const p of tenants.principals) {
    if (p.identifier?.$case === "metadata") result.jwt = values(p);
    else if (p.identifier?.$case === "andIds") {
      const [tenant, sub] = p.identifier.andIds.ids;
      assert.ok(tenant && sub);
      result.keys[values(tenant)[0]!] = values(sub);
    }
  }
  return result;
}

/** The values a metadata principal matches: an exact value, or an anchored alternation. */
function values(p: Principal): string[] {
  assert.ok(p.identifier?.$case === "metadata");
  const pattern = p.identifier.metadata.value?.matchPattern;
  assert.ok(pattern?.$case === "stringMatch");
  const match = pattern.stringMatch.matchPattern;
  if (match?.$case === "exact") return [match.exact];
  assert.ok(match?.$case === "safeRegex");
  const inner = /^\^\(\?:(.*)\)\$$/.exec(match.safeRegex.regex)?.[1] ?? "";
  return inner.split("|").map((v) => v.replaceAll("\\", ""));
}

test("native mode: jwt_authn and the policy record what Envoy allows; ext_authz runs for the rest", () => {
  assert.deepEqual(
    manager("native-auth").httpFilters.map((f) => f.name),
    [
      "envoy.filters.http.header_mutation",
      "envoy.filters.http.grpc_field_extraction",
      "envoy.filters.http.lua",
      "envoy.filters.http.jwt_authn",
      "inferencehub.rbac.policy",
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.grpc_json_transcoder",
      "envoy.filters.http.local_ratelimit",
      "envoy.filters.http.grpc_stats",
      "envoy.filters.http.router",
    ],
  );
  const authz = typed(filter("native-auth", "envoy.filters.http.ext_authz"), extAuthzTypeUrl);
  assert.deepEqual(authz.filterEnabledMetadata, {
    filter: "envoy.filters.http.rbac",
    path: [{ segment: { $case: "key", key: "policy_shadow_engine_result" } }],
    value: {
      matchPattern: {
        $case: "stringMatch",
        stringMatch: { ignoreCase: false, matchPattern: { $case: "exact", exact: "allowed" } },
      },
    },
    invert: true,
  });
  // The listener allows nobody: a route without a policy of its own goes to ext-authz.
  const listenerPolicy = typed(filter("native-auth", "inferencehub.rbac.policy"), rbacTypeUrl);
  assert.deepEqual(listenerPolicy.shadowRules?.policies, {});
  assert.equal(listenerPolicy.rules, undefined, "shadow rules only: Envoy's rbac refuses nothing itself");
  // ext-authz mode: none of it.
  for (const name of ["edge", "tenants"]) {
    const names = manager(name).httpFilters.map((f) => f.name);
    assert.ok(
      !names.includes("envoy.filters.http.jwt_authn") && !names.includes("inferencehub.rbac.policy"),
      name,
    );
    assert.equal(
      typed(filter(name, "envoy.filters.http.ext_authz"), extAuthzTypeUrl).filterEnabledMetadata,
      undefined,
    );
  }
});

test("jwt_authn: the IdP and the gateway's keys, from the authorization header only, unverified calls let on to ext-authz", () => {
  const config = typed(filter("native-auth", "envoy.filters.http.jwt_authn"), jwtAuthnTypeUrl);
  assert.deepEqual(Object.keys(config.providers), ["idp", "key"]);
  for (const [name, claim] of [
    ["idp", "org"],
    ["key", "tenant"],
  ] as const) {
    const p = config.providers[name]!;
    assert.deepEqual(p.fromHeaders, [{ name: "authorization", valuePrefix: "Bearer " }]);
    assert.deepEqual(p.fromParams, [], "never a token in the URL");
    assert.equal(p.forward, true, "ext-authz reads the token again when it decides");
    assert.equal(p.payloadInMetadata, name);
    assert.deepEqual(p.claimToHeaders, [
      { headerName: "x-inferencehub-tenant", claimName: claim },
      { headerName: "x-inferencehub-principal", claimName: "sub" },
    ]);
    assert.equal(p.jwksSourceSpecifier?.$case, "localJwks");
  }
  assert.deepEqual(config.providers.idp?.audiences, ["inferencehub"]);
  // ext-authz refuses an IdP token without exp: so must Envoy. The gateway's keys have none.
  assert.equal(config.providers.idp?.requireExpiration, true);
  assert.equal(config.providers.key?.requireExpiration, false);
  assert.deepEqual(config.providers.key?.audiences, []);
  const requires = config.rules[0]?.requirementType;
  assert.ok(requires?.$case === "requires" && requires.requires.requiresType?.$case === "requiresAny");
  assert.deepEqual(
    requires.requires.requiresType.requiresAny.requirements.map((r) => r.requiresType?.$case),
    ["providerName", "providerName", "allowMissingOrFailed"],
  );
});

test("the policy: once per model on its virtual host, on pinned routes only where it differs; keys by tenant", () => {
  const h = hosts("native-auth");
  // scale: beta may pin version 2 only, and unpinned calls reach version 1 too.
  const scale = h.get("ingress_scale")!;
  const keys = { acme: ["acme-ci", "acme.prod"], ops: ["ops-1"] };
  assert.deepEqual(policy(scale.typedPerFilterConfig), { jwt: ["acme", "ops"], keys });
  const routes = (vh: VirtualHost) =>
    Object.fromEntries(
      vh.routes
        .filter((r: Route) => policy(r.typedPerFilterConfig))
        .map((r) => [r.name, policy(r.typedPerFilterConfig)]),
    );
  const pinned2 = { jwt: ["acme", "beta", "ops"], keys };
  assert.deepEqual(routes(scale), {
    "scale~2~rest:path": pinned2,
    "scale~2~rest:pinned": pinned2,
    "scale~2:unary": pinned2,
    "scale~2": pinned2,
  });
  // mlp: acme may call version 1 only, which every unpinned call reaches (version 2 has weight 0).
  const mlp = h.get("ingress_mlp")!;
  assert.deepEqual(policy(mlp.typedPerFilterConfig), { jwt: ["acme", "ops"], keys });
  const onlyOps = { jwt: ["ops"], keys: { ops: ["ops-1"] } };
  assert.deepEqual(routes(mlp), { "mlp~2:unary": onlyOps, "mlp~2": onlyOps });
  // Calls that name no model: any tenant; a model the scripts do not know: nobody (ext-authz).
  const noModel = h.get("ingress_no_model")!;
  assert.deepEqual(policy(noModel.typedPerFilterConfig), { jwt: ["acme", "beta", "ops"], keys });
  assert.deepEqual(routes(noModel), {
    "rest:model-from-path": { jwt: [], keys: {} },
    "no-model-header:first-message:unary": { jwt: [], keys: {} },
  });
});

test("the no-model routes carry their own scripts, with the models served; unary calls with a header are checked by Envoy", () => {
  const noModel = hosts("native-auth").get("ingress_no_model")!;
  for (const name of ["rest:model-from-path", "no-model-header:first-message:unary"]) {
    const lua = noModel.routes.find((r) => r.name === name)?.typedPerFilterConfig["envoy.filters.http.lua"];
    assert.ok(lua, name);
    const override = unpackAny(lua, luaPerRouteTypeUrl).override;
    assert.ok(override?.$case === "sourceCode" && override.sourceCode.specifier?.$case === "inlineString");
    assert.match(
      override.sourceCode.specifier.inlineString,
      /local served_models = \{ \["mlp"\] = true, \["scale"\] = true \}/,
    );
  }
  // Streams never wait on a body: their route reads none, and keeps the shared script.
  const stream = noModel.routes.find((r) => r.name === "no-model-header:first-message");
  assert.ok(stream);
  assert.equal(stream.typedPerFilterConfig["envoy.filters.http.ext_authz"], undefined);
  const streamLua = stream.typedPerFilterConfig["envoy.filters.http.lua"];
  assert.ok(streamLua);
  assert.deepEqual(unpackAny(streamLua, luaPerRouteTypeUrl).override, {
    $case: "name",
    name: "model-from-first-message",
  });
  const scale = hosts("native-auth").get("ingress_scale")!;
  for (const route of scale.routes.filter((r) => r.name.endsWith(":unary") && r.action?.$case === "route")) {
    const lua = route.typedPerFilterConfig["envoy.filters.http.lua"];
    assert.ok(lua && route.typedPerFilterConfig["envoy.filters.http.grpc_field_extraction"], route.name);
    assert.deepEqual(unpackAny(lua, luaPerRouteTypeUrl).override, {
      $case: "name",
      name: "first-message-matches-headers",
    });
    assert.equal(
      route.typedPerFilterConfig["envoy.filters.http.ext_authz"],
      undefined,
      "no body goes to ext-authz",
    );
  }
});

test("rate limits: a token bucket per tenant in each Envoy, or the rate limit service's descriptors", () => {
  const local = typed(filter("native-auth", "envoy.filters.http.local_ratelimit"), localRateLimitTypeUrl);
  assert.deepEqual(
    local.descriptors.map((d) => [d.entries.map((e) => `${e.key}=${e.value}`).join(","), d.tokenBucket]),
    [
      ["tenant=acme", { maxTokens: 5, tokensPerFill: 1, fillInterval: { seconds: 0, nanos: 400_000_000 } }],
      // acme's limit on mlp alone, on top of its own.
      ["tenant=acme,model=mlp", { maxTokens: 1, tokensPerFill: 1, fillInterval: { seconds: 1, nanos: 0 } }],
      ["tenant=beta", { maxTokens: 500, tokensPerFill: 25, fillInterval: { seconds: 0, nanos: 50_000_000 } }],
    ],
  );
  assert.equal(local.rateLimitedAsResourceExhausted, true);
  assert.equal(local.filterEnforced?.defaultValue?.numerator, 100);
  const vh = hosts("native-auth").get("ingress_scale")!;
  assert.deepEqual(
    vh.rateLimits.map((r) =>
      r.actions.map((a) =>
        a.actionSpecifier?.$case === "requestHeaders" ? a.actionSpecifier.requestHeaders.descriptorKey : "?",
      ),
    ),
    [["tenant"], ["tenant", "model"]],
  );
  // Global: the service decides, fails closed, and gets (tenant) and (tenant, model).
  const names = manager("native-auth-global").httpFilters.map((f) => f.name);
  assert.ok(
    names.includes("envoy.filters.http.ratelimit") && !names.includes("envoy.filters.http.local_ratelimit"),
  );
  const global = typed(filter("native-auth-global", "envoy.filters.http.ratelimit"), rateLimitTypeUrl);
  assert.equal(global.domain, "inferencehub");
  assert.equal(global.failureModeDeny, true);
  assert.deepEqual(global.timeout, { seconds: 0, nanos: 50_000_000 });
  assert.equal(global.statusOnError?.code, 503);
  const globalHost = hosts("native-auth-global").get("ingress_scale")!;
  assert.equal(globalHost.rateLimits.length, 2);
  const cluster = byName("native-auth-global").resources.envoy.clusters.find(
    (c) => c.name === "rate_limit_service",
  );
  assert.ok(cluster, "the service's cluster");
  // Without native mode there is no Envoy limit: ext-authz limits (tenants has rate limits).
  assert.ok(!manager("tenants").httpFilters.some((f) => f.name.includes("ratelimit")));
});

test("over the limit: the tenant's message and retry hint, as ext-authz sent them", () => {
  const mappers = manager("native-auth").localReplyConfig?.mappers ?? [];
  const grpc = mappers.filter((m) => m.headersToAdd.some((h) => h.header?.key === "grpc-retry-pushback-ms"));
  const text = (m: (typeof mappers)[number]) =>
    m.bodyFormatOverride?.format?.$case === "textFormatSource" &&
    m.bodyFormatOverride.format.textFormatSource.specifier?.$case === "inlineString"
      ? m.bodyFormatOverride.format.textFormatSource.specifier.inlineString
      : "";
  assert.deepEqual(grpc.map(text), [
    // A limit on one model first: it is the more specific.
    "tenant 'acme' is over its rate limit for model 'mlp'; retry in 1000 ms",
    "tenant 'acme' is over its rate limit; retry in 400 ms",
    "tenant 'beta' is over its rate limit; retry in 2 ms",
    "tenant '%REQ(x-inferencehub-tenant)%' is over its rate limit; retry in 1000 ms",
  ]);
  const hint = (m: (typeof mappers)[number], key: string) =>
    m.headersToAdd.find((h) => h.header?.key === key)?.header?.value;
  assert.equal(hint(grpc[1]!, "grpc-retry-pushback-ms"), "400");
  assert.equal(hint(grpc[1]!, "retry-after"), "1");
  // The service's windows: an hour's limit waits up to the hour.
  const global = (manager("native-auth-global").localReplyConfig?.mappers ?? []).map(text);
  assert.ok(global.includes("tenant 'acme' is over its rate limit; retry in 1000 ms"), global.join("\n"));
});

test("a remote JWKS: Envoy fetches it through a cluster of its own, over TLS to the host", () => {
  const config = typed(filter("native-auth-global", "envoy.filters.http.jwt_authn"), jwtAuthnTypeUrl);
  const source = config.providers.idp?.jwksSourceSpecifier;
  assert.ok(source?.$case === "remoteJwks");
  assert.equal(source.remoteJwks.httpUri?.uri, "https://idp.example:8443/.well-known/jwks.json");
  assert.deepEqual(source.remoteJwks.cacheDuration, { seconds: 300, nanos: 0 });
  const cluster: Cluster | undefined = byName("native-auth-global").resources.envoy.clusters.find(
    (c) => c.name === "jwks",
  )?.resource;
  assert.ok(cluster?.transportSocket?.configType?.$case === "typedConfig");
  const tls = unpackAny(cluster.transportSocket.configType.typedConfig, upstreamTlsContextTypeUrl);
  assert.equal(tls.sni, "idp.example");
  assert.ok(!byName("native-auth-global").resources.proxyless.clusters.some((c) => c.name === "jwks"));
});
