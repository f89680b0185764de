import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root (where proto/ lives), whatever the working directory of the process: two
 * folders above this file's (xds-server/src). xds-server finds its own files without scripts/.
 */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The .proto sources (proto/inferencehub/admin/v1/admin.proto holds the admin API's PGV rules). */
export const protoDir = join(repoRoot, "proto");
