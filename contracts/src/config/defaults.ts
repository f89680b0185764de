/**
 * Every default of inferencehub.yaml, in normalized form. The JSON schema repeats them as
 * `default` annotations for editors; defaults.test.ts keeps the two in step.
 * Why each value: xds-server/README.md, "Defaults and why".
 */
import { defaultPorts } from "../ports.js";
import type {
  AuthConfig,
  ExtAuthzServiceConfig,
  FleetSettings,
  JwtConfig,
  ListenerConfig,
  ModelSettings,
  RateLimitServiceConfig,
} from "./types.js";

/** Nodes a placed version is loaded on when its placement does not say. */
export const defaultReplicas = 1;

/**
 * The reconciler's timings (xds-server/src/fleet/). A large model takes tens of seconds to load
 * from its repository, so two minutes means stuck; 5 s of drain covers the calls still in flight
 * (most take well under a second) once every Envoy routes elsewhere; backoff from 1 s to a minute
 * keeps a node that cannot load a version from being asked again and again; every 5 s the
 * repository index shows what an operator loaded or unloaded by hand.
 */
export const defaultFleetSettings: Readonly<FleetSettings> = {
  loadTimeoutMs: 120_000,
  drainMs: 5_000,
  retryBackoffMs: 1_000,
  maxRetryBackoffMs: 60_000,
  syncIntervalMs: 5_000,
};

/** Pool of a node that names none. */
export const defaultPool = "default";

/**
 * Edge limits after Envoy's edge best practices, with flow-control windows sized for tensors: a
 * 64 KiB stream window would stall a multi-megabyte ModelInfer body once per round trip.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/best_practices/edge
 */
export const defaultListener: Readonly<ListenerConfig> = {
  address: "0.0.0.0",
  port: defaultPorts.envoyData,
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 1_048_576,
  initialConnectionWindowSize: 8_388_608,
  idleTimeoutMs: 300_000,
  streamIdleTimeoutMs: 300_000,
  requestHeadersTimeoutMs: 10_000,
  maxRequestHeadersKb: 60,
  // The reference node's own limit (--max-message-bytes): a body the node would refuse is refused here.
  maxRequestBodyBytes: 67_108_864,
  accessLog: false,
};

/**
 * A try that takes this many times the model's expected latency is taken as stuck (a frozen node):
 * long enough for a slow call on a busy node, short enough that the caller barely notices.
 */
export const perTryTimeoutFactor = 4;
/** The shortest per-try timeout derived from an expected latency. */
export const minDerivedPerTryTimeoutMs = 50;

export const defaultSettings: Readonly<ModelSettings> = {
  timeoutMs: 30_000,
  connectTimeoutMs: 1_000,
  retry: {
    attempts: 2,
    perTryTimeoutMs: 10_000,
    // Only failures where the node never saw the call: retrying anything later may run an
    // inference twice (a node killed mid-call shows as a reset or UNAVAILABLE).
    on: ["connect-failure", "refused-stream", "reset-before-request"],
    hedge: false,
  },
  circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
  outlierDetection: {
    consecutive5xx: 5,
    consecutiveGatewayFailure: 3,
    consecutiveLocalOriginFailure: 3,
    intervalMs: 1_000,
    baseEjectionTimeMs: 5_000,
    maxEjectionPercent: 50,
  },
  // Envoy's default of 50 sends calls to unhealthy nodes once half a priority is down.
  // https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/upstream/load_balancing/panic_threshold
  panicThreshold: 0,
  versionFailover: "share",
  // A probe is a trivial call: a node that takes 250 ms to answer it is stuck, and two such
  // rounds, the second 100 ms after the first (prober.ts), take it out in about 600 ms.
  health: { intervalMs: 2_000, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 2, jitter: 0.1 },
};

/**
 * ext-authz sits on every call's path: a decision takes well under a millisecond, so a quarter of a
 * second means it is down or overloaded, and the call fails closed (UNAVAILABLE) rather than hang.
 */
export const defaultExtAuthz: Readonly<Pick<ExtAuthzServiceConfig, "timeoutMs" | "failOpen">> = {
  timeoutMs: 250,
  failOpen: false,
};

/**
 * Envoy's own filters decide what they can (#16); ext-authz keeps the rest. Gateway-signed API
 * keys name this issuer unless the config says otherwise.
 */
export const defaultAuth: Readonly<Pick<AuthConfig, "mode">> & { apiKeysIssuer: string } = {
  mode: "native",
  apiKeysIssuer: "inferencehub-keys",
};

/**
 * The rate limit service answers from Redis in about a millisecond: 100 ms means it is down or
 * overloaded, and the call fails closed (UNAVAILABLE) as an ext-authz outage does.
 */
export const defaultRateLimitService: Readonly<Pick<RateLimitServiceConfig, "timeoutMs" | "failOpen">> = {
  timeoutMs: 100,
  failOpen: false,
};

/** Optional JWT settings; a JWKS fetched from a URL is reused for 10 minutes (and on unknown `kid`s refetched). */
export const defaultJwt: Readonly<Pick<JwtConfig, "tenantClaim" | "clockSkewMs" | "jwksCacheMs">> = {
  tenantClaim: "tenant",
  clockSkewMs: 5_000,
  jwksCacheMs: 600_000,
};
