/**
 * Normalized Config → inferencehub.yaml text, the inverse of parseConfig():
 * parseConfig(formatConfig(c)) gives c back. Defaults are written out in full; a model lists only
 * the settings where it differs from `defaults`, so the file stays close to what an operator writes.
 */
import { stringify } from "yaml";
import { formatDuration } from "./duration.js";
import type { RawAuth, RawConfig, RawFleet, RawModel, RawPlacement, RawSettings } from "./raw.js";
import type {
  AuthConfig,
  Config,
  FleetSettings,
  ListenerConfig,
  ModelConfig,
  ModelSettings,
  PlacementConfig,
} from "./types.js";

export function formatConfig(config: Config): string {
  const raw: RawConfig = {
    listener: rawListener(config.listener),
    pools: config.pools,
    defaults: rawSettings(config.defaults),
    nodes: config.nodes.map((node) => ({
      name: node.name,
      address: node.address,
      pool: node.pool,
      ...(node.drain ? { drain: true } : {}),
      ...(node.protocol === "rest"
        ? { protocol: node.protocol }
        : node.restPort !== undefined
          ? { restPort: node.restPort }
          : {}),
      ...(node.versionFrom !== "header" ? { versionFrom: node.versionFrom } : {}),
      ...(node.versionPorts.length > 0 ? { versionPorts: node.versionPorts } : {}),
      ...(Object.keys(node.labels).length > 0 ? { labels: { ...node.labels } } : {}),
    })),
    models: config.models.map((model) => rawModel(model, config.defaults)),
    ...(config.auth ? { auth: rawAuth(config.auth) } : {}),
    ...(config.controlPlane ? { controlPlane: { address: config.controlPlane.address } } : {}),
    fleet: rawFleet(config.fleet),
  };
  return stringify(raw, { lineWidth: 0 });
}

function rawFleet(fleet: FleetSettings): RawFleet {
  return {
    loadTimeout: formatDuration(fleet.loadTimeoutMs),
    // 0 is a drain of its own (unload at once); formatDuration writes it as 0ms.
    drain: formatDuration(fleet.drainMs),
    retryBackoff: formatDuration(fleet.retryBackoffMs),
    maxRetryBackoff: formatDuration(fleet.maxRetryBackoffMs),
    syncInterval: formatDuration(fleet.syncIntervalMs),
  };
}

/** Written back as a list of pools (or none, for every pool); labels only when there are some. */
function rawPlacement(placement: PlacementConfig): RawPlacement {
  return {
    ...(placement.pools.length > 0 ? { pools: [...placement.pools] } : {}),
    replicas: placement.replicas,
    ...(Object.keys(placement.labels).length > 0 ? { labels: { ...placement.labels } } : {}),
  };
}

function rawListener(listener: ListenerConfig): RawConfig["listener"] {
  const { idleTimeoutMs, streamIdleTimeoutMs, requestHeadersTimeoutMs, ...plain } = listener;
  return {
    ...plain,
    idleTimeout: formatDuration(idleTimeoutMs),
    streamIdleTimeout: formatDuration(streamIdleTimeoutMs),
    requestHeadersTimeout: formatDuration(requestHeadersTimeoutMs),
  };
}

function rawAuth(auth: AuthConfig): RawAuth {
  const { extAuthz, jwt, apiKeys, rateLimitService } = auth;
  return {
    mode: auth.mode,
    extAuthz: {
      address: extAuthz.address,
      timeout: formatDuration(extAuthz.timeoutMs),
      failOpen: extAuthz.failOpen,
    },
    ...(auth.keysFile === undefined ? {} : { keysFile: auth.keysFile }),
    ...(apiKeys ? { apiKeys: { ...apiKeys } } : {}),
    ...(rateLimitService
      ? {
          rateLimitService: {
            address: rateLimitService.address,
            timeout: formatDuration(rateLimitService.timeoutMs),
            failOpen: rateLimitService.failOpen,
          },
        }
      : {}),
    ...(jwt
      ? {
          jwt: {
            ...(jwt.jwksFile === undefined ? {} : { jwksFile: jwt.jwksFile }),
            ...(jwt.jwksUrl === undefined ? {} : { jwksUrl: jwt.jwksUrl }),
            issuer: jwt.issuer,
            audience: jwt.audience,
            tenantClaim: jwt.tenantClaim,
            clockSkew: formatDuration(jwt.clockSkewMs),
            jwksCacheTtl: formatDuration(jwt.jwksCacheMs),
          },
        }
      : {}),
    tenants: auth.tenants.map((tenant) => ({
      name: tenant.name,
      models: tenant.models.map((grant) =>
        grant.versions || grant.rateLimit
          ? {
              name: grant.model,
              ...(grant.versions ? { versions: grant.versions } : {}),
              ...(grant.rateLimit ? { rateLimit: { ...grant.rateLimit } } : {}),
            }
          : grant.model,
      ),
      ...(tenant.rateLimit ? { rateLimit: { ...tenant.rateLimit } } : {}),
      repository: tenant.repository,
    })),
  };
}

/** Every setting written out; an expected latency only where one is stated. */
type WrittenSettings = Required<Omit<RawSettings, "expectedLatency">> & Pick<RawSettings, "expectedLatency">;

function rawSettings(s: ModelSettings): WrittenSettings {
  return {
    timeout: formatDuration(s.timeoutMs),
    ...(s.expectedLatencyMs !== undefined ? { expectedLatency: formatDuration(s.expectedLatencyMs) } : {}),
    connectTimeout: formatDuration(s.connectTimeoutMs),
    retry: {
      attempts: s.retry.attempts,
      perTryTimeout: formatDuration(s.retry.perTryTimeoutMs),
      on: s.retry.on,
      hedge: s.retry.hedge,
    },
    circuitBreaker: { ...s.circuitBreaker },
    outlierDetection: {
      consecutive5xx: s.outlierDetection.consecutive5xx,
      consecutiveGatewayFailure: s.outlierDetection.consecutiveGatewayFailure,
      consecutiveLocalOriginFailure: s.outlierDetection.consecutiveLocalOriginFailure,
      interval: formatDuration(s.outlierDetection.intervalMs),
      baseEjectionTime: formatDuration(s.outlierDetection.baseEjectionTimeMs),
      maxEjectionPercent: s.outlierDetection.maxEjectionPercent,
    },
    panicThreshold: s.panicThreshold,
    versionFailover: s.versionFailover,
    health: {
      interval: formatDuration(s.health.intervalMs),
      timeout: formatDuration(s.health.timeoutMs),
      healthyThreshold: s.health.healthyThreshold,
      unhealthyThreshold: s.health.unhealthyThreshold,
      jitter: s.health.jitter,
    },
  };
}

function rawModel(model: ModelConfig, defaults: ModelSettings): RawModel {
  return {
    name: model.name,
    versions: model.versions.map((v) => ({
      version: v.version,
      ...(v.serverVersion !== v.version ? { serverVersion: v.serverVersion } : {}),
      weight: v.weight,
      // A placed version's nodes are the reconciler's to choose (and fill in): not written.
      ...(v.placement ? { placement: rawPlacement(v.placement) } : { nodes: v.nodes }),
    })),
    ...(model.shadow ? { shadow: { ...model.shadow } } : {}),
    ...modelOverrides(rawSettings(model), rawSettings(defaults)),
  };
}

/**
 * An expected latency written for a model sets its per-try timeout unless one is written beside
 * it: write the per-try timeout too, so the file reads back as the same config.
 */
function modelOverrides(mine: WrittenSettings, base: WrittenSettings): RawSettings {
  const out = overrides(mine, base);
  if (out.expectedLatency === undefined) return out;
  return { ...out, retry: { ...out.retry, perTryTimeout: mine.retry.perTryTimeout } };
}

/** The fields of `mine` that differ from `base`, one level of objects deep (lists compare whole). */
function overrides(mine: WrittenSettings, base: WrittenSettings): RawSettings {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(mine)) {
    const baseValue: unknown = base[key as keyof RawSettings];
    if (isPlainObject(value) && isPlainObject(baseValue)) {
      const changed = Object.entries(value).filter(([k, v]) => !sameValue(v, baseValue[k]));
      if (changed.length > 0) out[key] = Object.fromEntries(changed);
    } else if (!sameValue(value, baseValue)) out[key] = value;
  }
  return out as RawSettings;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
