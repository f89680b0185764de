/** Config + health → IR. Pure: no I/O, no clock; the same arguments give an equal IR. */
import { isIP } from "node:net";
import type {
  AuthConfig,
  Config,
  ModelConfig,
  NodeConfig,
  RetryOn,
  VersionConfig,
} from "@inferencehub/contracts/config";
import { clusterName, controlPlaneClusterName, extAuthzClusterName, restClusterName } from "./names.js";
import type {
  ClusterIR,
  EndpointIR,
  ExtAuthzIR,
  GatewayIR,
  HealthView,
  ListenerIR,
  ModelIR,
  RestRoutingIR,
  RetryIR,
  VersionRouteIR,
} from "./types.js";

/**
 * Host picks per retry that try to avoid the nodes a call already failed on, as in Envoy's
 * retry-plugin example. https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/http/http_connection_management#retry-plugin-configuration
 */
const hostSelectionRetryMaxAttempts = 3;

/** Without probes every node is UNKNOWN, which Envoy and grpc-js both route to. */
export const unknownHealth: HealthView = () => "UNKNOWN";

/**
 * Body bytes ext-authz gets to find the model name: the 5-byte gRPC prefix, then model_name and
 * model_version (fields 1 and 2, each a 1-byte tag, a 1-byte length and at most 63 bytes) is 135.
 */
const extAuthzBodyBytes = 256;

export interface BuildIROptions {
  /** Sets the ext_authz slot directly, whatever the config's `auth` says (tests). */
  extAuthz?: GatewayIR["extAuthz"];
}

export function buildIR(config: Config, health: HealthView, options: BuildIROptions = {}): GatewayIR {
  const nodes = new Map(config.nodes.map((node) => [node.name, node]));
  const models = sortBy(config.models, (m) => m.name);
  const extAuthz = options.extAuthz ?? (config.auth ? buildExtAuthz(config.auth) : undefined);
  const clusterContext = { nodes, pools: config.pools, health };
  const builtModels = models.map((model) => buildModel(model, versionUp(nodes, health), servesRest(nodes)));
  return {
    listener: buildListener(config),
    ...(extAuthz ? { extAuthz: { ...extAuthz, service: { ...extAuthz.service } } } : {}),
    ...(config.controlPlane
      ? {
          controlPlane: {
            cluster: controlPlaneClusterName,
            service: {
              host: config.controlPlane.host,
              port: config.controlPlane.port,
              dns: isIP(config.controlPlane.host) === 0,
            },
          },
        }
      : {}),
    ready: builtModels.every((model) =>
      model.versions.some((v) => v.weight > 0 && !(model.versionsDown ?? []).includes(v.version)),
    ),
    models: builtModels,
    clusters: sortBy(
      models.flatMap((model) =>
        model.versions.flatMap((version) => {
          const grpc = buildCluster(model, version, clusterContext, "grpc");
          const rest = buildCluster(model, version, clusterContext, "rest");
          return rest.endpoints.length > 0 ? [grpc, rest] : [grpc];
        }),
      ),
      (c) => c.name,
    ),
  };
}

/** Whether a version has a node that serves the REST/JSON form (one with a restPort). */
type ServesRest = (version: VersionConfig) => boolean;

function servesRest(nodes: ReadonlyMap<string, NodeConfig>): ServesRest {
  return (version) => version.nodes.some((name) => nodes.get(name)?.restPort !== undefined);
}

function buildListener(config: Config): ListenerIR {
  const l = config.listener;
  return {
    address: l.address,
    port: l.port,
    http2: {
      maxConcurrentStreams: l.maxConcurrentStreams,
      initialStreamWindowSize: l.initialStreamWindowSize,
      initialConnectionWindowSize: l.initialConnectionWindowSize,
    },
    idleTimeoutMs: l.idleTimeoutMs,
    streamIdleTimeoutMs: l.streamIdleTimeoutMs,
    requestHeadersTimeoutMs: l.requestHeadersTimeoutMs,
    maxRequestHeadersKb: l.maxRequestHeadersKb,
    maxRequestBodyBytes: l.maxRequestBodyBytes,
    accessLog: l.accessLog,
  };
}

function buildExtAuthz(auth: AuthConfig): ExtAuthzIR {
  const { host, port, timeoutMs, failOpen } = auth.extAuthz;
  return {
    cluster: extAuthzClusterName,
    service: { host, port, dns: isIP(host) === 0 },
    timeoutMs,
    failOpen,
    bodyBytes: extAuthzBodyBytes,
  };
}

/** Whether a version has a node that may serve it: one HEALTHY, or UNKNOWN (not probed yet). */
type VersionUp = (model: string, version: VersionConfig) => boolean;

function versionUp(nodes: ReadonlyMap<string, NodeConfig>, health: HealthView): VersionUp {
  return (model, version) =>
    version.nodes.some((name) => {
      if (nodes.get(name)?.drain) return false;
      const status = health(name, model, version.version);
      return status === "HEALTHY" || status === "UNKNOWN";
    });
}

function buildModel(model: ModelConfig, up: VersionUp, rest: ServesRest): ModelIR {
  const retry = buildRetry(model);
  const versions = sortBy(model.versions, (v) => v.version);
  // A pin overrides the weights: the pinned version takes every call.
  const configured = versions.map((v) =>
    model.pin === undefined ? v.weight : v.version === model.pin ? 100 : 0,
  );
  const down = versions.filter((v, i) => (configured[i] ?? 0) > 0 && !up(model.name, v));
  const weights =
    down.length > 0 && model.versionFailover === "share" && model.pin === undefined
      ? shareOut(
          configured,
          versions.map((v) => !down.includes(v)),
        )
      : configured;
  const routes = versions.map((v, i) => ({
    version: v.version,
    weight: weights[i] ?? 0,
    cluster: clusterName(model.name, v.version),
  }));
  const restRouting = buildRestRouting(model, routes, (version) => {
    const v = versions.find((x) => x.version === version);
    return v !== undefined && rest(v);
  });
  return {
    name: model.name,
    versions: routes,
    ...(model.shadow
      ? {
          shadow: {
            version: model.shadow.version,
            cluster: clusterName(model.name, model.shadow.version),
            percent: model.shadow.percent,
          },
        }
      : {}),
    timeoutMs: model.timeoutMs,
    ...(retry ? { retry } : {}),
    ...(restRouting ? { rest: restRouting } : {}),
    ...(down.length > 0 ? { versionsDown: down.map((v) => v.version) } : {}),
  };
}

/**
 * REST calls go where gRPC calls go, among the versions with a node that serves REST: a weighted
 * version without one gives its share to the others in proportion, as a version that is down does.
 */
function buildRestRouting(
  model: ModelConfig,
  routes: readonly VersionRouteIR[],
  servesRest: (version: string) => boolean,
): RestRoutingIR | undefined {
  const withRest = routes.filter((r) => servesRest(r.version));
  if (withRest.length === 0) return undefined;
  const weights = shareOut(
    routes.map((r) => r.weight),
    routes.map((r) => servesRest(r.version)),
  );
  const shadow = model.shadow;
  return {
    versions: routes.flatMap((r, i) =>
      servesRest(r.version)
        ? [
            {
              version: r.version,
              // shareOut leaves the weights alone when no weighted version serves REST.
              weight: withRest.some((x) => x.weight > 0) ? (weights[i] ?? 0) : 0,
              cluster: restClusterName(model.name, r.version),
              pathVersion:
                model.versions.find((v) => v.version === r.version)?.serverVersion ?? r.version,
            },
          ]
        : [],
    ),
    ...(shadow && servesRest(shadow.version)
      ? {
          shadow: {
            version: shadow.version,
            cluster: restClusterName(model.name, shadow.version),
            percent: shadow.percent,
          },
        }
      : {}),
  };
}

/**
 * The weights of the versions that are up, scaled to add up to 100 again (largest remainder, ties
 * to the first version): a version down gives its share to the others in proportion to theirs.
 * With no weighted version up there is nobody to give it to, and the weights stay as they are.
 */
export function shareOut(weights: readonly number[], up: readonly boolean[]): number[] {
  const kept = weights.map((w, i) => (up[i] ? w : 0));
  const total = kept.reduce((a, b) => a + b, 0);
  if (total === 0) return [...weights];
  const exact = kept.map((w) => (w * 100) / total);
  const result = exact.map(Math.floor);
  let left = 100 - result.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ i, rest: x - Math.floor(x) }))
    .filter(({ i }) => (kept[i] ?? 0) > 0)
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    result[i] = (result[i] ?? 0) + 1;
    left -= 1;
  }
  return result;
}

/**
 * A hedged model has said its calls may run twice: a try reset after it reached a node (the node
 * killed, or its connection closed while the try hung there) is retried too, as the hedge would be.
 */
function retryOn(retry: ModelConfig["retry"]): RetryOn[] {
  if (!retry.hedge || retry.on.includes("reset")) return [...retry.on];
  return [...retry.on, "reset"];
}

/** Absent for attempts = 1: grpc-js rejects a retry policy with num_retries 0. */
function buildRetry(model: ModelConfig): RetryIR | undefined {
  if (model.retry.attempts <= 1) return undefined;
  return {
    numRetries: model.retry.attempts - 1,
    perTryTimeoutMs: model.retry.perTryTimeoutMs,
    retryOn: retryOn(model.retry),
    hedgeOnPerTryTimeout: model.retry.hedge,
    hostSelectionRetryMaxAttempts,
  };
}

interface ClusterContext {
  nodes: ReadonlyMap<string, NodeConfig>;
  pools: readonly string[];
  health: HealthView;
}

function buildCluster(
  model: ModelConfig,
  version: VersionConfig,
  ctx: ClusterContext,
  protocol: ClusterIR["protocol"],
): ClusterIR {
  const rest = protocol === "rest";
  return {
    name: rest ? restClusterName(model.name, version.version) : clusterName(model.name, version.version),
    protocol,
    model: model.name,
    version: version.version,
    connectTimeoutMs: model.connectTimeoutMs,
    circuitBreaker: { ...model.circuitBreaker },
    outlierDetection: { ...model.outlierDetection },
    panicThreshold: model.panicThreshold,
    endpoints: buildEndpoints(model.name, version, ctx, protocol),
    // REST calls name the version in the path the gateway writes: nothing to rewrite in the body.
    ...(!rest && version.nodes.some((name) => ctx.nodes.get(name)?.versionFrom === "body")
      ? { bodyVersion: version.serverVersion }
      : {}),
  };
}

function buildEndpoints(
  model: string,
  version: VersionConfig,
  ctx: ClusterContext,
  protocol: ClusterIR["protocol"],
): EndpointIR[] {
  const nodes = version.nodes
    .map((name) => {
      const node = ctx.nodes.get(name);
      if (!node) throw new Error(`buildIR: version ${model}~${version.version} names unknown node ${name}`);
      return node;
    })
    .filter((node) => protocol === "grpc" || node.restPort !== undefined);
  // Priorities count only the pools present here, so a cluster without gpu nodes starts at 0.
  const present = ctx.pools.filter((pool) => nodes.some((node) => node.pool === pool));
  const endpoints = nodes.map((node): EndpointIR => {
    const versionPort = node.versionPorts.find((vp) => vp.model === model && vp.version === version.version);
    if (protocol === "rest") {
      return {
        node: node.name,
        host: node.host,
        port: node.restPort ?? node.port,
        pool: node.pool,
        priority: present.indexOf(node.pool),
        health: node.drain ? "DRAINING" : ctx.health(node.name, model, version.version),
      };
    }
    return {
      node: node.name,
      host: node.host,
      port: node.port,
      ...(versionPort ? { proxylessPort: versionPort.port } : {}),
      pool: node.pool,
      priority: present.indexOf(node.pool),
      health: node.drain ? "DRAINING" : ctx.health(node.name, model, version.version),
    };
  });
  return endpoints.sort((a, b) => a.priority - b.priority || compare(a.node, b.node));
}

/** Code-unit order: the same on every machine, whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => compare(key(a), key(b)));
}
