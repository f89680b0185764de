/**
 * The files inferencehub.yaml's auth section names, as far as Envoy needs them in native mode: the
 * keys file's ids and tenants (never its hashes), and the public JWKS documents. Read beside the
 * config, watched like it, and checked before Envoy sees them: Envoy refuses a listener whose JWKS
 * it cannot parse, so a JWKS with no usable key leaves its provider out (its tokens then go to
 * ext-authz, which refuses them saying why) instead of failing the whole push. A JWK holding
 * private key material is never passed on.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { importJWK } from "jose";
import type { Logger } from "pino";
import { parseKeysFile } from "@inferencehub/contracts/api-keys";
import type { AuthConfig } from "@inferencehub/contracts/config";
import { watchFile, type FileWatch } from "@inferencehub/contracts/file-watch";
import { noAuthFiles, type AuthFiles } from "../ir/index.js";

const watchRetryMs = 1_000;

/** JWK members that only a private key has (RFC 7518 section 6). */
const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/** What Envoy's jwt_authn verifies with: RSA, EC and Ed25519 public keys. */
const publicKeyTypes = new Set(["RSA", "EC", "OKP"]);

export type JwksCheck = { ok: true; json: string; dropped: string[] } | { ok: false; error: string };

/**
 * The keys of a JWKS document that Envoy can verify with, as compact JSON. Never throws: a
 * document that is not JSON, or has no usable key, is refused with why.
 */
export async function usableJwks(text: string): Promise<JwksCheck> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const keys = isRecord(doc) && Array.isArray(doc.keys) ? doc.keys : undefined;
  if (!keys) return { ok: false, error: 'expected a JWKS document: { "keys": [ ... ] }' };
  const usable: Record<string, unknown>[] = [];
  const dropped: string[] = [];
  for (const [i, key] of keys.entries()) {
    const problem = await keyProblem(key);
    if (problem) dropped.push(`keys[${i}]: ${problem}`);
    else usable.push(key as Record<string, unknown>);
  }
  if (usable.length === 0) return { ok: false, error: `no usable public key (${dropped.join("; ")})` };
  return { ok: true, json: JSON.stringify({ keys: usable }), dropped };
}

async function keyProblem(key: unknown): Promise<string | undefined> {
  if (!isRecord(key)) return "not a JWK object";
  const kty = typeof key.kty === "string" ? key.kty : "";
  if (!publicKeyTypes.has(kty)) return `kty '${kty}' is not RSA, EC or OKP`;
  const secret = privateMembers.filter((m) => m in key);
  if (secret.length > 0) {
    return `holds private key material (${secret.join(", ")}): publish only the public half, and replace this key, since the file may have been read`;
  }
  try {
    await importJWK(
      key as Parameters<typeof importJWK>[0],
      typeof key.alg === "string" ? key.alg : defaultAlg(key),
    );
    return undefined;
  } catch (err) {
    return `not a usable key: ${(err as Error).message}`;
  }
}

function defaultAlg(key: Record<string, unknown>): string {
  if (key.kty === "RSA") return "RS256";
  if (key.kty === "OKP") return "EdDSA";
  return key.crv === "P-384" ? "ES384" : key.crv === "P-521" ? "ES512" : "ES256";
}

export interface AuthFilesOptions {
  /** inferencehub.yaml: the auth section's paths are relative to its folder. */
  configPath: string;
  log: Logger;
  /** Called when a watched file changes what Envoy gets. */
  onChange: (files: AuthFiles) => void;
  debounceMs?: number;
}

/**
 * Reads and follows the auth section's files. A file that cannot be read or parsed gives nothing
 * (fail closed: its keys or tokens are not accepted by Envoy; ext-authz decides those calls).
 */
export class AuthFilesSource {
  #current: AuthFiles = noAuthFiles;
  #watches = new Map<string, FileWatch>();
  /** Problems logged in the last read, and in this one (#say). */
  #saidBefore = new Set<string>();
  #said = new Set<string>();
  /** Files whose folder could not be watched yet (said once each). */
  #unwatchable = new Set<string>();
  #retry: NodeJS.Timeout | undefined;
  #auth: AuthConfig | undefined;
  /** Reads in order, so a slow read never overwrites a later one. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AuthFilesOptions) {}

  get current(): AuthFiles {
    return this.#current;
  }

  /** Reads the files `auth` names (none when native mode is off) and watches them from now on. */
  load(auth: AuthConfig | undefined): Promise<AuthFiles> {
    const run = this.#queue.then(async () => {
      this.#auth = auth;
      this.#said = new Set();
      this.#current = await this.#read(auth);
      this.#saidBefore = this.#said;
      return this.#current;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  watch(): void {
    const paths = new Set(this.#paths(this.#auth));
    for (const [path, w] of this.#watches) {
      if (paths.has(path)) continue;
      w.close();
      this.#watches.delete(path);
    }
    for (const path of paths) {
      if (this.#watches.has(path)) continue;
      try {
        this.#watches.set(
          path,
          watchFile(path, () => void this.#reload(), this.options.debounceMs),
        );
        this.#unwatchable.delete(path);
      } catch (err) {
        this.#retryWatch();
        if (this.#unwatchable.has(path)) continue;
        this.#unwatchable.add(path);
        // Its folder does not exist yet (a keys file an operator has still to create): look again
        // shortly, reading the files each time, rather than never seeing it appear.
        this.options.log.warn(
          { file: path, err: (err as Error).message },
          "cannot watch this file's folder yet; checking again every second",
        );
      }
    }
  }

  #retryWatch(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#reload().finally(() => this.watch());
    }, watchRetryMs);
    this.#retry.unref();
  }

  /**
   * Logs a problem once while it lasts: a file that is missing is read again every second (and on
   * every change), and says so once, not every time.
   */
  #say(level: "warn" | "error", fields: Record<string, unknown>, message: string): void {
    const key = `${level} ${message}`;
    if (!this.#saidBefore.has(key) && !this.#said.has(key)) this.options.log[level](fields, message);
    this.#said.add(key);
  }

  close(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#auth = undefined;
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
  }

  async #reload(): Promise<void> {
    const before = JSON.stringify(this.#current);
    const files = await this.load(this.#auth);
    if (JSON.stringify(files) !== before) this.options.onChange(files);
  }

  #paths(auth: AuthConfig | undefined): string[] {
    if (auth?.mode !== "native") return [];
    return [auth.keysFile, auth.apiKeys?.jwksFile, auth.jwt?.jwksFile]
      .filter((p): p is string => p !== undefined)
      .map((p) => this.#resolve(p));
  }

  #resolve(path: string): string {
    return resolve(dirname(this.options.configPath), path);
  }

  async #read(auth: AuthConfig | undefined): Promise<AuthFiles> {
    if (auth?.mode !== "native") return noAuthFiles;
    const [keys, apiKeysJwks, idpJwks] = await Promise.all([
      auth.keysFile !== undefined ? this.#keys(this.#resolve(auth.keysFile)) : [],
      auth.apiKeys ? this.#jwks(this.#resolve(auth.apiKeys.jwksFile), "auth.apiKeys.jwksFile") : undefined,
      auth.jwt?.jwksFile !== undefined
        ? this.#jwks(this.#resolve(auth.jwt.jwksFile), "auth.jwt.jwksFile")
        : undefined,
    ]);
    return {
      keys,
      ...(apiKeysJwks !== undefined ? { apiKeysJwks } : {}),
      ...(idpJwks !== undefined ? { idpJwks } : {}),
    };
  }

  async #keys(path: string): Promise<AuthFiles["keys"]> {
    const text = await this.#text(path, "auth.keysFile");
    if (text === undefined) return [];
    const parsed = parseKeysFile(text);
    if (!parsed.ok) {
      this.#say(
        "error",
        { file: path, errors: parsed.errors },
        "the keys file is refused: Envoy accepts no signed API key until it is fixed (ext-authz decides those calls)",
      );
      return [];
    }
    for (const problem of parsed.problems) this.#say("warn", { file: path }, problem);
    return parsed.entries.map(({ id, tenant }) => ({ id, tenant }));
  }

  async #jwks(path: string, field: string): Promise<string | undefined> {
    const text = await this.#text(path, field);
    if (text === undefined) return undefined;
    const checked = await usableJwks(text);
    if (!checked.ok) {
      this.#say(
        "error",
        { file: path, field },
        `${checked.error}: Envoy verifies no token with it until it is fixed (ext-authz decides those calls)`,
      );
      return undefined;
    }
    for (const problem of checked.dropped) this.#say("warn", { file: path, field }, `${problem}; left out`);
    return checked.json;
  }

  async #text(path: string, field: string): Promise<string | undefined> {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      this.#say(
        "error",
        { file: path, field },
        `cannot read ${path} (${field}): ${(err as Error).message}; Envoy accepts nothing it would verify`,
      );
      return undefined;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
