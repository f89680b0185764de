/**
 * Where the config comes from: inferencehub.yaml on disk (read, validated, watched and edited as
 * one queue of transactions), or etcd, shared by every replica (one key per model, a watch, and
 * compare-and-swap edits). Both are a ConfigStore; admin/ports.ts's AdminConfigStore says what
 * the admin API needs of one.
 */
import type { ConfigError } from "@inferencehub/contracts/config";
import type { AdminConfigStore } from "../admin/index.js";
export { AuthFilesSource, usableJwks } from "./auth-files.js";
export type { AuthFilesOptions, JwksCheck } from "./auth-files.js";
export { ConfigFile } from "./config-file.js";
export type { ConfigFileOptions, EditBase, EditPlan, EditResult, LoadResult } from "./config-file.js";
export { EtcdConfigStore } from "./etcd-store.js";
export type { EtcdStoreOptions } from "./etcd-store.js";
export { EtcdCoordination } from "./etcd-coordination.js";
export type { EtcdCoordinationOptions } from "./etcd-coordination.js";

/** A config store as the runner uses it: read and serving once opened, then followed. */
export interface ConfigStore extends AdminConfigStore {
  readonly kind: "file" | "etcd";
  /** Why what is stored is not serving (a refused edit); empty when it is. */
  readonly lastErrors: readonly ConfigError[];
  close(): Promise<void> | void;
}
