/**
 * The key store: a presented API key (random `ihk_` or gateway-signed) looked up by its hash. The
 * keys file's format, hashing and key generation live in @inferencehub/contracts/api-keys (hubctl
 * writes the same file); they are re-exported here for ext-authz's callers.
 */
import { hashApiKey, type ApiKeyEntry } from "@inferencehub/contracts/api-keys";

export { generateApiKey, hashApiKey, parseKeysFile } from "@inferencehub/contracts/api-keys";
export type { ApiKeyEntry, KeysFileResult } from "@inferencehub/contracts/api-keys";

export interface KeyStore {
  /** The entry for a presented key, or undefined. */
  lookup(key: string): ApiKeyEntry | undefined;
  readonly size: number;
}

export function createKeyStore(entries: readonly ApiKeyEntry[]): KeyStore {
  const byHash = new Map(entries.map((entry) => [entry.sha256, entry]));
  return { lookup: (key) => byHash.get(hashApiKey(key)), size: byHash.size };
}
