/**
 * The file as written, once the schema has accepted it: what normalize() reads and format()
 * writes. Field by field the same as schema/inferencehub.schema.json.
 */
import type { RetryOn } from "./types.js";

export interface RawConfig {
  listener?: RawListener;
  pools?: string[];
  defaults?: RawSettings;
  nodes?: RawNode[];
  models?: RawModel[];
  auth?: RawAuth;
  controlPlane?: { address: string };
  fleet?: RawFleet;
}

/** The reconciler's timings, as durations. */
export interface RawFleet {
  loadTimeout?: string;
  drain?: string;
  retryBackoff?: string;
  maxRetryBackoff?: string;
  syncInterval?: string;
}

export interface RawListener {
  address?: string;
  port?: number;
  maxConcurrentStreams?: number;
  initialStreamWindowSize?: number;
  initialConnectionWindowSize?: number;
  idleTimeout?: string;
  streamIdleTimeout?: string;
  requestHeadersTimeout?: string;
  maxRequestHeadersKb?: number;
  maxRequestBodyBytes?: number;
  accessLog?: boolean;
}

export interface RawNode {
  name: string;
  address: string;
  pool?: string;
  drain?: boolean;
  restPort?: number;
  protocol?: "grpc" | "rest";
  versionFrom?: "header" | "body";
  versionPorts?: RawVersionPort[];
  labels?: Record<string, string>;
}

export interface RawVersionPort {
  model: string;
  version: string | number;
  port: number;
}

export interface RawSettings {
  timeout?: string;
  connectTimeout?: string;
  expectedLatency?: string;
  retry?: { attempts?: number; perTryTimeout?: string; on?: RetryOn[]; hedge?: boolean };
  circuitBreaker?: {
    maxConnections?: number;
    maxPendingRequests?: number;
    maxRequests?: number;
    maxRetries?: number;
  };
  outlierDetection?: {
    consecutive5xx?: number;
    consecutiveGatewayFailure?: number;
    consecutiveLocalOriginFailure?: number;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
  };
  panicThreshold?: number;
  versionFailover?: "share" | "none";
  health?: {
    interval?: string;
    timeout?: string;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
    jitter?: number;
  };
}

export interface RawVersion {
  version: string | number;
  serverVersion?: string | number;
  weight?: number;
  /** Exactly one of nodes and placement is written. */
  nodes?: string[];
  placement?: RawPlacement;
}

/** `pool` or `pools` (not both); none = every pool. */
export interface RawPlacement {
  pool?: string;
  pools?: string[];
  replicas?: number | "all";
  labels?: Record<string, string>;
}

export interface RawModel extends RawSettings {
  name: string;
  versions: RawVersion[];
  shadow?: { version: string | number; percent: number };
  pin?: string | number;
}

export interface RawAuth {
  mode?: string;
  extAuthz: { address: string; timeout?: string; failOpen?: boolean };
  apiKeys?: { jwksFile: string; issuer?: string };
  rateLimitService?: { address: string; timeout?: string; failOpen?: boolean };
  keysFile?: string;
  jwt?: {
    jwksFile?: string;
    jwksUrl?: string;
    issuer: string;
    audience: string;
    tenantClaim?: string;
    clockSkew?: string;
    jwksCacheTtl?: string;
  };
  tenants: RawTenant[];
}

/** A model name (or "*"), or a model with the versions allowed. */
export type RawModelGrant =
  | string
  | { name: string; versions?: (string | number)[]; rateLimit?: { callsPerSecond: number; burst?: number } };

export interface RawTenant {
  name: string;
  models: RawModelGrant[];
  rateLimit?: { callsPerSecond: number; burst?: number };
  repository?: boolean;
}
