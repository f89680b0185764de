/**
 * The prober's vocabulary: what one probe returns, the transport that makes probes (gRPC in
 * production, a fake in unit tests), the table the IR builder reads, and the admin snapshot.
 */
import type { HealthStatus, HealthView } from "../ir/index.js";

/** The probes made each round, as they appear in metric labels. */
export type ProbeKind = "health_check" | "server_ready" | "model_ready";

/**
 * The outcome of one probe RPC: the answer, or the gRPC status code it failed with (numeric,
 * `@grpc/grpc-js` `status`). A transport resolves with this and never rejects.
 */
export type ProbeResult<T> = { ok: true; value: T } | { ok: false; code: number; message: string };

/** grpc.health.v1 `HealthCheckResponse.ServingStatus`. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/** The probes against one node, over one connection that stays open between rounds. */
export interface NodeConnection {
  /** grpc.health.v1 Health/Check for service "" (the whole server). */
  healthCheck(timeoutMs: number): Promise<ProbeResult<ServingStatus>>;
  /** Open Inference Protocol ServerReady. */
  serverReady(timeoutMs: number): Promise<ProbeResult<boolean>>;
  /** Open Inference Protocol ModelReady for one version. */
  modelReady(model: string, version: string, timeoutMs: number): Promise<ProbeResult<boolean>>;
  /** Closes the connection; probes already made still resolve. */
  close(): void;
}

export interface ConnectTarget {
  node: string;
  /** `ip:port`, IPv6 in brackets. */
  address: string;
  /** What the node speaks at `address`: the transport to probe it with. */
  protocol: "grpc" | "rest";
  /** The node's probe interval: a transport may bound its reconnect backoff by it. */
  intervalMs: number;
}

/** Opens connections to nodes. Each call returns a new connection; the prober keeps one per node. */
export interface ProbeTransport {
  connect(target: ConnectTarget): NodeConnection;
}

/** One (node, model, version) whose status changed since the last emission. */
export interface HealthChange {
  node: string;
  model: string;
  version: string;
  /** The status in the previous emission (UNKNOWN if it was never emitted). */
  from: HealthStatus;
  to: HealthStatus;
}

export interface HealthChangeEvent {
  /** Net changes since the previous emission, sorted by node, model, version. */
  changes: readonly HealthChange[];
  /** The statuses as of this emission. */
  view: HealthView;
}

export type HealthListener = (event: HealthChangeEvent) => void;

/** What the rest of the control plane reads: the current statuses and a coalesced change feed. */
export interface HealthTable {
  /**
   * A frozen copy of the statuses now: later probes do not change a view already taken, so one
   * IR build sees one consistent table. Anything not probed yet is UNKNOWN.
   */
  view(): HealthView;
  /** Calls `listener` on each coalesced emission; returns the unsubscribe function. */
  subscribe(listener: HealthListener): () => void;
}

/** One model version on one node, as the admin /status shows it. */
export interface ModelHealthSnapshot {
  status: HealthStatus;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Why the last probe of this version failed; null after a success or before any probe. */
  lastError: string | null;
}

/** One node, as the admin /status shows it. JSON-serialisable. */
export interface NodeHealthSnapshot {
  address: string;
  /** Whether the last round got any answer from the node; null before the first round. */
  reachable: boolean | null;
  /** SERVING and ready (true), NOT_SERVING or not ready (false), unknown (null). */
  serving: boolean | null;
  /** ISO 8601 time the last round finished; null before the first round. */
  lastProbeAt: string | null;
  /** The node-level problem of the last round; null when it had none. */
  lastError: string | null;
  /** Keyed `<model>/<version>`. */
  models: Record<string, ModelHealthSnapshot>;
}

/** Keyed by node name. */
export type HealthSnapshot = Record<string, NodeHealthSnapshot>;
