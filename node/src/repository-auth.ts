/**
 * Repository calls (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload) change or reveal
 * what a node serves, so they are for operators only: each must carry the operator token in the
 * `x-inferencehub-repository-token` metadata. Behind the gateway, ext-authz sets that header for
 * operator tenants (and Envoy strips any x-inferencehub-* a client sends); a direct caller sets it
 * itself. A node started without a token refuses every repository call: fail closed.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { status, type Metadata } from "@grpc/grpc-js";
import { repositoryTokenHeader } from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";

/** The metadata a repository call carries its token in; ext-authz sets it (contracts/src/headers.ts). */
export const REPOSITORY_TOKEN_HEADER = repositoryTokenHeader;
/** The environment variable a node (and ext-authz) reads the token from when no file is given. */
export const REPOSITORY_TOKEN_ENV = "INFERENCEHUB_REPOSITORY_TOKEN";

export const DENIED_MESSAGE = `repository calls need the operator token (${REPOSITORY_TOKEN_HEADER})`;
export const DISABLED_MESSAGE =
  "repository calls are disabled on this node: start it with --repository-token-file <path> " +
  `(or ${REPOSITORY_TOKEN_ENV}) and send that token in ${REPOSITORY_TOKEN_HEADER}`;

/** A token as read from a file or the environment: surrounding whitespace (a final newline) is not part of it. */
export function parseRepositoryToken(raw: string, source: string): string {
  const token = raw.trim();
  if (token === "") throw new Error(`${source} holds no repository token (it is empty)`);
  if (/[^\x21-\x7e]/.test(token)) {
    throw new Error(
      `${source}: a repository token is printable ASCII without spaces (it travels as gRPC metadata)`,
    );
  }
  return token;
}

/**
 * The token a node uses: from --repository-token-file when given, else from the environment,
 * else none (repository calls refused). Throws with the source named when the one given is unusable.
 */
export function loadRepositoryToken(opts: {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
}): string | undefined {
  if (opts.file !== undefined) {
    let raw: string;
    try {
      raw = readFileSync(opts.file, "utf8");
    } catch (err) {
      throw new Error(
        `--repository-token-file ${opts.file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return parseRepositoryToken(raw, `--repository-token-file ${opts.file}`);
  }
  const fromEnv = (opts.env ?? process.env)[REPOSITORY_TOKEN_ENV];
  if (fromEnv === undefined || fromEnv === "") return undefined;
  return parseRepositoryToken(fromEnv, REPOSITORY_TOKEN_ENV);
}

const digest = (value: string | Buffer): Buffer => createHash("sha256").update(value).digest();

/**
 * A checker for one configured token (or none). Both sides are hashed first, so the comparison
 * is timingSafeEqual on two 32-byte digests and reveals neither the token's content nor its length.
 */
export function repositoryGuard(token: string | undefined): (metadata: Metadata) => void {
  const expected = token === undefined ? undefined : digest(token);
  return (metadata) => {
    if (expected === undefined) throw new GatewayError(status.FAILED_PRECONDITION, DISABLED_MESSAGE);
    const sent = metadata.get(REPOSITORY_TOKEN_HEADER);
    // Exactly one value: a second one could be a client's, appended to the gateway's.
    const only = sent.length === 1 ? sent[0] : undefined;
    const ok = only !== undefined && timingSafeEqual(digest(only), expected);
    if (!ok) throw new GatewayError(status.PERMISSION_DENIED, DENIED_MESSAGE);
  };
}
