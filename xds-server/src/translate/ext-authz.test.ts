/**
 * What the translator does for authorization: the ext_authz filter and where it reads bodies, the
 * routes it skips, the ext-authz cluster, the stripped headers, and the listener's view of
 * loopback clients. Envoy's own verdict on these resources is envoy-validate.test.ts; its run-time
 * behaviour is test/ext-authz.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { Route, VirtualHost } from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type { ExtAuthzPerRoute } from "../../../gen/envoy/envoy/extensions/filters/http/ext_authz/v3/ext_authz.js";
import type { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import {
  extAuthzPerRouteTypeUrl,
  extAuthzTypeUrl,
  headerMutationTypeUrl,
  httpConnectionManagerTypeUrl,
  unpackAny,
} from "../resources/index.js";
import { checkResourceSet } from "./check.js";
import { goldenCase, loadGoldenCases } from "./testing/index.js";
import type { ResourceSet } from "./types.js";

const cases = loadGoldenCases();
const byName = goldenCase;

function hcm(listener: Listener): HttpConnectionManager {
  const config = listener.filterChains[0]?.filters[0]?.configType;
  assert.ok(config?.$case === "typedConfig");
  return unpackAny(config.typedConfig, httpConnectionManagerTypeUrl);
}

/** The one virtual host of each Envoy route configuration, by the configuration's name. */
function virtualHosts(set: ResourceSet): Map<string, VirtualHost> {
  return new Map(
    set.routes.map(({ name, resource }) => {
      const [vh, ...more] = resource.virtualHosts;
      assert.ok(vh && more.length === 0, name);
      return [name, vh];
    }),
  );
}

/** A route's (or virtual host's) ext_authz setting, as a short word. */
function authzSetting(config: { [key: string]: Any }): string {
  const any = config["envoy.filters.http.ext_authz"];
  if (!any) return "-";
  const perRoute: ExtAuthzPerRoute = unpackAny(any, extAuthzPerRouteTypeUrl);
  const override = perRoute.override;
  if (override?.$case === "disabled") return "disabled";
  if (override?.checkSettings.disableRequestBodyBuffering) return "no-body";
  if (override?.checkSettings.withRequestBody)
    return `body ${override.checkSettings.withRequestBody.maxRequestBytes}`;
  return "?";
}

test("the filter: gRPC to the ext_authz cluster, fails closed with 503, clears the route cache, raw headers", () => {
  for (const [name, failOpen, timeout] of [
    ["edge", false, 0.25],
    ["tenants", true, 0.1],
  ] as const) {
    const filter = hcm(byName(name).resources.envoy.listeners[0]!.resource).httpFilters.find(
      (f) => f.name === "envoy.filters.http.ext_authz",
    );
    assert.ok(filter?.configType?.$case === "typedConfig");
    const config = unpackAny(filter.configType.typedConfig, extAuthzTypeUrl);
    assert.ok(config.services?.$case === "grpcService");
    const grpc = config.services.grpcService;
    assert.ok(grpc.targetSpecifier?.$case === "envoyGrpc");
    assert.equal(grpc.targetSpecifier.envoyGrpc.clusterName, "ext_authz");
    assert.equal((grpc.timeout?.seconds ?? 0) + (grpc.timeout?.nanos ?? 0) / 1e9, timeout);
    assert.equal(config.failureModeAllow, failOpen);
    assert.equal(config.statusOnError?.code, 503);
    assert.equal(config.clearRouteCache, true);
    assert.equal(config.encodeRawHeaders, true);
    assert.deepEqual(config.withRequestBody, {
      maxRequestBytes: 256,
      allowPartialMessage: true,
      packAsBytes: true,
    });
  }
});

test("routes: reflection unchecked, health checked; bodies read only for unary calls that name a model", () => {
  const hosts = virtualHosts(byName("tenants").resources.envoy);
  // Each virtual host's default: check without waiting for the body (streams must not stall).
  for (const vh of hosts.values()) assert.equal(authzSetting(vh.typedPerFilterConfig), "no-body");
  const routes = (config: string) =>
    hosts
      .get(config)
      ?.routes.map((r: Route) => [r.name, r.action?.$case, authzSetting(r.typedPerFilterConfig)]);
  assert.deepEqual([...hosts.keys()], ["ingress_mlp", "ingress_no_model", "ingress_scale"]);
  assert.deepEqual(routes("ingress_scale"), [
    ["grpc-reflection", "directResponse", "disabled"],
    // No node of scale serves REST: its REST paths get 501, and other HTTP requests 404.
    ["scale:rest:grpc-only", "directResponse", "-"],
    ["http:not-grpc", "directResponse", "-"],
    // issue #10 finding 1: health calls are checked (the virtual host's no-body default) and
    // bounded; only Check reaches the nodes.
    ["scale:health", "route", "-"],
    ["scale:health-other", "directResponse", "-"],
    // issue #10 finding 3: unary calls have their body read and compared with the headers.
    ["scale~1:unary", "route", "body 256"],
    ["scale~2:unary", "route", "body 256"],
    ["scale:unknown-version:unary", "directResponse", "body 256"],
    ["scale:unary", "route", "body 256"],
    ["scale~1", "route", "-"],
    ["scale~2", "route", "-"],
    ["scale:unknown-version", "directResponse", "-"],
    ["scale", "route", "-"],
  ]);
  assert.deepEqual(routes("ingress_no_model"), [
    ["grpc-reflection", "directResponse", "disabled"],
    ["grpc-health:no-model", "directResponse", "disabled"],
    // Checked like any call; the case's config names the control plane (the second: the REST
    // index as the transcoder makes it a gRPC call).
    ["server", "route", "-"],
    ["server", "route", "-"],
    // The REST index: checked, then transcoded to the call above (filters/rest-index.ts).
    ["rest:index", "route", "-"],
    // REST's server-level paths, answered by Envoy once checked; a model's path runs
    // model-from-path (the Lua filter, not ext_authz's setting) and is checked in the model's scope.
    ["rest:live", "directResponse", "-"],
    ["rest:ready", "directResponse", "-"],
    ["rest:server-metadata", "directResponse", "-"],
    ["rest:model-from-path", "directResponse", "-"],
    ["rest:unknown-path", "directResponse", "-"],
    ["http:not-grpc", "directResponse", "-"],
    ["no-model-header:read-body", "directResponse", "body 256"],
    // Streams: routed by the model their first message names, then checked on that route.
    ["no-model-header:first-message", "directResponse", "-"],
    ["no-model-header", "directResponse", "-"],
    ["unknown-method", "directResponse", "-"],
  ]);
  const route = (name: string) => hosts.get("ingress_no_model")?.routes.find((r) => r.name === name);
  const readBody = route("no-model-header:read-body");
  assert.deepEqual(readBody?.match?.pathSpecifier, {
    $case: "safeRegex",
    safeRegex: {
      engineType: undefined,
      regex: "^/inference\\.GRPCInferenceService/Model(Infer|Metadata|Ready|Config|Statistics)$",
    },
  });
  const regex = new RegExp(
    readBody?.match?.pathSpecifier?.$case === "safeRegex" ? readBody.match.pathSpecifier.safeRegex.regex : "",
  );
  assert.ok(regex.test("/inference.GRPCInferenceService/ModelInfer"));
  // Triton's ModelConfig and ModelStatistics: name and version are fields 1 and 2, as in ModelMetadata.
  assert.ok(regex.test("/inference.GRPCInferenceService/ModelConfig"));
  assert.ok(regex.test("/inference.GRPCInferenceService/ModelStatistics"));
  assert.ok(!regex.test("/inference.GRPCInferenceService/ModelStreamInfer"), "streams never wait for a body");
  assert.ok(!regex.test("/inference.GRPCInferenceService/ModelInferX"));
  // A stream is held only until its first message is whole, by the extraction filter.
  const stream = route("no-model-header:first-message");
  assert.deepEqual(stream?.match?.pathSpecifier, {
    $case: "path",
    path: "/inference.GRPCInferenceService/ModelStreamInfer",
  });
  assert.deepEqual(Object.keys(stream.typedPerFilterConfig), [
    "envoy.filters.http.grpc_field_extraction",
    "envoy.filters.http.lua",
  ]);
});

test("without auth: no ext_authz settings (no body read), no reflection route; health still bounded", () => {
  for (const vh of virtualHosts(byName("pinned-shadow").resources.envoy).values()) {
    assert.deepEqual(vh.typedPerFilterConfig, {});
    assert.ok(vh.routes.every((r) => authzSetting(r.typedPerFilterConfig) === "-"));
    assert.ok(!vh.routes.some((r) => r.name.includes("reflection")));
  }
  const scale = virtualHosts(byName("pinned-shadow").resources.envoy).get("ingress_scale");
  const check = scale?.routes.find((r) => r.name === "scale:health");
  assert.ok(check?.action?.$case === "route");
  assert.deepEqual(check.match?.pathSpecifier, { $case: "path", path: "/grpc.health.v1.Health/Check" });
  assert.deepEqual(check.action.route.timeout, { seconds: 2, nanos: 0 });
  assert.equal(check.action.route.retryPolicy, undefined);
  assert.deepEqual(check.action.route.requestMirrorPolicies, []);
});

test("every Envoy route configuration removes the caller's credentials before the call leaves Envoy", () => {
  // issue #10 finding 2: API keys and JWTs reached the nodes.
  for (const c of cases) {
    for (const { name, resource } of c.resources.envoy.routes) {
      assert.deepEqual(resource.requestHeadersToRemove, ["authorization"], `${c.name} ${name}`);
    }
  }
});

test("the ext-authz cluster: STATIC for an IP, STRICT_DNS for a name, HTTP/2, Envoy group only", () => {
  const kinds = (name: string) => {
    const c = byName(name).resources;
    assert.ok(!c.proxyless.clusters.some((cl) => cl.name === "ext_authz"), "grpc-js has no ext_authz");
    const cluster = c.envoy.clusters.find((cl) => cl.name === "ext_authz")?.resource;
    assert.ok(cluster?.clusterDiscoveryType?.$case === "type");
    const endpoint = cluster.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    assert.ok(endpoint?.$case === "endpoint");
    const socket = endpoint.endpoint.address?.address;
    assert.ok(socket?.$case === "socketAddress");
    assert.ok(
      cluster.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
    );
    return [cluster.clusterDiscoveryType.type, socket.socketAddress.address];
  };
  assert.deepEqual(kinds("edge"), [Cluster_DiscoveryType.STATIC, "127.0.0.1"]);
  assert.deepEqual(kinds("tenants"), [Cluster_DiscoveryType.STRICT_DNS, "ext-authz.infra"]);
  assert.ok(!byName("minimal").resources.envoy.clusters.some((cl) => cl.name === "ext_authz"));
});

test("client-sent gateway headers are removed first; loopback and private clients count as external", () => {
  for (const c of cases) {
    const manager = hcm(c.resources.envoy.listeners[0]!.resource);
    const [first] = manager.httpFilters;
    assert.ok(first?.configType?.$case === "typedConfig");
    const mutation = unpackAny(first.configType.typedConfig, headerMutationTypeUrl);
    assert.deepEqual(
      mutation.mutations?.requestMutations.map((m) => (m.action?.$case === "remove" ? m.action.remove : "")),
      [
        "x-inferencehub-principal",
        "x-inferencehub-tenant",
        "x-inferencehub-model-version",
        "x-inferencehub-repository-token",
      ],
    );
    // Unset on purpose: since Envoy 1.36 no address is internal then. `internal_address_config: {}`
    // (no CIDRs) would make RFC 1918 and loopback internal again, trusting their x-envoy-* headers.
    assert.equal(manager.internalAddressConfig, undefined, c.name);
    assert.equal(manager.useRemoteAddress, true);
  }
});

test("checkResourceSet finds an ext_authz filter whose cluster is missing", () => {
  const { envoy } = byName("edge").resources;
  const broken: ResourceSet = { ...envoy, clusters: envoy.clusters.filter((c) => c.name !== "ext_authz") };
  assert.deepEqual(checkResourceSet(broken), [
    {
      kind: "listeners",
      name: "ingress",
      message: "sends ext_authz checks to cluster ext_authz, which does not exist",
    },
  ]);
});
