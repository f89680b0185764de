import assert from "node:assert/strict";
import { test } from "node:test";
import { Cluster_LbPolicy } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { GatewayIR } from "../ir/index.js";
import { httpConnectionManagerTypeUrl, unpackAny } from "../resources/index.js";
import { checkResourceSet } from "./check.js";
import { goldenCase, loadGoldenCases } from "./testing/index.js";
import { translate } from "./translate.js";
import type { ResourceSet } from "./types.js";
import { resourceKinds } from "./types.js";

const cases = loadGoldenCases();
const byName = goldenCase;

function connectionManager(listener: Listener): HttpConnectionManager {
  const any =
    listener.apiListener?.apiListener ??
    (listener.filterChains[0]?.filters[0]?.configType?.$case === "typedConfig"
      ? listener.filterChains[0].filters[0].configType.typedConfig
      : undefined);
  assert.ok(any, `listener ${listener.name} has no connection manager`);
  return unpackAny(any, httpConnectionManagerTypeUrl);
}

const filterNames = (set: ResourceSet) =>
  set.listeners.map((l) => connectionManager(l.resource).httpFilters.map((f) => f.name));

test("every golden case translates to consistent resource sets", () => {
  for (const c of cases) {
    assert.deepEqual(checkResourceSet(c.resources.envoy), [], `${c.name} envoy`);
    assert.deepEqual(checkResourceSet(c.resources.proxyless), [], `${c.name} proxyless`);
  }
});

test("translation is deterministic and every list is sorted by name", () => {
  for (const c of cases) {
    assert.deepEqual(translate(c.ir), c.resources);
    for (const group of [c.resources.envoy, c.resources.proxyless]) {
      for (const kind of resourceKinds) {
        const names = group[kind].map((r) => r.name);
        assert.deepEqual(names, [...names].sort(), `${c.name} ${kind}`);
      }
    }
  }
});

test("weighted clusters sum to exactly 100 and leave out weight-0 versions", () => {
  for (const c of cases) {
    for (const set of [c.resources.envoy, c.resources.proxyless]) {
      for (const route of set.routes.flatMap((r) => r.resource.virtualHosts.flatMap((vh) => vh.routes))) {
        if (route.action?.$case !== "route") continue;
        const spec = route.action.route.clusterSpecifier;
        if (spec?.$case !== "weightedClusters") continue;
        const weights = spec.weightedClusters.clusters.map((w) => w.weight ?? 0);
        assert.equal(
          weights.reduce((a, b) => a + b, 0),
          100,
          `${c.name} ${route.name}`,
        );
        assert.ok(!weights.includes(0), `${c.name} ${route.name}`);
      }
    }
  }
});

test("the router is the last filter; ext_authz is off unless the IR sets it, and never proxyless", () => {
  const minimal = byName("minimal");
  assert.deepEqual(filterNames(minimal.resources.envoy), [
    [
      "envoy.filters.http.header_mutation",
      "envoy.filters.http.grpc_field_extraction",
      "envoy.filters.http.lua",
      "envoy.filters.http.grpc_stats",
      "envoy.filters.http.router",
    ],
  ]);
  const edge = byName("edge");
  assert.deepEqual(filterNames(edge.resources.envoy), [
    [
      "envoy.filters.http.header_mutation",
      "envoy.filters.http.grpc_field_extraction",
      "envoy.filters.http.lua",
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.grpc_stats",
      "envoy.filters.http.router",
    ],
  ]);
  assert.deepEqual(filterNames(edge.resources.proxyless), [["envoy.filters.http.router"]]);
});

test("proxyless: one API listener per model, named after it; no direct responses, no mirrors; ROUND_ROBIN", () => {
  const c = byName("pinned-shadow");
  const { proxyless, envoy } = c.resources;
  assert.deepEqual(
    proxyless.listeners.map((l) => [l.name, connectionManager(l.resource).routeSpecifier?.$case]),
    [
      ["mlp", "rds"],
      ["scale", "rds"],
    ],
  );
  const routes = proxyless.routes.flatMap((r) => r.resource.virtualHosts.flatMap((vh) => vh.routes));
  assert.ok(routes.every((r) => r.action?.$case === "route"));
  assert.ok(
    routes.every((r) => r.action?.$case === "route" && r.action.route.requestMirrorPolicies.length === 0),
  );
  assert.ok(proxyless.clusters.every((c) => c.resource.lbPolicy === Cluster_LbPolicy.ROUND_ROBIN));
  assert.ok(envoy.clusters.every((c) => c.resource.lbPolicy === Cluster_LbPolicy.LEAST_REQUEST));
  assert.deepEqual(
    proxyless.routes.map((r) => [r.name, r.resource.virtualHosts.map((vh) => vh.domains)]),
    [
      ["proxyless_mlp", [["mlp"]]],
      ["proxyless_scale", [["scale"]]],
    ],
  );
  // Endpoints are shared: both groups hold the very same objects.
  assert.equal(proxyless.endpoints.length, envoy.endpoints.length);
  proxyless.endpoints.forEach((e, i) => assert.equal(e.resource, envoy.endpoints[i]?.resource));
});

test("Envoy routes: one scope and route configuration per model, keyed by the model header, and one without", () => {
  const { scopedRoutes, routes } = byName("pinned-shadow").resources.envoy;
  assert.deepEqual(
    scopedRoutes.map(({ name, resource }) => [
      name,
      resource.key?.fragments.map((f) => (f.type?.$case === "stringKey" ? f.type.stringKey : "?")),
      resource.routeConfigurationName,
    ]),
    [
      ["ingress_mlp", ["mlp"], "ingress_mlp"],
      ["ingress_no_model", ["-"], "ingress_no_model"],
      ["ingress_scale", ["scale"], "ingress_scale"],
    ],
  );
  const names = (config: string) =>
    routes
      .find((r) => r.name === config)
      ?.resource.virtualHosts[0]?.routes.map((r) => [r.name, r.action?.$case]);
  // REST (none of scale's nodes serves it) and other HTTP first, then health Check and the refusal
  // of other health calls, pinned versions, then any other pinned version, then the weighted route.
  assert.deepEqual(names("ingress_scale"), [
    ["scale:rest:grpc-only", "directResponse"],
    ["http:not-grpc", "directResponse"],
    ["scale:health", "route"],
    ["scale:health-other", "directResponse"],
    ["scale~1:unary", "route"],
    ["scale~2:unary", "route"],
    ["scale~3:unary", "route"],
    ["scale:unknown-version:unary", "directResponse"],
    ["scale:unary", "route"],
    ["scale~1", "route"],
    ["scale~2", "route"],
    ["scale~3", "route"],
    ["scale:unknown-version", "directResponse"],
    ["scale", "route"],
  ]);
  assert.deepEqual(names("ingress_no_model"), [
    ["server:no-control-plane", "directResponse"],
    ["server:no-control-plane", "directResponse"],
    ["rest:index", "directResponse"],
    ["rest:live", "directResponse"],
    ["rest:ready", "directResponse"],
    ["rest:server-metadata", "directResponse"],
    ["rest:model-from-path", "directResponse"],
    ["rest:unknown-path", "directResponse"],
    ["http:not-grpc", "directResponse"],
    ["no-model-header:first-message", "directResponse"],
    ["no-model-header", "directResponse"],
    ["unknown-method", "directResponse"],
  ]);
});

test("checkResourceSet finds dangling references and duplicates", () => {
  const { envoy } = byName("weighted-canary").resources;
  const [firstCluster] = envoy.clusters;
  const [firstEndpoints] = envoy.endpoints;
  assert.ok(firstCluster && firstEndpoints);
  const broken: ResourceSet = {
    listeners: envoy.listeners,
    scopedRoutes: envoy.scopedRoutes,
    routes: [],
    clusters: [...envoy.clusters, firstCluster],
    endpoints: [
      ...envoy.endpoints.slice(1),
      { name: "orphan", resource: { ...firstEndpoints.resource, clusterName: "orphan" } },
    ],
  };
  assert.deepEqual(checkResourceSet(broken), [
    { kind: "clusters", name: firstCluster.name, message: "duplicate name" },
    ...envoy.scopedRoutes.map(({ name }) => ({
      kind: "scopedRoutes",
      name,
      message: `names route configuration ${name}, which does not exist`,
    })),
    {
      kind: "clusters",
      name: firstCluster.name,
      message: `needs endpoints ${firstCluster.name}, which do not exist`,
    },
    {
      kind: "clusters",
      name: firstCluster.name,
      message: `needs endpoints ${firstCluster.name}, which do not exist`,
    },
    { kind: "endpoints", name: "orphan", message: "is named by no cluster" },
  ]);
  const noClusters: ResourceSet = { ...envoy, clusters: [], endpoints: [] };
  assert.deepEqual(
    checkResourceSet(noClusters).map((p) => p.message),
    [
      // weighted-canary's health route, then pinned and weighted routes for unary calls and for the rest.
      ...Array.from({ length: 5 }, () => [
        "routes to cluster scale~1, which does not exist",
        "routes to cluster scale~2, which does not exist",
      ]).flat(),
    ],
  );
});

test("checkResourceSet finds two scopes with one key (Envoy would reject the update)", () => {
  const { envoy } = byName("weighted-canary").resources;
  const [first] = envoy.scopedRoutes;
  assert.ok(first);
  const twin = { name: "twin", resource: { ...first.resource, name: "twin" } };
  assert.deepEqual(checkResourceSet({ ...envoy, scopedRoutes: [...envoy.scopedRoutes, twin] }), [
    { kind: "scopedRoutes", name: "twin", message: `has the key of scope ${first.name}` },
  ]);
});

test("a model without shadow or retries gets neither", () => {
  const ir: GatewayIR = byName("overrides").ir;
  const once = ir.models.find((m) => m.name === "once");
  assert.equal(once?.retry, undefined);
  const routes = translate(ir).envoy.routes.find((r) => r.name === "ingress_once");
  const onceRoute = routes?.resource.virtualHosts[0]?.routes.find((r) => r.name === "once");
  assert.ok(onceRoute?.action?.$case === "route");
  assert.equal(onceRoute.action.route.retryPolicy, undefined);
  assert.deepEqual(onceRoute.action.route.requestMirrorPolicies, []);
});
