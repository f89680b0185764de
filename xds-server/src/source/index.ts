/**
 * Where the config comes from: inferencehub.yaml on disk today, read, validated, watched and
 * edited as one queue of transactions. A store shared by replicas (etcd) goes here next, behind
 * the same interface (admin/ports.ts's AdminConfigFile says what the admin API needs of it).
 */
export { AuthFilesSource, usableJwks } from "./auth-files.js";
export type { AuthFilesOptions, JwksCheck } from "./auth-files.js";
export { ConfigFile } from "./config-file.js";
export type { ConfigFileOptions, EditBase, EditPlan, EditResult, LoadResult } from "./config-file.js";
