/**
 * The gateway IR: what the gateway should do, decided once, in plain data. buildIR() makes it
 * from the config and the health table; translate() turns it into Envoy resources and knows
 * nothing of the config file. Everything here is JSON-serialisable and sorted, so the same input
 * gives the same IR, byte for byte, on every replica.
 */
import type {
  CircuitBreakerSettings,
  OutlierDetectionSettings,
  RetryOn,
} from "@inferencehub/contracts/config";

/**
 * A node's state for one model version, as Envoy's EDS health_status understands it:
 * HEALTHY and UNKNOWN take calls; UNHEALTHY and DRAINING do not. grpc-js uses only HEALTHY and
 * UNKNOWN endpoints. https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/core/v3/health_check.proto#enum-config-core-v3-healthstatus
 */
export type HealthStatus = "HEALTHY" | "UNHEALTHY" | "DRAINING" | "UNKNOWN";

/** What the health prober knows; a node never probed is UNKNOWN (routable). */
export type HealthView = (node: string, model: string, version: string) => HealthStatus;

export interface GatewayIR {
  /** The Envoy data listener. Proxyless clients have no listener of their own on the wire. */
  listener: ListenerIR;
  /** External authorization for every call through Envoy; absent = no ext_authz filter. */
  extAuthz?: ExtAuthzIR;
  /**
   * Authorization by Envoy's own filters (auth.mode native): ext-authz then runs only for the
   * calls these do not allow. Absent = ext-authz decides every call (or there is no auth).
   */
  nativeAuth?: NativeAuthIR;
  /**
   * Where Envoy sends ServerLive, ServerReady and ServerMetadata without a model header (the
   * control plane answers them for the whole gateway); absent = they get UNIMPLEMENTED.
   */
  controlPlane?: ControlPlaneIR;
  /**
   * Every model has a version that takes calls with a node up (UNKNOWN counts as up): what
   * ServerReady and the REST form's /v2/health/ready answer.
   */
  ready: boolean;
  /** One per model, sorted by name. */
  models: ModelIR[];
  /** One per model version and protocol (gRPC, and REST where a node serves it), sorted by name. */
  clusters: ClusterIR[];
}

export interface ListenerIR {
  /** IP address to bind. */
  address: string;
  /** TCP port for client calls. */
  port: number;
  /** HTTP/2 settings offered to clients. */
  http2: {
    /** SETTINGS_MAX_CONCURRENT_STREAMS per client connection. */
    maxConcurrentStreams: number;
    /** Flow-control window per stream, in bytes. */
    initialStreamWindowSize: number;
    /** Flow-control window per connection, in bytes. */
    initialConnectionWindowSize: number;
  };
  /** Close a client connection with no open stream after this long. */
  idleTimeoutMs: number;
  /** Reset a stream that moves no bytes for this long. */
  streamIdleTimeoutMs: number;
  /** Time a client has to send its complete request headers. */
  requestHeadersTimeoutMs: number;
  /** Largest request header block accepted, in KiB. */
  maxRequestHeadersKb: number;
  /** Largest REST request body forwarded, by its Content-Length; larger gets 413. */
  maxRequestBodyBytes: number;
  /** Log one JSON line per call on stdout. */
  accessLog: boolean;
}

export interface ExtAuthzIR {
  /** Name of the cluster that reaches the ext-authz gRPC service (Envoy group only). */
  cluster: string;
  /** Where ext-authz listens. */
  service: ExtAuthzServiceIR;
  /** Longest Envoy waits for a decision. */
  timeoutMs: number;
  /** Let calls through when ext-authz cannot be reached (false: they fail with UNAVAILABLE). */
  failOpen: boolean;
  /**
   * Bytes of the request body ext-authz gets when a unary call that names a model in its body
   * (ModelInfer, ModelMetadata, ModelReady, ModelConfig, ModelStatistics) sets no
   * `inferencehub-model` header, or sets one the body must agree with: enough for the gRPC frame
   * prefix, model name and version, never the tensors. Streams send no body.
   */
  bodyBytes: number;
}

export interface NativeAuthIR {
  /** The identity provider's JWTs; absent when none is configured or its JWKS has no usable key. */
  idp?: JwtProviderIR;
  /** Gateway-signed API keys; absent when not configured or their JWKS has no usable key. */
  apiKeys?: JwtProviderIR & {
    /** The keys file's entries, sorted by id: a signed key is accepted only while listed. */
    keys: { id: string; tenant: string }[];
  };
  /** Every tenant of the config, sorted: who may make calls that name no model. */
  tenants: string[];
  /**
   * The tenants' rate limits, sorted by tenant then model: a tenant's own (no model), and a
   * tenant's on one model.
   */
  rateLimits: { tenant: string; model?: string; callsPerSecond: number; burst: number }[];
  /** Limits shared by every Envoy; absent = each Envoy holds them alone. */
  rateLimitService?: RateLimitServiceIR;
}

export interface JwtProviderIR {
  issuer: string;
  /** Required `aud`; absent = not checked (the gateway's own keys have none). */
  audience?: string;
  /** The claim naming the tenant. */
  tenantClaim: string;
  clockSkewMs: number;
  jwks: { inline: string } | RemoteJwksIR;
}

export interface RemoteJwksIR {
  url: string;
  /** The cluster Envoy fetches it through. */
  cluster: string;
  service: ExtAuthzServiceIR & { tls: boolean };
  cacheMs: number;
}

export interface RateLimitServiceIR {
  cluster: string;
  service: ExtAuthzServiceIR;
  timeoutMs: number;
  failOpen: boolean;
}

/**
 * Which tenants Envoy lets call a model without asking ext-authz, as ext-authz's policy would
 * decide it (ext-authz/src/policy.ts); every other call goes to ext-authz.
 */
export interface ModelAccessIR {
  /** May call it unpinned: granted the model with every version unpinned calls can reach. */
  unpinned: string[];
  /** Version → the tenants that may pin it. */
  pinned: Record<string, string[]>;
}

export interface ControlPlaneIR {
  /** Name of the cluster that reaches the control plane's gRPC port (Envoy group only). */
  cluster: string;
  service: ExtAuthzServiceIR;
}

/** A service Envoy reaches by address (ext-authz, the control plane). */
export interface ExtAuthzServiceIR {
  /** IP address (without brackets) or DNS name. */
  host: string;
  port: number;
  /** host is a DNS name for Envoy to resolve (STRICT_DNS) rather than an IP address (STATIC). */
  dns: boolean;
}

export interface ModelIR {
  /** Model name: the `inferencehub-model` header value, and the proxyless target `xds:///<name>`. */
  name: string;
  /**
   * Every version, sorted by name. Each is reachable pinned (`inferencehub-model-version`);
   * those with weight > 0 share unpinned calls.
   */
  versions: VersionRouteIR[];
  /** Copy a share of the calls to another version; absent = no mirroring. */
  shadow?: ShadowIR;
  /** Longest a call may take, retries included; also the cap on a client's grpc-timeout. */
  timeoutMs: number;
  /** Absent when the model allows one try only. */
  retry?: RetryIR;
  /**
   * The REST/JSON form's routing, absent when no node of the model serves REST. Its versions are
   * those with a node that does, each with its REST cluster.
   */
  rest?: RestRoutingIR;
  /**
   * Versions that take unpinned calls by the config but have no node to serve them (every node
   * UNHEALTHY or DRAINING), sorted; absent when there are none. With `versionFailover: share`
   * their weight is 0 here and the healthy versions' weights grew to keep 100.
   */
  versionsDown?: string[];
  /** Set with native authorization: who may call the model. */
  access?: ModelAccessIR;
}

export interface RestRoutingIR {
  /**
   * The versions with a node that serves REST, sorted by name, `cluster` their REST cluster. Their
   * weights are the model's, those of versions without REST moved to these in proportion (summing
   * to 100 again); all 0 when no weighted version serves REST.
   */
  versions: RestVersionIR[];
  /** The model's shadow, when its version serves REST. */
  shadow?: ShadowIR;
  /** As ModelIR.versionsDown, for REST: weighted versions with a REST node but none up. */
  versionsDown?: string[];
}

export interface RestVersionIR extends VersionRouteIR {
  /**
   * The version as its nodes name it in the path they serve (`serverVersion`, by default the
   * version's own name): `/v2/models/<model>/versions/<pathVersion>/...`; "" for a server's
   * unversioned model, `/v2/models/<model>/...`.
   */
  pathVersion: string;
}

export interface VersionRouteIR {
  version: string;
  /**
   * Percent of unpinned calls. Weights of a model sum to exactly 100: grpc-js picks against 100.
   * The configured weight, or the pin's 100, moved off versions that are down (versionsDown).
   */
  weight: number;
  /** The cluster serving this version (ClusterIR.name). */
  cluster: string;
  /** In ModelIR.versions: every node of the version speaks REST only, so gRPC calls cannot reach it. */
  restOnly?: true;
}

export interface ShadowIR {
  version: string;
  /** The cluster receiving the copies (ClusterIR.name). */
  cluster: string;
  /** Percent of the model's calls copied, 0 to 100. */
  percent: number;
}

export interface RetryIR {
  /** Retries after the first try (Envoy's num_retries), at least 1. */
  numRetries: number;
  /** Longest one try may take. */
  perTryTimeoutMs: number;
  /** Failures that trigger a retry, in config order (Envoy's retry_on). */
  retryOn: RetryOn[];
  /** A try past its timeout is not cancelled: another node gets the call too, first answer wins. */
  hedgeOnPerTryTimeout: boolean;
  /** Host picks per retry that try to avoid nodes this call already failed on (previous_hosts). */
  hostSelectionRetryMaxAttempts: number;
}

export interface ClusterIR {
  /**
   * Set when a node of this version reads the version from the request body (`versionFrom: body`):
   * what Envoy writes into model_version of unary model calls ("" = none: the server's default).
   */
  bodyVersion?: string;
  /**
   * `<model>~<version>` for gRPC, `<model>~<version>~rest` for REST: `~` cannot occur in either
   * name, so names never collide.
   */
  name: string;
  /** What the nodes speak: gRPC over HTTP/2, or the REST/JSON form over HTTP/1.1 (Envoy only). */
  protocol: "grpc" | "rest";
  /**
   * A REST cluster of a version that is some model's shadow: shadow copies carry the path the
   * route wrote for the primary version, so the cluster writes this one (the nodes' name for the
   * version, "" for none) into every path.
   */
  restPathVersion?: string;
  model: string;
  version: string;
  /** Longest Envoy waits for a TCP connection to a node. */
  connectTimeoutMs: number;
  /** Limits on concurrent connections, queued calls, calls and retries (per Envoy). */
  circuitBreaker: CircuitBreakerSettings;
  /** Passive ejection of failing nodes; durations in milliseconds. */
  outlierDetection: OutlierDetectionSettings;
  /** Percent of healthy hosts below which Envoy ignores health; 0 = never. */
  panicThreshold: number;
  /** The nodes serving this version, sorted by priority, then node name. */
  endpoints: EndpointIR[];
}

export interface EndpointIR {
  /** Node name (shown as the endpoint's hostname in Envoy's admin pages). */
  node: string;
  /** IP address, without brackets. */
  host: string;
  port: number;
  /**
   * The node's port for this version alone (nodes[].versionPorts), where proxyless clients go:
   * they send no version header, so the port says which version their split chose.
   */
  proxylessPort?: number;
  /** Pool name; one locality per pool. */
  pool: string;
  /**
   * Index of the pool among the pools present in THIS cluster, in the configured pool order:
   * 0, 1, 2 ... without gaps (grpc-js rejects a gap; Envoy would skip it).
   */
  priority: number;
  /** DRAINING when the node is marked `drain: true`, otherwise what the health view says. */
  health: HealthStatus;
}
