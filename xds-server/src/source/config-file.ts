/**
 * inferencehub.yaml on disk: read, validated, and watched (with the watcher ext-authz uses too, which
 * sees saves by rename as well as in place).
 * An invalid edit is refused with every error logged; the last good config keeps serving.
 *
 * Loads and the admin API's edits run one at a time, in the order they were asked for: an edit
 * reads, checks, writes and applies the file as one transaction, so no load runs in the middle of
 * one, and a load asked for after a write always reads that write.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { formatErrors, parseConfig, type Config, type ConfigError } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import { watchFile, type FileWatch } from "@inferencehub/contracts/file-watch";
import type { ConfigEditRequest, ConfigEditResult } from "../admin/index.js";
import { contentHash } from "../snapshot/index.js";
import { invalidEdit } from "./edit-errors.js";

export type LoadResult =
  | { status: "applied"; config: Config; hash: string }
  | { status: "unchanged" }
  | { status: "invalid"; errors: ConfigError[] }
  | { status: "unreadable"; error: string };

/** What an edit plan sees: the file as it is on disk, and what serves. */
export interface EditBase {
  text: string;
  /** The content hash of `text`. */
  hash: string;
  /** The config serving, and its content hash (`hash` differs when the file holds unapplied changes). */
  current: Config;
  currentHash: string;
}

/** The text to write and the config it parses to; undefined: nothing to change. */
export type EditPlan = { text: string; config: Config } | undefined;

export type EditResult =
  { status: "applied"; config: Config; hash: string } | { status: "unchanged"; config: Config; hash: string };

export interface ConfigFileOptions {
  path: string;
  log: Logger;
  /** Called with every valid config that differs from the last one. */
  onConfig: (config: Config, hash: string) => void;
  /** Coalesces the burst of events one save produces. */
  debounceMs?: number;
}

export class ConfigFile {
  readonly path: string;
  #hash = "";
  #config: Config | undefined;
  #watch: FileWatch | undefined;
  #lastErrors: ConfigError[] = [];
  /** The tail of the queue of loads and edits. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A load queued and not started yet: a second request for a load joins it. */
  #queuedLoad: Promise<LoadResult> | undefined;

  constructor(private readonly options: ConfigFileOptions) {
    this.path = resolve(options.path);
  }

  readonly kind = "file";

  /** The config version: the hash of the file content now serving. */
  get version(): string {
    return this.#hash;
  }

  get location(): string {
    return this.path;
  }

  /** The config now serving (undefined before the first valid load). */
  get current(): Config | undefined {
    return this.#config;
  }

  /** Errors of the last refused edit; empty once a valid file is loaded. */
  get lastErrors(): readonly ConfigError[] {
    return this.#lastErrors;
  }

  /** Runs `step` after every load and edit asked for before it. */
  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Reads and applies the file. Loads and edits never overlap; the load starts after those asked
   * for before it, so it reads whatever they wrote (requests while one waits share it).
   */
  load(): Promise<LoadResult> {
    if (this.#queuedLoad) return this.#queuedLoad;
    const queued = this.#serial(() => {
      this.#queuedLoad = undefined;
      return this.#loadOnce();
    });
    this.#queuedLoad = queued;
    return queued;
  }

  /**
   * One edit of the file as a transaction, between any two loads: `plan` gets the file as it is
   * on disk and what serves, checks them (it throws to refuse) and returns the new text with the
   * config it parses to, or undefined when nothing changes. The text is written atomically (a
   * temp file renamed over the file) and applied before anything else runs. Either the edit
   * serves and the file holds it, or this throws and the file and what serves are as they were.
   */
  transact(plan: (base: EditBase) => EditPlan | Promise<EditPlan>): Promise<EditResult> {
    return this.#serial(async () => {
      const current = this.#config;
      if (!current) throw new Error("no config is serving yet");
      const text = await readFile(this.path, "utf8");
      const next = await plan({ text, hash: contentHash(text), current, currentHash: this.#hash });
      if (!next || next.text === text) return { status: "unchanged", config: current, hash: this.#hash };
      const hash = contentHash(next.text);
      await this.#write(next.text);
      try {
        this.options.onConfig(next.config, hash);
      } catch (err) {
        // Nothing took the new config: put the file back and what serves stays (re-applied, in
        // case onConfig got part of the way).
        await this.#write(text).catch((e: unknown) =>
          this.options.log.error({ err: e, file: this.path }, "cannot put the file back after a failed edit"),
        );
        try {
          this.options.onConfig(current, this.#hash);
        } catch (e) {
          this.options.log.error({ err: e }, "re-applying the serving config after a failed edit failed");
        }
        throw err;
      }
      this.#hash = hash;
      this.#config = next.config;
      this.#lastErrors = [];
      return { status: "applied", config: next.config, hash };
    });
  }

  /**
   * An admin edit (admin/ports.ts) as one transaction of the file. The base version is the
   * content hash of the file serving: a file that holds changes not serving, or a base that is
   * not the file serving, is a conflict.
   */
  async edit(request: ConfigEditRequest): Promise<ConfigEditResult> {
    let previous: Config | undefined;
    const result = await this.transact(({ text, hash, current, currentHash }) => {
      previous = current;
      if (hash !== currentHash) {
        throw new GatewayError(
          status.ABORTED,
          `${this.path} holds changes that are not serving (an edit in progress or one that was refused); resolve them, then retry`,
        );
      }
      if (request.baseVersion !== currentHash) {
        throw new GatewayError(
          status.ABORTED,
          `conflict: this edit was based on config version ${request.baseVersion}, but the config is now at ${currentHash}; read it again and retry`,
        );
      }
      const next = request.change(text);
      if (next === text) return undefined;
      const parsed = parseConfig(next, this.path);
      if (!parsed.ok) throw invalidEdit(parsed.errors);
      // Same meaning, other text (say `drain: false` removed): nothing to serve, nothing to write.
      if (isDeepStrictEqual(parsed.value, current)) return undefined;
      return { text: next, config: parsed.value };
    });
    return {
      status: result.status,
      config: result.config,
      previous: previous ?? result.config,
      version: result.hash,
    };
  }

  /** Readers (and the watcher) see the old file or the new one, never half of one. */
  async #write(text: string): Promise<void> {
    const tmp = `${this.path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #loadOnce(): Promise<LoadResult> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      const error = `cannot read ${this.path}: ${(err as Error).message}`;
      this.options.log.error({ file: this.path }, `${error}; the last good config keeps serving`);
      return { status: "unreadable", error };
    }
    const hash = contentHash(text);
    if (hash === this.#hash) {
      // The file is back to what serves (an edit undone): nothing is refused any more.
      this.#lastErrors = [];
      return { status: "unchanged" };
    }
    const parsed = parseConfig(text, this.path);
    if (!parsed.ok) {
      this.#lastErrors = parsed.errors;
      for (const e of parsed.errors) {
        this.options.log.error(
          { file: this.path, field: e.path, line: e.line, column: e.column },
          `config refused: ${formatErrors([e])}`,
        );
      }
      this.options.log.error(
        { file: this.path, errors: parsed.errors.length },
        "the edit was refused; the last good config keeps serving. Fix the fields above and save again",
      );
      return { status: "invalid", errors: parsed.errors };
    }
    this.#hash = hash;
    this.#config = parsed.value;
    this.#lastErrors = [];
    this.options.onConfig(parsed.value, hash);
    return { status: "applied", config: parsed.value, hash };
  }

  watch(): void {
    this.#watch = watchFile(
      this.path,
      () =>
        void this.load().catch((err: unknown) =>
          this.options.log.error({ err, file: this.path }, "applying the config file failed"),
        ),
      this.options.debounceMs,
    );
  }

  close(): void {
    this.#watch?.close();
  }
}
