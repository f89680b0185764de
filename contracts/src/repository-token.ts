/**
 * The nodes' repository token (SECURITY.md): read the same way by the nodes, ext-authz and the
 * control plane (which loads and unloads placed versions with it), so one secret fits all three.
 */
import { readFileSync } from "node:fs";

/** The environment variable the token is read from when no file is given. */
export const REPOSITORY_TOKEN_ENV = "INFERENCEHUB_REPOSITORY_TOKEN";

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
 * The token: from --repository-token-file when given, else from the environment, else none.
 * Throws with the source named when the one given is unusable.
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
