/**
 * Repository calls (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload) change or reveal
 * what a node serves, so they are for operators only: each must carry the operator token in the
 * `x-inferencehub-repository-token` metadata. Behind the gateway, ext-authz sets that header for
 * operator tenants (and Envoy strips any x-inferencehub-* a client sends); a direct caller sets it
 * itself. A node started without a token refuses every repository call: fail closed.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { status, type Metadata } from "@grpc/grpc-js";
import { repositoryTokenHeader } from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";

/** The metadata a repository call carries its token in; ext-authz sets it (contracts/src/headers.ts). */
export const REPOSITORY_TOKEN_HEADER = repositoryTokenHeader;
import { REPOSITORY_TOKEN_ENV } from "@inferencehub/contracts/repository-token";

// Read as ext-authz and the control plane read it (contracts/src/repository-token.ts).
export {
  REPOSITORY_TOKEN_ENV,
  loadRepositoryToken,
  parseRepositoryToken,
} from "@inferencehub/contracts/repository-token";

export const DENIED_MESSAGE = `repository calls need the operator token (${REPOSITORY_TOKEN_HEADER})`;
export const DISABLED_MESSAGE =
  "repository calls are disabled on this node: start it with --repository-token-file <path> " +
  `(or ${REPOSITORY_TOKEN_ENV}) and send that token in ${REPOSITORY_TOKEN_HEADER}`;

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
