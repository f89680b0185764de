/**
 * The normalized configuration: what parseConfig() returns once a file is valid. Every default is
 * applied, every per-model override is resolved, and every duration is a number of milliseconds.
 * The field reference, with defaults, is xds-server/README.md and schema/inferencehub.schema.json.
 */

/** Conditions under which Envoy retries a call (Envoy's `retry_on`, HTTP and gRPC lists merged). */
export const retryOnValues = [
  // Before the request reached a node: always safe to retry, the inference did not run.
  "connect-failure",
  "refused-stream",
  "reset-before-request",
  // After the request may have reached a node: a retry can run the inference twice.
  "reset",
  "5xx",
  "gateway-error",
  "retriable-4xx",
  "envoy-ratelimited",
  // gRPC status codes in headers (trailers-only responses).
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
] as const;

export type RetryOn = (typeof retryOnValues)[number];

export const versionFailoverValues = ["share", "none"] as const;
export type VersionFailover = (typeof versionFailoverValues)[number];

export interface Config {
  listener: ListenerConfig;
  /** Pool names in priority order, first = preferred: a cluster fails over from one to the next. */
  pools: string[];
  /** The settings every model starts from (already merged into each model below). */
  defaults: ModelSettings;
  /** Sorted as written in the file. */
  nodes: NodeConfig[];
  /** Sorted as written in the file; each carries its own resolved settings. */
  models: ModelConfig[];
  /** Who may call which model (ext-authz); absent = no authorization at the gateway. */
  auth?: AuthConfig;
  /** Where Envoy reaches the control plane for the server-level calls it answers; absent = none. */
  controlPlane?: ServiceAddress;
  /** How the reconciler loads and unloads placed versions (defaults when not written). */
  fleet: FleetSettings;
}

/** The reconciler's timings (xds-server/src/fleet/), written as durations in the `fleet` section. */
export interface FleetSettings {
  /** Longest one RepositoryModelLoad may take; past it the load counts as failed (and is retried). */
  loadTimeoutMs: number;
  /**
   * How long a node keeps a version after routing stopped sending it new calls and every Envoy
   * has that routing, before it is unloaded: in-flight calls finish within it.
   */
  drainMs: number;
  /** Wait before retrying a failed load or unload; doubles per failure up to maxRetryBackoffMs. */
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  /** Between two reads of every node's repository index (what is loaded where). */
  syncIntervalMs: number;
}

/** A service Envoy reaches by address: "<ip>:<port>", "[<ipv6>]:<port>" or "<dns name>:<port>". */
export interface ServiceAddress {
  /** As written. */
  address: string;
  /** The host part, without brackets. */
  host: string;
  port: number;
}

/** The Envoy data listener and its edge limits. */
export interface ListenerConfig {
  /** IP address to bind. */
  address: string;
  port: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS offered to each client connection. */
  maxConcurrentStreams: number;
  /** HTTP/2 flow-control window per stream, in bytes. */
  initialStreamWindowSize: number;
  /** HTTP/2 flow-control window per connection, in bytes. */
  initialConnectionWindowSize: number;
  /** A client connection with no open stream for this long is closed. */
  idleTimeoutMs: number;
  /** A stream that sends or receives nothing for this long is reset. */
  streamIdleTimeoutMs: number;
  /** A client must send the complete request headers within this time. */
  requestHeadersTimeoutMs: number;
  /** Largest request header block accepted, in KiB. */
  maxRequestHeadersKb: number;
  /** Largest REST request body forwarded, by its Content-Length; larger gets 413. */
  maxRequestBodyBytes: number;
  /** Log one JSON line per call on Envoy's stdout. */
  accessLog: boolean;
}

export interface NodeConfig {
  name: string;
  /** As written: "<ip>:<port>", IPv6 in brackets. */
  address: string;
  /** The IP part of address, without brackets. */
  host: string;
  port: number;
  pool: string;
  /** An operator is taking the node out: it gets no new calls (Envoy's DRAINING). */
  drain: boolean;
  /**
   * The node's REST/JSON port on `host`; absent = it serves gRPC only. A REST-only node's is its
   * address's port.
   */
  restPort?: number;
  /** What `address` serves: gRPC (and REST at restPort, if any), or REST only. */
  protocol: "grpc" | "rest";
  /**
   * Where the node's server reads the version the gateway chose: "header"
   * (x-inferencehub-model-version, the reference node) or "body" (model_version in the request:
   * Triton, MLServer, KServe runtimes), which the gateway then rewrites.
   */
  versionFrom: "header" | "body";
  /** Ports of the node serving one version each, for proxyless clients (send no version header). */
  versionPorts: VersionPort[];
  /** What placement constraints match (`versions[].placement.labels`); {} when none are written. */
  labels: Record<string, string>;
}

export interface VersionPort {
  model: string;
  version: string;
  port: number;
}

export interface RetrySettings {
  /** Tries per call, the first one included (as gRPC's maxAttempts); 1 = no retry. */
  attempts: number;
  /**
   * Longest one try may take. Unless written, a model with an expected latency gets
   * perTryTimeoutFactor × that latency, so a node that stops answering costs one short wait.
   */
  perTryTimeoutMs: number;
  on: RetryOn[];
  /**
   * On a per-try timeout, send the call to another node as well and take the first answer
   * (Envoy's hedge_on_per_try_timeout): for models whose calls are safe to run twice.
   */
  hedge: boolean;
}

export interface CircuitBreakerSettings {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface OutlierDetectionSettings {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

/** For the control plane's health prober; Envoy runs no health checks of its own. */
export interface HealthSettings {
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** Fraction of the interval added at random to each probe, 0 to 1. */
  jitter: number;
}

/** Settings a model may override one by one; the rest come from `defaults`. */
export interface ModelSettings {
  timeoutMs: number;
  /** How long a call normally takes on a healthy node (about its p99); absent = not stated. */
  expectedLatencyMs?: number;
  connectTimeoutMs: number;
  retry: RetrySettings;
  circuitBreaker: CircuitBreakerSettings;
  outlierDetection: OutlierDetectionSettings;
  /** Percent of healthy hosts below which Envoy load-balances over all hosts; 0 = never. */
  panicThreshold: number;
  /**
   * "share": a version with no healthy node gives its share of unpinned calls to the model's
   * healthy versions, in proportion to their weights, until it recovers. "none": its share fails
   * (UNAVAILABLE), for experiments whose split must hold exactly.
   */
  versionFailover: VersionFailover;
  health: HealthSettings;
}

export interface VersionConfig {
  version: string;
  /** Percent of the model's traffic; the versions of a model add up to exactly 100. */
  weight: number;
  /**
   * Node names, as written. A placed version (`placement`) is written without nodes: the control
   * plane's reconciler chooses them, loads the version there, and fills this in with the nodes
   * where it is ready (fleet/placed-config.ts) before the config is translated.
   */
  nodes: string[];
  /** What the nodes call this version: its name unless written; "" = the server's default model. */
  serverVersion: string;
  /** Where the control plane loads this version itself (issue #18); absent = the nodes listed. */
  placement?: PlacementConfig;
}

/**
 * Desired state of a version on the fleet: the control plane loads it (RepositoryModelLoad) on
 * nodes that match, routes to a node only once the version is ready there, and unloads it when it
 * is no longer wanted there.
 */
export interface PlacementConfig {
  /** Pools whose nodes may hold it (written `pool: x` or `pools: [x, y]`); absent = every pool. */
  pools: string[];
  /** How many nodes hold it; "all" = every node that matches. */
  replicas: number | "all";
  /** Labels a node must carry, every one with this value ({} = any node). */
  labels: Record<string, string>;
}

export interface ShadowConfig {
  /** A version of the same model with weight 0. */
  version: string;
  /** Percent of the model's calls copied to the shadow version (responses discarded). */
  percent: number;
}

export interface ModelConfig extends ModelSettings {
  name: string;
  versions: VersionConfig[];
  shadow?: ShadowConfig;
  /** When set, every call goes to this version whatever the weights (kept, so unpinning restores them). */
  pin?: string;
}

/**
 * Authorization: read by the control plane (the ext_authz filter and the ext-authz cluster) and by
 * ext-authz itself (identities, tenants, rate limits), so one edit of the file changes both.
 */
export interface AuthConfig {
  /**
   * native: Envoy verifies JWTs and gateway-signed API keys itself (jwt_authn), applies each
   * route's tenant policy (rbac) and rate limits, and calls ext-authz only for what it cannot
   * decide. ext-authz: every call is checked by ext-authz, as before #16.
   */
  mode: AuthMode;
  extAuthz: ExtAuthzServiceConfig;
  /** The API keys file (hashes only), as written; relative paths are relative to this file. */
  keysFile?: string;
  /** JWT bearer tokens; absent = only API keys are accepted. */
  jwt?: JwtConfig;
  /** Gateway-signed API keys (compact JWS), verified by Envoy; absent = random `ihk_` keys only. */
  apiKeys?: ApiKeysConfig;
  /** envoyproxy/ratelimit on Redis: limits shared by every Envoy; absent = each Envoy limits alone. */
  rateLimitService?: RateLimitServiceConfig;
  /** Sorted as written in the file. */
  tenants: TenantConfig[];
}

/** Where Envoy reaches ext-authz, and what it does when it cannot. */
export interface ExtAuthzServiceConfig {
  /** As written: "<ip>:<port>", "[<ipv6>]:<port>" or "<dns name>:<port>". */
  address: string;
  /** The host part of address, without brackets. */
  host: string;
  port: number;
  /** Longest Envoy waits for a decision. */
  timeoutMs: number;
  /** Let calls through when ext-authz cannot be reached or is too slow (false: UNAVAILABLE). */
  failOpen: boolean;
}

export const authModes = ["native", "ext-authz"] as const;
export type AuthMode = (typeof authModes)[number];

/**
 * API keys that are tokens the gateway signed: a compact JWS (ES256) whose `sub` is the key's id
 * in the keys file and whose `tenant` names its tenant. The keys file still holds only hashes;
 * this is the public half of the signing keys, so Envoy can verify a key without holding it.
 */
export interface ApiKeysConfig {
  /** A JWKS document on disk, relative to this file: public keys only. */
  jwksFile: string;
  /** The `iss` claim of the keys the gateway signs. */
  issuer: string;
}

/** Envoy's rate limit service API, served by envoyproxy/ratelimit with Redis. */
export interface RateLimitServiceConfig {
  /** As written: "<ip>:<port>", "[<ipv6>]:<port>" or "<dns name>:<port>". */
  address: string;
  host: string;
  port: number;
  /** Longest Envoy waits for the service's answer. */
  timeoutMs: number;
  /** Let calls through when the service cannot answer (false: UNAVAILABLE). */
  failOpen: boolean;
}

export interface JwtConfig {
  /** A JWKS document on disk (relative to this file); exactly one of jwksFile and jwksUrl is set. */
  jwksFile?: string;
  /** A JWKS document served over HTTP(S), fetched and cached by ext-authz. */
  jwksUrl?: string;
  /** Required `iss` claim. */
  issuer: string;
  /** Required `aud` claim (one of the token's audiences). */
  audience: string;
  /** The claim that names the caller's tenant. */
  tenantClaim: string;
  /** Tolerance for `exp` and `nbf` against ext-authz's clock. */
  clockSkewMs: number;
  /** How long a fetched JWKS is used before it is fetched again (jwksUrl only). */
  jwksCacheMs: number;
}

export interface TenantConfig {
  name: string;
  /** What the tenant may call; a model not listed is PERMISSION_DENIED. */
  models: ModelGrant[];
  /**
   * Calls per second with a burst; absent = unlimited. Held per Envoy (native mode without a
   * rateLimitService), per ext-authz replica (ext-authz mode), or across every Envoy (with one).
   */
  rateLimit?: RateLimitConfig;
  /** May call the model repository methods (load, unload, index): an operator's power. */
  repository: boolean;
}

export interface ModelGrant {
  /** A model name, or "*" for every model the gateway serves. */
  model: string;
  /** The versions the tenant may call; absent = every version. */
  versions?: string[];
  /** The tenant's calls to this model, on top of its own rateLimit (native mode); absent = none. */
  rateLimit?: RateLimitConfig;
}

export interface RateLimitConfig {
  /** Tokens added per second. */
  callsPerSecond: number;
  /** Bucket size: calls allowed at once after a quiet period. */
  burst: number;
}
