/**
 * The API keys file: key ids, tenants and SHA-256 hashes, never a key. ext-authz looks a presented
 * key up by its hash; hubctl (keys issue, revoke) edits the file. A key is either
 * 256 random bits behind `ihk_` (generateApiKey) or a token the gateway signs
 * (@inferencehub/contracts/signed-keys); either way its entry holds the hash of the whole string.
 * A plain hash is enough: a slow hash (scrypt, argon2) protects guessable passwords and would cost
 * milliseconds on every call. Looking a hash up in a map leaks nothing useful through timing:
 * finding a key from its hash is as hard as guessing the key. Revoking a key is removing its entry.
 *
 *   keys:
 *     - { id: acme-ci, tenant: acme, sha256: 5e884898..., note: "CI runner" }
 */
import { createHash, randomBytes } from "node:crypto";
import { parseDocument } from "yaml";

export interface ApiKeyEntry {
  /** Names the key in logs, metrics and the x-inferencehub-principal header; never the key itself. */
  id: string;
  tenant: string;
  /** Lowercase hex SHA-256 of the key's UTF-8 bytes. */
  sha256: string;
}

export type KeysFileResult =
  | {
      ok: true;
      entries: ApiKeyEntry[];
      /** Entries left out, each with why: a bad entry fails closed (its key does not work). */
      problems: string[];
    }
  | { ok: false; errors: string[] };

/** A new key: `ihk_` and 32 random bytes, base64url. */
export function generateApiKey(): string {
  return `ihk_${randomBytes(32).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** What a key id may be: it goes into logs, metrics, headers and a signed key's `sub`. */
export const apiKeyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
/** A tenant name, as inferencehub.yaml's auth.tenants[].name. */
export const apiKeyTenantPattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const sha256Pattern = /^[0-9a-f]{64}$/;
const entryFields = new Set(["id", "tenant", "sha256", "note"]);

/**
 * Never throws. A file that is not YAML or has no `keys` list is refused whole (the caller keeps
 * the keys it had); a bad entry is left out, so a typo revokes one key rather than keeping a
 * revoked one alive.
 */
export function parseKeysFile(text: string): KeysFileResult {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    return { ok: false, errors: doc.errors.map((e) => e.message.split("\n")[0] ?? "") };
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!isRecord(value) || !Array.isArray(value.keys)) {
    return { ok: false, errors: ["expected a mapping with a `keys` list (keys: [{ id, tenant, sha256 }])"] };
  }
  const problems: string[] = [];
  const parsed: { entry: ApiKeyEntry; at: string }[] = [];
  value.keys.forEach((raw: unknown, i: number) => {
    const at = `keys[${i}]`;
    const problem = entryProblem(raw);
    if (problem) problems.push(`${at}: ${problem}; left out`);
    else if (isRecord(raw)) {
      const entry = {
        id: String(raw.id),
        tenant: String(raw.tenant),
        sha256: String(raw.sha256).toLowerCase(),
      };
      parsed.push({ entry, at });
    }
  });
  const entries: ApiKeyEntry[] = [];
  const ids = new Map<string, string>();
  const hashCount = new Map<string, number>();
  for (const { entry } of parsed) hashCount.set(entry.sha256, (hashCount.get(entry.sha256) ?? 0) + 1);
  for (const { entry, at } of parsed) {
    const firstId = ids.get(entry.id);
    if (firstId !== undefined) {
      problems.push(`${at}: duplicate id '${entry.id}' (also ${firstId}); left out`);
      continue;
    }
    ids.set(entry.id, at);
    if ((hashCount.get(entry.sha256) ?? 0) > 1) {
      problems.push(`${at}: the same key hash is listed more than once; every entry with it is left out`);
      continue;
    }
    entries.push(entry);
  }
  return { ok: true, entries, problems };
}

function entryProblem(raw: unknown): string | undefined {
  if (!isRecord(raw)) return "must be a mapping { id, tenant, sha256 }";
  const unknown = Object.keys(raw).filter((k) => !entryFields.has(k));
  if (unknown.length > 0) return `unknown field ${unknown.join(", ")} (expected id, tenant, sha256, note)`;
  if (typeof raw.id !== "string" || !apiKeyIdPattern.test(raw.id)) {
    return "id must be 1 to 64 letters, digits, '.', '_' or '-'";
  }
  if (typeof raw.tenant !== "string" || !apiKeyTenantPattern.test(raw.tenant))
    return "tenant must be a tenant name";
  if (typeof raw.sha256 !== "string" || !sha256Pattern.test(raw.sha256.toLowerCase())) {
    return "sha256 must be 64 hex digits: the SHA-256 of the key, never the key itself";
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
