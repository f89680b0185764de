/**
 * The admin API's HTTP/JSON front (xds-server/README.md, "Admin API"), as its clients see it: the
 * JSON of its answers and errors. The gRPC form is proto/inferencehub/admin/v1/admin.proto; the
 * JSON is that message's canonical JSON, in which fields at their default are left out.
 */

/** One version of a model, with its routing weight and the nodes that serve it. */
export interface AdminApiVersion {
  version: string;
  weight: number;
  /** As written; a placed version has none (GET /v1/fleet says where it is loaded). */
  nodes: string[];
  /** Where the control plane loads it itself; fields at their default are left out. */
  placement?: { pools?: string[]; replicas?: number; allNodes?: boolean; labels?: Record<string, string> };
}

/** GET /v1/fleet: placed versions, their state on each node, and the nodes' repositories. */
export interface AdminApiFleet {
  configVersion: string;
  versions?: {
    model: string;
    version: string;
    /** A number, or "all". */
    replicas: string;
    assigned?: string[];
    /** Why fewer nodes than its replicas are chosen, when they are. */
    unplaced?: string;
    /** state: waiting, loading, ready, failed, draining or unloading. */
    nodes?: { node: string; state: string; since?: string; reason?: string; retryAt?: string }[];
  }[];
  nodes?: {
    node: string;
    /** up, down or unknown. */
    repository: string;
    error?: string;
    models?: number;
    maxModels?: number;
    memoryBytes?: string;
    loaded?: string[];
  }[];
}

/** GET /v1/models/{model}, and each entry of GET /v1/models. */
export interface AdminApiModel {
  name: string;
  versions: AdminApiVersion[];
  pinned?: string;
  shadow?: { version: string; percent: number };
}

/** GET /v1/status. */
export interface AdminApiStatus {
  configVersion: string;
  snapshotVersions?: Record<string, string>;
  clients?: {
    nodeId: string;
    group: string;
    transport: string;
    inSync?: boolean;
    syncedVersion?: string;
    nacks?: { kind: string; message: string; at: string }[];
  }[];
  nodes?: { node: string; address: string; models?: Record<string, string>; draining?: boolean }[];
  refusedEdit?: string[];
  /** Who authorizes calls and holds the tenants' rate limits; absent without an auth section. */
  auth?: { mode: string; rateLimits: string; verifiedByEnvoy?: string[]; keys?: number };
}

/**
 * GET /v1/rollouts/{model} (`rollout`), and each entry of GET /v1/rollouts (`rollouts`): a rollout
 * the control plane drives. state: waiting-ready, running, holding (live); completed,
 * rolled-back, aborted, failed (ended). step: the number of the step applied (1 to steps.length),
 * left out (0) before the first.
 */
export interface AdminApiRollout {
  model: string;
  toVersion: string;
  steps: number[];
  intervalMs: number;
  maxErrorRate?: number;
  maxP99Ms?: number;
  minCalls?: number;
  removeOld?: boolean;
  readyTimeoutMs?: number;
  maxHoldMs?: number;
  state: string;
  step?: number;
  originalWeights?: Record<string, number>;
  weights?: Record<string, number>;
  reason?: string;
  startedAt?: string;
  stepStartedAt?: string;
  endedAt?: string;
  startedBy?: string;
  events?: { at: string; kind: string; message: string }[];
}

/** The states in which a rollout has ended. */
export const ROLLOUT_ENDED_STATES: readonly string[] = ["completed", "rolled-back", "aborted", "failed"];

/** Every answer that is not 2xx. */
export interface AdminApiErrorBody {
  error: string;
  /** The gRPC status name, when the operation ran (NOT_FOUND, FAILED_PRECONDITION, ...). */
  code?: string;
  /** A refused edit: each field that is wrong, by its path in the request or the config. */
  violations?: { field: string; message: string }[];
}

/**
 * Scales `weights` to add up to `total` with whole numbers (largest remainder), so a version
 * that comes or goes leaves the others in the same proportions.
 */
export function rescale(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0) return [];
  const raw =
    sum === 0 ? weights.map((_, i) => (i === 0 ? total : 0)) : weights.map((w) => (w * total) / sum);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    left--;
  }
  return out;
}
