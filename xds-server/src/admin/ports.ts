/**
 * What the admin operations need from the running control plane, declared here so that admin/
 * depends on nothing above it (#14): the runner's ConfigFile and its status function satisfy
 * these structurally, and the runner, which wires admin in, is the only one that knows both.
 */
import type { Config } from "@inferencehub/contracts/config";
import type { Rollout, StartRolloutRequest } from "../../../gen/inference/inferencehub/admin/v1/admin.js";

/** What one edit touches: one entry of the config's `models` or `nodes` list, by name. */
export interface EditScope {
  list: "models" | "nodes";
  name: string;
}

export interface ConfigEditRequest {
  scope: EditScope;
  /** The config version the caller read (ListModels' and GetModel's config_version). */
  baseVersion: string;
  /**
   * The edit itself, on YAML text whose `models` or `nodes` list holds the scope's entry (the
   * whole file, or a document of that entry alone): returns the new text, the same text when
   * nothing changes. Throws a GatewayError to refuse.
   */
  change(text: string): string;
}

export interface ConfigEditResult {
  status: "applied" | "unchanged";
  /** The config serving once the edit is done, and before it. */
  config: Config;
  previous: Config;
  /** The config version serving now: what the next edit names as its base. */
  version: string;
}

/**
 * Where the admin API reads and edits the config: the file (source/config-file.ts) or etcd
 * (source/etcd-store.ts). Each checks the base version its own way and refuses a stale one with
 * ABORTED, an invalid result with INVALID_ARGUMENT naming the fields, a store it cannot reach
 * with UNAVAILABLE; the config serving is then as it was.
 */
export interface AdminConfigStore {
  /** Where the config lives, for messages: the file's path, or etcd's endpoints and prefix. */
  readonly location: string;
  /** The version of the config now serving: the file's content hash, or an etcd revision. */
  readonly version: string;
  /** The config now serving (undefined before the first valid load). */
  readonly current: Config | undefined;
  /** One edit as one transaction: it serves and is stored when this resolves. */
  edit(request: ConfigEditRequest): Promise<ConfigEditResult>;
}

/** One xDS client as the admin status shows it. */
export interface AdminClientStatus {
  nodeId: string;
  group: string;
  transport: string;
  /** The snapshot version this client holds in full, or "" while it catches up. */
  syncedVersion: string;
  nacks: readonly { kind: string; version: string; message: string; at: string }[];
}

/** The part of the control plane's status the admin API reads (the runner's ControlPlaneStatus). */
export interface AdminStatus {
  /** The version of the config now serving (AdminConfigStore.version). */
  configVersion: string;
  /** Errors of the last refused edit, if the file on disk is not what serves. */
  refusedEdit: readonly { path: string; message: string }[];
  /** group → snapshot version. */
  snapshots: Partial<Record<string, string>>;
  clients: readonly AdminClientStatus[];
  /** node → "model/version" → HEALTHY, UNHEALTHY, DRAINING or UNKNOWN, when probing. */
  health?: Record<string, Record<string, string>> | undefined;
  /** Who authorizes calls and holds the rate limits (the runner's AuthStatus). */
  auth?: { mode: string; rateLimits: string; verifiedByEnvoy: readonly string[]; keys: number } | undefined;
  /** Placed versions and the nodes' repositories (the fleet stage's FleetStatus). */
  fleet?: AdminFleet;
}

/** What the reconciler reports, as GetFleet shows it (fleet/reconciler.ts FleetStatus). */
export interface AdminFleet {
  versions: readonly {
    model: string;
    version: string;
    replicas: number | "all";
    assigned: readonly string[];
    unplaced?: string;
    nodes: readonly { node: string; state: string; since?: string; reason?: string; retryAt?: string }[];
  }[];
  nodes: readonly {
    node: string;
    reachable: boolean | undefined;
    error?: string;
    capacity?: { models: number; maxModels?: number; memoryBytes?: number };
    loaded: readonly string[];
  }[];
}

/**
 * The rollouts the control plane drives (rollout/driver.ts): the admin API starts, reads and
 * aborts them; the driver steps them on its own, with no client connected.
 */
export interface AdminRollouts {
  /** FAILED_PRECONDITION when the model has a live rollout, naming it. */
  start(request: StartRolloutRequest, who: string): Promise<Rollout>;
  /** NOT_FOUND when the model has had no rollout. */
  get(model: string): Rollout;
  list(): Rollout[];
  /** Weights back to where they were before the rollout; FAILED_PRECONDITION when none is live. */
  abort(model: string, who: string): Promise<Rollout>;
}
