/**
 * What the admin operations need from the running control plane, declared here so that admin/
 * depends on nothing above it (#14): the runner's ConfigFile and its status function satisfy
 * these structurally, and the runner, which wires admin in, is the only one that knows both.
 */
import type { Config } from "@inferencehub/contracts/config";

/** What an edit plan sees: the file as it is on disk, and what serves. */
export interface ConfigEditBase {
  text: string;
  /** The content hash of `text`. */
  hash: string;
  /** The config serving, and its content hash (`hash` differs when the file holds unapplied changes). */
  current: Config;
  currentHash: string;
}

/** The text to write and the config it parses to; undefined: nothing to change. */
export type ConfigEditPlan = { text: string; config: Config } | undefined;

export type ConfigEditResult =
  { status: "applied"; config: Config; hash: string } | { status: "unchanged"; config: Config; hash: string };

/** The config file the admin API reads and edits (the runner's ConfigFile). */
export interface AdminConfigFile {
  /** The file's absolute path, for messages. */
  readonly path: string;
  /** The hash of the file content now serving. */
  readonly hash: string;
  /** The config now serving (undefined before the first valid load). */
  readonly current: Config | undefined;
  /**
   * One edit of the file as a transaction: `plan` gets the file and what serves, throws to
   * refuse, and returns the new text with its config, or undefined when nothing changes.
   */
  edit(plan: (base: ConfigEditBase) => ConfigEditPlan | Promise<ConfigEditPlan>): Promise<ConfigEditResult>;
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
  /** Hash of the config file content now serving. */
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
}
