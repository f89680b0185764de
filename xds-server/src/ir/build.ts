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
import {
  clusterName,
  controlPlaneClusterName,
  extAuthzClusterName,
  jwksClusterName,
  rateLimitServiceClusterName,
  restClusterName,
} from "./names.js";
import type {
  ClusterIR,
  EndpointIR,
  ExtAuthzIR,
  GatewayIR,
  HealthView,
  JwtProviderIR,
  ListenerIR,
  ModelAccessIR,
  ModelIR,
  NativeAuthIR,
  RemoteJwksIR,
  RestRoutingIR,
  RetryIR,
} from "./types.js";

/**
 * Host picks per retry that try to avoid the nodes a call already failed on (previous_hosts).
 * Least-request over two nodes picks the dead one half the time, so with Envoy's example of 3,
 * 1 retry in 16 went back to a node just killed and the call failed (the SDK suites' fault tests
 * lost a call in 2 of 13 runs); 10 leaves 1 in 2,048, and costs only on retries.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/http/http_connection_management#retry-plugin-configuration
 */
const hostSelectionRetryMaxAttempts = 10;

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
  /** What the files the auth section names hold (source/auth-files.ts); none read = none usable. */
  authFiles?: AuthFiles;
  /**
   * The memo of earlier builds (createIRMemo): a model whose config object and health are those of
   * the last build keeps its IR objects. The result is equal either way.
   */
  memo?: IRMemo;
}

/** One model's part of the IR. */
interface ModelPart {
  ir: ModelIR;
  servable: boolean;
  clusters: ClusterIR[];
}

/**
 * What a build made of each model, for the next build: an edit of one model (the etcd store keeps
 * the others' config objects, contracts' ConfigAssembler) or a health change of one node rebuilds
 * the models it touches only, and the unchanged models' IR objects stay the same objects, which
 * the snapshot builder recognises without comparing their JSON (snapshot/incremental.ts).
 */
export interface IRMemo {
  /** What every model's part reads besides the model: equal by identity, or the memo is cleared. */
  context: readonly unknown[];
  models: Map<ModelConfig, { health: string; part: ModelPart }>;
}

export function createIRMemo(): IRMemo {
  return { context: [], models: new Map() };
}

/** The parts of the auth section's files that Envoy may be given: never a hash, never a private key. */
export interface AuthFiles {
  /** The keys file's entries, id and tenant only. */
  keys: { id: string; tenant: string }[];
  /** The gateway-signed keys' public JWKS (auth.apiKeys.jwksFile), checked usable; absent = none. */
  apiKeysJwks?: string;
  /** The identity provider's JWKS (auth.jwt.jwksFile), checked usable; absent = none. */
  idpJwks?: string;
}

export const noAuthFiles: AuthFiles = { keys: [] };

export function buildIR(config: Config, health: HealthView, options: BuildIROptions = {}): GatewayIR {
  const nodes = new Map(config.nodes.map((node) => [node.name, node]));
  const models = sortBy(config.models, (m) => m.name);
  const extAuthz = options.extAuthz ?? (config.auth ? buildExtAuthz(config.auth) : undefined);
  const native =
    config.auth?.mode === "native" && extAuthz
      ? buildNativeAuth(config.auth, options.authFiles ?? noAuthFiles)
      : undefined;
  const clusterContext = { nodes, pools: config.pools, health };
  const up = versionUp(nodes, health);
  const partOf = (model: ModelConfig): ModelPart => {
    const m = buildModel(model, nodes, up);
    return {
      ...(native && config.auth ? { ...m, ir: { ...m.ir, access: modelAccess(model, config.auth) } } : m),
      clusters: model.versions.flatMap((version) => {
        const grpc = buildCluster(model, version, clusterContext, "grpc");
        const rest = buildCluster(model, version, clusterContext, "rest");
        return rest.endpoints.length > 0 ? [grpc, rest] : [grpc];
      }),
    };
  };
  const built = options.memo
    ? memoized(
        options.memo,
        [config.nodes, config.pools, config.auth, native !== undefined],
        models,
        health,
        partOf,
      )
    : models.map(partOf);
  return {
    listener: buildListener(config),
    ...(extAuthz ? { extAuthz: { ...extAuthz, service: { ...extAuthz.service } } } : {}),
    ...(native ? { nativeAuth: native } : {}),
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
    ready: built.every((m) => m.servable),
    models: built.map((m) => m.ir),
    clusters: sortBy(
      built.flatMap((m) => m.clusters),
      (c) => c.name,
    ),
  };
}

/**
 * Each model's part from the memo when its config object, its nodes' health and the context are
 * those of the last build; built otherwise. The memo then holds this build's parts only.
 */
function memoized(
  memo: IRMemo,
  context: readonly unknown[],
  models: readonly ModelConfig[],
  health: HealthView,
  partOf: (model: ModelConfig) => ModelPart,
): ModelPart[] {
  const sameContext =
    memo.context.length === context.length && memo.context.every((c, i) => c === context[i]);
  const last = sameContext ? memo.models : new Map<ModelConfig, { health: string; part: ModelPart }>();
  const next = new Map<ModelConfig, { health: string; part: ModelPart }>();
  const parts = models.map((model) => {
    const seen = healthOf(model, health);
    const kept = last.get(model);
    const part = kept?.health === seen ? kept.part : partOf(model);
    next.set(model, { health: seen, part });
    return part;
  });
  memo.context = context;
  memo.models = next;
  return parts;
}

/** Every status a model's part reads: each version's nodes', in order. */
function healthOf(model: ModelConfig, health: HealthView): string {
  let seen = "";
  for (const version of model.versions)
    for (const node of version.nodes) seen += `${health(node, model.name, version.version)},`;
  return seen;
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

/**
 * Envoy's side of native authorization: the JWT providers it verifies with, the signed keys it
 * accepts, and the rate limits. A provider whose JWKS is unusable is left out, so its tokens go
 * to ext-authz, which refuses them with the reason.
 */
function buildNativeAuth(auth: AuthConfig, files: AuthFiles): NativeAuthIR {
  const { jwt, apiKeys, rateLimitService } = auth;
  const idpJwks: JwtProviderIR["jwks"] | undefined = jwt?.jwksUrl
    ? remoteJwks(jwt.jwksUrl, jwt.jwksCacheMs)
    : files.idpJwks !== undefined
      ? { inline: files.idpJwks }
      : undefined;
  return {
    ...(jwt && idpJwks
      ? {
          idp: {
            issuer: jwt.issuer,
            audience: jwt.audience,
            tenantClaim: jwt.tenantClaim,
            clockSkewMs: jwt.clockSkewMs,
            jwks: idpJwks,
          },
        }
      : {}),
    ...(apiKeys && files.apiKeysJwks !== undefined
      ? {
          apiKeys: {
            issuer: apiKeys.issuer,
            tenantClaim: "tenant",
            clockSkewMs: 0,
            jwks: { inline: files.apiKeysJwks },
            keys: sortBy(files.keys, (k) => k.id).map(({ id, tenant }) => ({ id, tenant })),
          },
        }
      : {}),
    tenants: auth.tenants.map((t) => t.name).sort(),
    rateLimits: sortBy(
      auth.tenants.flatMap((t): NativeAuthIR["rateLimits"] => [
        ...(t.rateLimit ? [{ tenant: t.name, ...t.rateLimit }] : []),
        ...t.models.flatMap((g) => (g.rateLimit ? [{ tenant: t.name, model: g.model, ...g.rateLimit }] : [])),
      ]),
      (r) => `${r.tenant}~${r.model ?? ""}`,
    ),
    ...(rateLimitService
      ? {
          rateLimitService: {
            cluster: rateLimitServiceClusterName,
            service: {
              host: rateLimitService.host,
              port: rateLimitService.port,
              dns: isIP(rateLimitService.host) === 0,
            },
            timeoutMs: rateLimitService.timeoutMs,
            failOpen: rateLimitService.failOpen,
          },
        }
      : {}),
  };
}

function remoteJwks(url: string, cacheMs: number): RemoteJwksIR {
  const parsed = new URL(url);
  const tls = parsed.protocol === "https:";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    url,
    cluster: jwksClusterName,
    service: { host, port: Number(parsed.port || (tls ? 443 : 80)), dns: isIP(host) === 0, tls },
    cacheMs,
  };
}

/**
 * The tenants that may call a model unpinned or pinned to each version, decided as ext-authz's
 * policy decides (ext-authz/src/policy.ts): a grant of the model (or `*`); a grant limited to
 * versions allows those pinned, and unpinned calls only when every version they can reach (the
 * pin, or every weighted version) is one of them.
 */
function modelAccess(model: ModelConfig, auth: AuthConfig): ModelAccessIR {
  const reachable =
    model.pin !== undefined ? [model.pin] : model.versions.filter((v) => v.weight > 0).map((v) => v.version);
  const grants = auth.tenants.flatMap((tenant) => {
    const explicit = tenant.models.find((g) => g.model === model.name);
    if (explicit) return [{ tenant: tenant.name, versions: explicit.versions }];
    return tenant.models.some((g) => g.model === "*") ? [{ tenant: tenant.name, versions: undefined }] : [];
  });
  const allows = (versions: readonly string[] | undefined, version: string) =>
    versions === undefined || versions.includes(version);
  const names = (keep: (versions: readonly string[] | undefined) => boolean) =>
    grants
      .filter((g) => keep(g.versions))
      .map((g) => g.tenant)
      .sort();
  return {
    unpinned: names((versions) => reachable.every((v) => allows(versions, v))),
    pinned: Object.fromEntries(
      sortBy(model.versions, (v) => v.version).map((v) => [
        v.version,
        names((versions) => allows(versions, v.version)),
      ]),
    ),
  };
}

/** Which nodes a protocol's calls can go to: gRPC (at `address`), or REST (at `restPort`). */
type Serves = (node: NodeConfig) => boolean;
export const servesGrpc: Serves = (node) => node.protocol !== "rest";
const servesRest: Serves = (node) => node.restPort !== undefined;

/**
 * Whether a version has a node that may serve it over a protocol: one HEALTHY, or UNKNOWN (not
 * probed yet), not draining.
 */
type VersionUp = (model: string, version: VersionConfig, serves: Serves) => boolean;

export function versionUp(nodes: ReadonlyMap<string, NodeConfig>, health: HealthView): VersionUp {
  return (model, version, serves) =>
    version.nodes.some((name) => {
      const node = nodes.get(name);
      if (!node || node.drain || !serves(node)) return false;
      const status = health(name, model, version.version);
      return status === "HEALTHY" || status === "UNKNOWN";
    });
}

/** One protocol's split of a model's calls: the weights, and the weighted versions down. */
interface Split {
  weights: number[];
  down: VersionConfig[];
  /** Which versions have a node that speaks the protocol at all. */
  capable: boolean[];
}

/**
 * A version none of whose nodes speaks the protocol gives its share of that protocol's calls to
 * the others in proportion; then a version with no node up does the same (versionFailover:
 * share), and is listed as down.
 */
function splitFor(
  model: ModelConfig,
  versions: readonly VersionConfig[],
  configured: readonly number[],
  nodes: ReadonlyMap<string, NodeConfig>,
  up: VersionUp,
  serves: Serves,
): Split {
  // A placed version ready nowhere yet (or any more) is down for gRPC, which every node it may be
  // placed on speaks, not "REST only": its share moves as a down version's does, and calls
  // pinned to it are UNAVAILABLE.
  const capable = versions.map(
    (v) =>
      (serves === servesGrpc && v.placement !== undefined && v.nodes.length === 0) ||
      v.nodes.some((name) => serves(nodes.get(name) ?? ({} as NodeConfig))),
  );
  const base = capable.some((c, i) => c && (configured[i] ?? 0) > 0)
    ? shareOut(configured, capable)
    : [...configured];
  const down = versions.filter((v, i) => capable[i] && (base[i] ?? 0) > 0 && !up(model.name, v, serves));
  if (down.length === 0 || model.versionFailover !== "share" || model.pin !== undefined)
    return { weights: base, down, capable };
  const shared = shareOut(
    base,
    versions.map((v) => !down.includes(v)),
  );
  if (shared.some((w, i) => w > 0 && !down.includes(versions[i]!))) return { weights: shared, down, capable };
  // Every version with a weight is down: versions kept at weight 0 that are up take the calls in
  // equal parts rather than let them fail (the old version, while the one given all the weight
  // is still loading). Never the shadow, whose answers nobody was meant to get.
  const standby = versions.map(
    (v, i) =>
      capable[i] === true &&
      (base[i] ?? 0) === 0 &&
      v.version !== model.shadow?.version &&
      up(model.name, v, serves),
  );
  const weights = standby.some(Boolean)
    ? shareOut(
        standby.map((s) => (s ? 1 : 0)),
        standby,
      )
    : shared;
  return { weights, down, capable };
}

function buildModel(
  model: ModelConfig,
  nodes: ReadonlyMap<string, NodeConfig>,
  up: VersionUp,
): { ir: ModelIR; servable: boolean } {
  const retry = buildRetry(model);
  const versions = sortBy(model.versions, (v) => v.version);
  // A pin overrides the weights: the pinned version takes every call.
  const configured = versions.map((v) =>
    model.pin === undefined ? v.weight : v.version === model.pin ? 100 : 0,
  );
  const grpc = splitFor(model, versions, configured, nodes, up, servesGrpc);
  const rest = splitFor(model, versions, configured, nodes, up, servesRest);
  const routes = versions.map((v, i) => ({
    version: v.version,
    weight: grpc.weights[i] ?? 0,
    cluster: clusterName(model.name, v.version),
    ...(grpc.capable[i] ? {} : { restOnly: true as const }),
  }));
  const restRouting = buildRestRouting(model, versions, rest);
  // Ready (ServerReady, /v2/health/ready) when some weighted version can serve one protocol or the other.
  const takesCalls = (split: Split) =>
    split.weights.some((w, i) => w > 0 && split.capable[i] && !split.down.includes(versions[i]!));
  return {
    ir: {
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
      ...(grpc.down.length > 0 ? { versionsDown: grpc.down.map((v) => v.version) } : {}),
    },
    servable: takesCalls(grpc) || (restRouting !== undefined && takesCalls(rest)),
  };
}

/**
 * REST calls are split as gRPC calls are, among the versions with a node that serves REST (a
 * weighted version without one, or with none up, gives its share to the others in proportion).
 */
function buildRestRouting(
  model: ModelConfig,
  versions: readonly VersionConfig[],
  split: Split,
): RestRoutingIR | undefined {
  if (!split.capable.some(Boolean)) return undefined;
  const shadow = model.shadow;
  const shadowIndex = versions.findIndex((v) => v.version === shadow?.version);
  return {
    versions: versions.flatMap((v, i) =>
      split.capable[i]
        ? [
            {
              version: v.version,
              weight: split.weights[i] ?? 0,
              cluster: restClusterName(model.name, v.version),
              pathVersion: v.serverVersion,
            },
          ]
        : [],
    ),
    ...(shadow && split.capable[shadowIndex]
      ? {
          shadow: {
            version: shadow.version,
            cluster: restClusterName(model.name, shadow.version),
            percent: shadow.percent,
          },
        }
      : {}),
    ...(split.down.length > 0 ? { versionsDown: split.down.map((v) => v.version) } : {}),
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
    ...(rest && model.shadow?.version === version.version ? { restPathVersion: version.serverVersion } : {}),
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
    .filter(protocol === "grpc" ? servesGrpc : servesRest);
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
