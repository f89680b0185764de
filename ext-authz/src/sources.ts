/**
 * What ext-authz decides with, and where it comes from: inferencehub.yaml (tenants, policy, rate
 * limits, JWT settings; the same file the control plane reads), the API keys file and the JWKS
 * file it names. Each is watched and reloaded on change without a restart. An edit that cannot be
 * used is refused with its errors logged, and the last good version keeps serving; at start, any
 * such file stops ext-authz from starting.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { JWTVerifyGetKey } from "jose";
import type { Logger } from "pino";
import { formatErrors, parseConfig, type AuthConfig, type Config } from "@inferencehub/contracts/config";
import { watchFile, type FileWatch } from "@inferencehub/contracts/file-watch";
import type { Clock } from "@inferencehub/contracts/clock";
import { createKeyStore, parseKeysFile, type KeyStore } from "./api-keys.js";
import type { DecideContext } from "./decide.js";
import { createIdentities } from "./identities.js";
import { createJwtVerifier, jwtVerifierOptions, parseJwks, remoteJwks } from "./jwt.js";
import type { AuthzMetrics } from "./metrics.js";
import { compilePolicy } from "./policy.js";
import {
  createRateLimiter,
  rateLimitEnforcer,
  unlimited,
  type RateLimitEnforcer,
  type RateLimiter,
} from "./token-bucket.js";

export interface AuthSourcesOptions {
  configPath: string;
  log: Logger;
  metrics: AuthzMetrics;
  /** Rate limits and JWT expiry are judged against it. */
  clock: Pick<Clock, "now">;
  /** Coalesces the burst of events one save produces. */
  debounceMs?: number;
  /** The nodes' repository token (SECURITY.md), added to the repository calls the policy allows. */
  repositoryToken?: string;
}

type SourceName = "config" | "keys" | "jwks";

export interface SourceStatus {
  /** The file, or the JWKS URL. */
  source: string;
  /** Content hash of what serves ("" before the first load); a URL's version is the URL. */
  version: string;
  /** Errors of the last refused edit; empty once a usable version is loaded. */
  refused: string[];
}

export interface SourcesStatus {
  config: SourceStatus;
  /**
   * Who enforces the tenants' rate limits: "envoy" (auth.mode native: this process counts nothing)
   * or "ext-authz" (this process's token buckets); absent before a config is loaded.
   */
  rateLimiter?: RateLimitEnforcer;
  keys?: SourceStatus & { entries: number; leftOut: string[] };
  jwks?: SourceStatus;
}

/** The version /status reports for a file's content: a waiting test can compute it from what it wrote. */
export function contentVersion(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** A file ext-authz cannot start with. */
export class SourceError extends Error {
  override name = "SourceError";
}

interface Loaded<T> {
  source: string;
  version: string;
  value: T;
}

export class AuthSources {
  readonly configPath: string;
  #config: Loaded<{ config: Config; auth: AuthConfig }> | undefined;
  #keys: Loaded<{ store: KeyStore; leftOut: string[] }> | undefined;
  #jwks: Loaded<JWTVerifyGetKey> | undefined;
  #refused: Record<SourceName, string[]> = { config: [], keys: [], jwks: [] };
  #context: DecideContext | undefined;
  readonly #limiter: RateLimiter;
  readonly #watches = new Map<string, FileWatch>();
  #queue: Promise<void> = Promise.resolve();
  #watching = false;

  constructor(private readonly options: AuthSourcesOptions) {
    this.configPath = resolve(options.configPath);
    this.#limiter = createRateLimiter(options.clock);
  }

  /** What Check calls are decided with now. */
  get context(): DecideContext {
    if (!this.#context) throw new Error("AuthSources.context read before load()");
    return this.#context;
  }

  /** Reads every file; throws a SourceError naming what is wrong when one is missing or unusable. */
  async load(): Promise<void> {
    await this.#loadConfig(true);
    await this.#loadKeys(true);
    await this.#loadJwks(true);
    this.#rebuild();
  }

  /** Follows edits of every file from now on. */
  watch(): void {
    this.#watching = true;
    this.#syncWatches();
  }

  close(): void {
    this.#watching = false;
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
  }

  /** Resolves once every reload started so far has finished (tests, shutdown). */
  settled(): Promise<void> {
    return this.#queue;
  }

  status(): SourcesStatus {
    const s = (name: SourceName, loaded: Loaded<unknown> | undefined, source: string): SourceStatus => ({
      source: loaded?.source ?? source,
      version: loaded?.version ?? "",
      refused: this.#refused[name],
    });
    const auth = this.#config?.value.auth;
    return {
      config: s("config", this.#config, this.configPath),
      ...(auth ? { rateLimiter: rateLimitEnforcer(auth.mode) } : {}),
      ...(auth?.keysFile !== undefined
        ? {
            keys: {
              ...s("keys", this.#keys, this.#path(auth.keysFile)),
              entries: this.#keys?.value.store.size ?? 0,
              leftOut: this.#keys?.value.leftOut ?? [],
            },
          }
        : {}),
      ...(auth?.jwt
        ? { jwks: s("jwks", this.#jwks, auth.jwt.jwksUrl ?? this.#path(auth.jwt.jwksFile ?? "")) }
        : {}),
    };
  }

  #path(file: string): string {
    return resolve(dirname(this.configPath), file);
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue
      .then(task)
      .catch((err: unknown) =>
        this.options.log.error({ err }, "reload failed; the last good version keeps serving"),
      );
  }

  /** Records a refused load: at start it stops ext-authz, later it is logged and the old version serves. */
  #refuse(name: SourceName, source: string, errors: string[], strict: boolean): void {
    this.#refused[name] = errors;
    this.options.metrics.reloads.inc({ file: name, result: "refused" });
    if (strict) throw new SourceError(`cannot start: ${source} is not usable:\n  ${errors.join("\n  ")}`);
    for (const error of errors) this.options.log.error({ file: source }, `${name} refused: ${error}`);
    this.options.log.error(
      { file: source },
      `the edit of ${source} was refused; the last good version keeps serving`,
    );
  }

  async #read(
    name: SourceName,
    path: string,
    strict: boolean,
  ): Promise<{ text: string; version: string } | undefined> {
    try {
      const text = await readFile(path, "utf8");
      return { text, version: contentVersion(text) };
    } catch (err) {
      this.#refuse(name, path, [`cannot read it: ${(err as Error).message}`], strict);
      return undefined;
    }
  }

  async #loadConfig(strict: boolean): Promise<boolean> {
    const read = await this.#read("config", this.configPath, strict);
    if (!read) return false;
    if (read.version === this.#config?.version) {
      // The file is back to what serves: the edit refused in between no longer stands.
      this.#refused.config = [];
      return false;
    }
    const parsed = parseConfig(read.text, this.configPath);
    if (!parsed.ok) {
      this.#refuse("config", this.configPath, formatErrors(parsed.errors).split("\n"), strict);
      return false;
    }
    const auth = parsed.value.auth;
    if (!auth) {
      this.#refuse(
        "config",
        this.configPath,
        ["has no auth section: nothing for ext-authz to enforce"],
        strict,
      );
      return false;
    }
    this.#config = { source: this.configPath, version: read.version, value: { config: parsed.value, auth } };
    this.#refused.config = [];
    this.#limiter.update(auth.tenants);
    this.options.metrics.reloads.inc({ file: "config", result: "applied" });
    this.options.log.info(
      { file: this.configPath, version: read.version, tenants: auth.tenants.length },
      "config applied",
    );
    if (auth.extAuthz.failOpen) {
      this.options.log.warn(
        { file: this.configPath },
        "auth.extAuthz.failOpen is true: while ext-authz cannot be reached or is too slow, Envoy lets calls through unchecked",
      );
    }
    return true;
  }

  async #loadKeys(strict: boolean): Promise<void> {
    const file = this.#config?.value.auth.keysFile;
    if (file === undefined) {
      this.#keys = undefined;
      return;
    }
    const path = this.#path(file);
    const read = await this.#read("keys", path, strict);
    if (!read) return;
    if (read.version === this.#keys?.version && path === this.#keys.source) {
      this.#refused.keys = [];
      return;
    }
    const parsed = parseKeysFile(read.text);
    if (!parsed.ok) {
      this.#refuse("keys", path, parsed.errors, strict);
      return;
    }
    for (const problem of parsed.problems) this.options.log.warn({ file: path }, `keys file: ${problem}`);
    this.#keys = {
      source: path,
      version: read.version,
      value: { store: createKeyStore(parsed.entries), leftOut: parsed.problems },
    };
    this.#refused.keys = [];
    this.options.metrics.reloads.inc({ file: "keys", result: "applied" });
    this.options.metrics.apiKeys.set(parsed.entries.length);
    this.options.log.info(
      { file: path, version: read.version, keys: parsed.entries.length },
      "API keys applied",
    );
  }

  async #loadJwks(strict: boolean): Promise<void> {
    const jwt = this.#config?.value.auth.jwt;
    if (!jwt) {
      this.#jwks = undefined;
      return;
    }
    if (jwt.jwksUrl !== undefined) {
      const version = `${jwt.jwksUrl} cached ${jwt.jwksCacheMs} ms`;
      if (this.#jwks?.version !== version) {
        this.#jwks = { source: jwt.jwksUrl, version, value: remoteJwks(jwt.jwksUrl, jwt.jwksCacheMs) };
        this.#refused.jwks = [];
      }
      return;
    }
    const path = this.#path(jwt.jwksFile ?? "");
    const read = await this.#read("jwks", path, strict);
    if (!read) return;
    if (read.version === this.#jwks?.version && path === this.#jwks.source) {
      this.#refused.jwks = [];
      return;
    }
    const parsed = parseJwks(read.text);
    if (!parsed.ok) {
      this.#refuse("jwks", path, [parsed.error], strict);
      return;
    }
    this.#jwks = { source: path, version: read.version, value: parsed.keys };
    this.#refused.jwks = [];
    this.options.metrics.reloads.inc({ file: "jwks", result: "applied" });
    this.options.log.info({ file: path, version: read.version }, "JWKS applied");
  }

  #rebuild(): void {
    const loaded = this.#config?.value;
    if (!loaded) throw new Error("AuthSources: no config to build from");
    const { config, auth } = loaded;
    const keys = auth.keysFile !== undefined ? this.#keys?.value.store : undefined;
    const jwt =
      auth.jwt && this.#jwks
        ? createJwtVerifier(jwtVerifierOptions(auth.jwt, this.#jwks.value, this.options.clock))
        : undefined;
    this.#context = {
      identities: createIdentities({
        ...(keys ? { keys } : {}),
        ...(jwt ? { jwt } : {}),
        ...(auth.apiKeys ? { apiKeysIssuer: auth.apiKeys.issuer } : {}),
      }),
      policy: compilePolicy(config),
      limiter: rateLimitEnforcer(auth.mode) === "ext-authz" ? this.#limiter : unlimited,
      ...(this.options.repositoryToken !== undefined
        ? { repositoryToken: this.options.repositoryToken }
        : {}),
    };
  }

  #syncWatches(): void {
    if (!this.#watching) return;
    const auth = this.#config?.value.auth;
    const wanted = new Map<string, () => Promise<void>>([[this.configPath, () => this.#onConfigChange()]]);
    if (auth?.keysFile !== undefined) wanted.set(this.#path(auth.keysFile), () => this.#onFileChange("keys"));
    if (auth?.jwt?.jwksFile !== undefined)
      wanted.set(this.#path(auth.jwt.jwksFile), () => this.#onFileChange("jwks"));
    for (const [path, w] of this.#watches) {
      if (!wanted.has(path)) {
        w.close();
        this.#watches.delete(path);
      }
    }
    for (const [path, reload] of wanted) {
      if (this.#watches.has(path)) continue;
      this.#watches.set(
        path,
        watchFile(path, () => this.#enqueue(reload), this.options.debounceMs),
      );
    }
  }

  async #onConfigChange(): Promise<void> {
    if (!(await this.#loadConfig(false))) return;
    // The config may name other files, or other JWT settings.
    await this.#loadKeys(false);
    await this.#loadJwks(false);
    this.#rebuild();
    this.#syncWatches();
  }

  async #onFileChange(name: "keys" | "jwks"): Promise<void> {
    if (name === "keys") await this.#loadKeys(false);
    else await this.#loadJwks(false);
    this.#rebuild();
  }
}
