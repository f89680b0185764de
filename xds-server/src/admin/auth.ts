/**
 * Admin API tokens. Only hashes are kept: a tokens file lists `{ name, sha256 }` entries (the
 * name is what the audit log records), or one token comes from the environment for the local
 * stack. With no token configured the admin API refuses everything: it fails closed.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { parse } from "yaml";
import { GatewayError } from "@inferencehub/contracts/errors";

interface TokenEntry {
  name: string;
  sha256: Buffer;
}

export const sha256 = (text: string): Buffer => createHash("sha256").update(text).digest();

export class AdminAuth {
  constructor(private readonly tokens: readonly TokenEntry[]) {}

  static fromSources(opts: { tokensFile?: string | undefined; envToken?: string | undefined }): AdminAuth {
    const tokens: TokenEntry[] = [];
    if (opts.envToken) tokens.push({ name: "admin", sha256: sha256(opts.envToken) });
    if (opts.tokensFile) {
      const entries = parse(readFileSync(opts.tokensFile, "utf8")) as
        { name?: string; sha256?: string }[] | null;
      for (const [i, e] of (entries ?? []).entries()) {
        if (!e.name || !/^[0-9a-f]{64}$/.test(e.sha256 ?? "")) {
          throw new Error(
            `${opts.tokensFile}: entry ${i} needs a name and a sha256 (64 hex digits) of the token`,
          );
        }
        tokens.push({ name: e.name, sha256: Buffer.from(e.sha256!, "hex") });
      }
    }
    return new AdminAuth(tokens);
  }

  get configured(): boolean {
    return this.tokens.length > 0;
  }

  /** The caller's name for the audit log, from `authorization: Bearer <token>`; throws UNAUTHENTICATED. */
  check(authorization: readonly string[]): string {
    if (!this.configured) {
      throw new GatewayError(
        status.UNAUTHENTICATED,
        "the admin API has no token configured: start xds-server with INFERENCEHUB_ADMIN_TOKEN or --admin-tokens-file",
      );
    }
    // More than one authorization value is refused, not guessed at.
    const bearer =
      authorization.length === 1 ? /^Bearer (\S+)$/.exec(authorization[0] ?? "")?.[1] : undefined;
    if (!bearer)
      throw new GatewayError(
        status.UNAUTHENTICATED,
        "send the admin token as 'authorization: Bearer <token>'",
      );
    const digest = sha256(bearer);
    const match = this.tokens.find((t) => timingSafeEqual(t.sha256, digest));
    if (!match) throw new GatewayError(status.UNAUTHENTICATED, "the admin token is not valid");
    return match.name;
  }
}
