/**
 * Raw (schema- and semantically valid) file → normalized Config: defaults applied, per-model
 * overrides merged field by field over `defaults` (lists replace), durations in milliseconds.
 */
import {
  defaultAuth,
  defaultExtAuthz,
  defaultFleetSettings,
  defaultJwt,
  defaultListener,
  defaultPool,
  defaultRateLimitService,
  defaultReplicas,
  defaultSettings,
  minDerivedPerTryTimeoutMs,
  perTryTimeoutFactor,
} from "./defaults.js";
import { parseDuration } from "./duration.js";
import type {
  RawAuth,
  RawConfig,
  RawFleet,
  RawListener,
  RawModel,
  RawNode,
  RawPlacement,
  RawSettings,
  RawTenant,
  RawVersion,
} from "./raw.js";
import { splitAddress } from "./semantic.js";
import type {
  AuthConfig,
  AuthMode,
  Config,
  FleetSettings,
  JwtConfig,
  ListenerConfig,
  ModelConfig,
  ModelSettings,
  NodeConfig,
  PlacementConfig,
  RateLimitConfig,
  RateLimitServiceConfig,
  TenantConfig,
  VersionConfig,
} from "./types.js";

export function normalize(raw: RawConfig): Config {
  const defaults = resolveSettings(defaultSettings, raw.defaults);
  const nodes = (raw.nodes ?? []).map(normalizeNode);
  return {
    listener: normalizeListener(raw.listener ?? {}),
    pools: raw.pools ?? [...new Set(nodes.map((node) => node.pool))],
    defaults,
    nodes,
    models: (raw.models ?? []).map((model) => normalizeModel(model, defaults)),
    ...(raw.auth ? { auth: normalizeAuth(raw.auth) } : {}),
    ...(raw.controlPlane ? { controlPlane: serviceAddress(raw.controlPlane.address) } : {}),
    fleet: normalizeFleet(raw.fleet ?? {}),
  };
}

function normalizeFleet(raw: RawFleet): FleetSettings {
  const d = defaultFleetSettings;
  return {
    loadTimeoutMs: ms(raw.loadTimeout, d.loadTimeoutMs),
    drainMs: ms(raw.drain, d.drainMs),
    retryBackoffMs: ms(raw.retryBackoff, d.retryBackoffMs),
    maxRetryBackoffMs: ms(raw.maxRetryBackoff, d.maxRetryBackoffMs),
    syncIntervalMs: ms(raw.syncInterval, d.syncIntervalMs),
  };
}

function serviceAddress(address: string): { address: string; host: string; port: number } {
  const parts = splitAddress(address);
  if (!parts) throw new Error(`normalize: address ${address} passed validation but does not parse`);
  return { address, host: parts.host, port: parts.port };
}

/** Only called on values the schema accepted as durations. */
function ms(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = parseDuration(text);
  if (value === undefined) throw new Error(`normalize: ${text} passed the schema but is not a duration`);
  return value;
}

function normalizeListener(raw: RawListener): ListenerConfig {
  const d = defaultListener;
  return {
    address: raw.address ?? d.address,
    port: raw.port ?? d.port,
    maxConcurrentStreams: raw.maxConcurrentStreams ?? d.maxConcurrentStreams,
    initialStreamWindowSize: raw.initialStreamWindowSize ?? d.initialStreamWindowSize,
    initialConnectionWindowSize: raw.initialConnectionWindowSize ?? d.initialConnectionWindowSize,
    idleTimeoutMs: ms(raw.idleTimeout, d.idleTimeoutMs),
    streamIdleTimeoutMs: ms(raw.streamIdleTimeout, d.streamIdleTimeoutMs),
    requestHeadersTimeoutMs: ms(raw.requestHeadersTimeout, d.requestHeadersTimeoutMs),
    maxRequestHeadersKb: raw.maxRequestHeadersKb ?? d.maxRequestHeadersKb,
    maxRequestBodyBytes: raw.maxRequestBodyBytes ?? d.maxRequestBodyBytes,
    accessLog: raw.accessLog ?? d.accessLog,
  };
}

function normalizeNode(raw: RawNode): NodeConfig {
  const parts = splitAddress(raw.address);
  if (!parts) throw new Error(`normalize: address ${raw.address} passed validation but does not parse`);
  return {
    name: raw.name,
    address: raw.address,
    host: parts.host,
    port: parts.port,
    pool: raw.pool ?? defaultPool,
    drain: raw.drain ?? false,
    ...(raw.protocol === "rest"
      ? { restPort: parts.port }
      : raw.restPort !== undefined
        ? { restPort: raw.restPort }
        : {}),
    protocol: raw.protocol ?? "grpc",
    versionFrom: raw.versionFrom ?? "header",
    versionPorts: (raw.versionPorts ?? []).map((vp) => ({
      model: vp.model,
      version: String(vp.version),
      port: vp.port,
    })),
    labels: { ...raw.labels },
  };
}

/** `base` with every field `raw` sets replaced; nested objects merge field by field. */
export function resolveSettings(base: Readonly<ModelSettings>, raw: RawSettings | undefined): ModelSettings {
  const { retry, circuitBreaker: cb, outlierDetection: od, health } = raw ?? {};
  const timeoutMs = ms(raw?.timeout, base.timeoutMs);
  const expectedLatencyMs =
    raw?.expectedLatency !== undefined ? ms(raw.expectedLatency, 0) : base.expectedLatencyMs;
  return {
    timeoutMs,
    ...(expectedLatencyMs !== undefined ? { expectedLatencyMs } : {}),
    connectTimeoutMs: ms(raw?.connectTimeout, base.connectTimeoutMs),
    retry: {
      attempts: retry?.attempts ?? base.retry.attempts,
      perTryTimeoutMs: perTryTimeout(raw, base, timeoutMs),
      on: [...(retry?.on ?? base.retry.on)],
      hedge: retry?.hedge ?? base.retry.hedge,
    },
    circuitBreaker: {
      maxConnections: cb?.maxConnections ?? base.circuitBreaker.maxConnections,
      maxPendingRequests: cb?.maxPendingRequests ?? base.circuitBreaker.maxPendingRequests,
      maxRequests: cb?.maxRequests ?? base.circuitBreaker.maxRequests,
      maxRetries: cb?.maxRetries ?? base.circuitBreaker.maxRetries,
    },
    outlierDetection: {
      consecutive5xx: od?.consecutive5xx ?? base.outlierDetection.consecutive5xx,
      consecutiveGatewayFailure:
        od?.consecutiveGatewayFailure ?? base.outlierDetection.consecutiveGatewayFailure,
      consecutiveLocalOriginFailure:
        od?.consecutiveLocalOriginFailure ?? base.outlierDetection.consecutiveLocalOriginFailure,
      intervalMs: ms(od?.interval, base.outlierDetection.intervalMs),
      baseEjectionTimeMs: ms(od?.baseEjectionTime, base.outlierDetection.baseEjectionTimeMs),
      maxEjectionPercent: od?.maxEjectionPercent ?? base.outlierDetection.maxEjectionPercent,
    },
    panicThreshold: raw?.panicThreshold ?? base.panicThreshold,
    versionFailover: raw?.versionFailover ?? base.versionFailover,
    health: {
      intervalMs: ms(health?.interval, base.health.intervalMs),
      timeoutMs: ms(health?.timeout, base.health.timeoutMs),
      healthyThreshold: health?.healthyThreshold ?? base.health.healthyThreshold,
      unhealthyThreshold: health?.unhealthyThreshold ?? base.health.unhealthyThreshold,
      jitter: health?.jitter ?? base.health.jitter,
    },
  };
}

/**
 * As written at this level; else derived from an expected latency written at this level (capped
 * by the call's timeout); else inherited.
 */
function perTryTimeout(
  raw: RawSettings | undefined,
  base: Readonly<ModelSettings>,
  timeoutMs: number,
): number {
  if (raw?.retry?.perTryTimeout !== undefined) return ms(raw.retry.perTryTimeout, 0);
  if (raw?.expectedLatency === undefined) return base.retry.perTryTimeoutMs;
  const derived = Math.max(minDerivedPerTryTimeoutMs, perTryTimeoutFactor * ms(raw.expectedLatency, 0));
  return Math.min(derived, timeoutMs);
}

export function normalizeModel(raw: RawModel, defaults: ModelSettings): ModelConfig {
  const single = raw.versions.length === 1;
  return {
    name: raw.name,
    versions: raw.versions.map((v) => normalizeVersion(v, single)),
    ...(raw.shadow ? { shadow: { version: String(raw.shadow.version), percent: raw.shadow.percent } } : {}),
    ...(raw.pin !== undefined ? { pin: String(raw.pin) } : {}),
    ...resolveSettings(defaults, raw),
  };
}

/** A placed version has no nodes of its own: the reconciler chooses them. */
function normalizeVersion(v: RawVersion, single: boolean): VersionConfig {
  return {
    version: String(v.version),
    weight: v.weight ?? (single ? 100 : 0),
    nodes: v.placement ? [] : [...(v.nodes ?? [])],
    serverVersion: v.serverVersion === undefined ? String(v.version) : String(v.serverVersion),
    ...(v.placement ? { placement: normalizePlacement(v.placement) } : {}),
  };
}

/** `pool: x` is `pools: [x]`; neither is `pools: []` (every pool). */
function normalizePlacement(raw: RawPlacement): PlacementConfig {
  return {
    pools: raw.pools ? [...raw.pools] : raw.pool !== undefined ? [raw.pool] : [],
    replicas: raw.replicas ?? defaultReplicas,
    labels: { ...raw.labels },
  };
}

function normalizeAuth(raw: RawAuth): AuthConfig {
  const parts = splitAddress(raw.extAuthz.address);
  if (!parts)
    throw new Error(`normalize: address ${raw.extAuthz.address} passed validation but does not parse`);
  return {
    mode: (raw.mode as AuthMode | undefined) ?? defaultAuth.mode,
    extAuthz: {
      address: raw.extAuthz.address,
      host: parts.host,
      port: parts.port,
      timeoutMs: ms(raw.extAuthz.timeout, defaultExtAuthz.timeoutMs),
      failOpen: raw.extAuthz.failOpen ?? defaultExtAuthz.failOpen,
    },
    ...(raw.keysFile === undefined ? {} : { keysFile: raw.keysFile }),
    ...(raw.jwt ? { jwt: normalizeJwt(raw.jwt) } : {}),
    ...(raw.apiKeys
      ? {
          apiKeys: {
            jwksFile: raw.apiKeys.jwksFile,
            issuer: raw.apiKeys.issuer ?? defaultAuth.apiKeysIssuer,
          },
        }
      : {}),
    ...(raw.rateLimitService ? { rateLimitService: normalizeRateLimitService(raw.rateLimitService) } : {}),
    tenants: raw.tenants.map(normalizeTenant),
  };
}

function normalizeRateLimitService(raw: NonNullable<RawAuth["rateLimitService"]>): RateLimitServiceConfig {
  const parts = splitAddress(raw.address);
  if (!parts) throw new Error(`normalize: address ${raw.address} passed validation but does not parse`);
  return {
    address: raw.address,
    host: parts.host,
    port: parts.port,
    timeoutMs: ms(raw.timeout, defaultRateLimitService.timeoutMs),
    failOpen: raw.failOpen ?? defaultRateLimitService.failOpen,
  };
}

function normalizeJwt(raw: NonNullable<RawAuth["jwt"]>): JwtConfig {
  return {
    ...(raw.jwksFile === undefined ? {} : { jwksFile: raw.jwksFile }),
    ...(raw.jwksUrl === undefined ? {} : { jwksUrl: raw.jwksUrl }),
    issuer: raw.issuer,
    audience: raw.audience,
    tenantClaim: raw.tenantClaim ?? defaultJwt.tenantClaim,
    clockSkewMs: ms(raw.clockSkew, defaultJwt.clockSkewMs),
    jwksCacheMs: ms(raw.jwksCacheTtl, defaultJwt.jwksCacheMs),
  };
}

/** `burst` defaults to callsPerSecond rounded up: one second's calls at once. */
function normalizeRateLimit(raw: { callsPerSecond: number; burst?: number }): RateLimitConfig {
  return { callsPerSecond: raw.callsPerSecond, burst: raw.burst ?? Math.ceil(raw.callsPerSecond) };
}

function normalizeTenant(raw: RawTenant): TenantConfig {
  return {
    name: raw.name,
    models: raw.models.map((grant) =>
      typeof grant === "string"
        ? { model: grant }
        : {
            model: grant.name,
            ...(grant.versions ? { versions: grant.versions.map((v) => String(v)) } : {}),
            ...(grant.rateLimit ? { rateLimit: normalizeRateLimit(grant.rateLimit) } : {}),
          },
    ),
    ...(raw.rateLimit ? { rateLimit: normalizeRateLimit(raw.rateLimit) } : {}),
    repository: raw.repository ?? false,
  };
}
