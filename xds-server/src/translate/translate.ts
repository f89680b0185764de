/**
 * IR → Envoy v3 resources for both groups of clients. Pure: the same IR gives equal resources,
 * each list sorted by name. Serving them (versions, ADS ordering) is the cache's job.
 *
 * The work is split into units, each built from one part of the IR: the gateway (listener,
 * ext-authz and control-plane clusters, the routes of calls without a model header), each model (its routes, scope
 * and proxyless listener), each cluster (its Cluster for both groups and its endpoints). A unit's
 * `input` holds everything its build reads, so a caller that keeps the output of the last build
 * may reuse it wherever the input is unchanged (snapshot/incremental.ts): one edited model
 * rebuilds one model.
 */
import type { GatewayIR } from "../ir/index.js";
import { gatewayClusters, translateCluster } from "./clusters.js";
import { byName } from "./common.js";
import { loadAssignment } from "./endpoints.js";
import { envoyListeners, proxylessListener } from "./listeners.js";
import { envoyModelRouteConfig, noModelRouteConfig, proxylessRouteConfig } from "./routes.js";
import { modelScope, noModelScope } from "./scoped-routes.js";
import { resourceKinds, type ClientGroup, type Named, type ResourceSet } from "./types.js";

export interface TranslateResult {
  /** For Envoy proxies (node group "envoy"). */
  envoy: ResourceSet;
  /** For grpc-js clients with `xds:///<model>` targets. */
  proxyless: ResourceSet;
}

export interface TranslationUnit {
  /** Unique within one translation, and stable across translations of the same config. */
  id: string;
  /** Everything build() reads, as plain data: equal JSON, equal output. */
  input: unknown;
  build(): TranslateResult;
}

export function translate(ir: GatewayIR): TranslateResult {
  const parts = translationUnits(ir).map((unit) => unit.build());
  const merge = (group: ClientGroup): ResourceSet => {
    const set = emptySet();
    for (const kind of resourceKinds) {
      const all = parts.flatMap((p): Named<unknown>[] => p[group][kind]);
      (set[kind] as Named<unknown>[]) = all.sort(byName);
    }
    return set;
  };
  return { envoy: merge("envoy"), proxyless: merge("proxyless") };
}

export function translationUnits(ir: GatewayIR): TranslationUnit[] {
  // Whatever is not a model or a cluster is the gateway's: every unit reads it, so a new field of
  // the IR is part of every unit's input without anyone remembering to add it.
  const { models, clusters, ...gateway } = ir;
  // What the builds get instead of the whole IR: a build cannot read past its unit's input.
  const gatewayIR: GatewayIR = { ...gateway, models: [], clusters: [] };
  // The no-model routes of native authorization list the models served (routes.ts).
  const served = gateway.nativeAuth ? models.map((m) => m.name) : [];
  const gatewayUnit: TranslationUnit = {
    id: "gateway",
    input: { gateway, served },
    build: () => ({
      envoy: {
        ...emptySet(),
        listeners: envoyListeners(gatewayIR),
        scopedRoutes: [noModelScope()],
        routes: [
          noModelRouteConfig(
            { authz: gateway.extAuthz, native: gateway.nativeAuth },
            gateway.controlPlane,
            gateway.ready,
            served,
          ),
        ],
        clusters: gatewayClusters(gatewayIR, "envoy"),
      },
      proxyless: { ...emptySet(), clusters: gatewayClusters(gatewayIR, "proxyless") },
    }),
  };
  const modelUnits = models.map((model): TranslationUnit => ({
    id: `model ${model.name}`,
    input: { model, gateway },
    build: () => ({
      envoy: {
        ...emptySet(),
        scopedRoutes: [modelScope(model)],
        routes: [
          envoyModelRouteConfig(
            model,
            { authz: gateway.extAuthz, native: gateway.nativeAuth },
            gateway.listener,
          ),
        ],
      },
      proxyless: {
        ...emptySet(),
        listeners: [proxylessListener(gatewayIR, model)],
        routes: [proxylessRouteConfig(model)],
      },
    }),
  }));
  const clusterUnits = clusters.map((cluster): TranslationUnit => ({
    id: `cluster ${cluster.name}`,
    input: { cluster, gateway },
    build: () => {
      // The same endpoints for both groups (one object, encoded once) unless a node has a port
      // for this version alone, which only proxyless clients are sent to.
      const envoyEndpoints = [{ name: cluster.name, resource: loadAssignment(cluster, "envoy") }];
      const proxylessEndpoints = cluster.endpoints.some((e) => e.proxylessPort !== undefined)
        ? [{ name: cluster.name, resource: loadAssignment(cluster, "proxyless") }]
        : envoyEndpoints;
      const clusterFor = (group: ClientGroup) => [
        { name: cluster.name, resource: translateCluster(cluster, group) },
      ];
      const envoy = { ...emptySet(), clusters: clusterFor("envoy"), endpoints: envoyEndpoints };
      // grpc-js speaks gRPC only: REST clusters are Envoy's.
      if (cluster.protocol === "rest") return { envoy, proxyless: emptySet() };
      return {
        envoy,
        proxyless: { ...emptySet(), clusters: clusterFor("proxyless"), endpoints: proxylessEndpoints },
      };
    },
  }));
  return [gatewayUnit, ...modelUnits, ...clusterUnits];
}

function emptySet(): ResourceSet {
  return { listeners: [], scopedRoutes: [], routes: [], clusters: [], endpoints: [] };
}
