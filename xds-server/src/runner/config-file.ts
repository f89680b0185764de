/**
 * inferencehub.yaml on disk: read, validated, and watched. Editors save by rename as often as in
 * place, so the folder is watched, not the file (a watch on the file dies with its inode).
 * An invalid edit is refused with every error logged; the last good config keeps serving.
 */
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "pino";
import { formatErrors, parseConfig, type Config, type ConfigError } from "../config/index.js";
import { contentHash } from "../snapshot/index.js";

export type LoadResult =
  | { status: "applied"; config: Config; hash: string }
  | { status: "unchanged" }
  | { status: "invalid"; errors: ConfigError[] }
  | { status: "unreadable"; error: string };

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
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastErrors: ConfigError[] = [];
  #loading: Promise<LoadResult> | undefined;
  #again = false;
  /** A text already parsed by whoever is about to write it (the admin API), by content hash. */
  #prevalidated: { hash: string; config: Config } | undefined;

  constructor(private readonly options: ConfigFileOptions) {
    this.path = resolve(options.path);
  }

  /** The hash of the file content now serving. */
  get hash(): string {
    return this.#hash;
  }

  /** The config now serving (undefined before the first valid load). */
  get current(): Config | undefined {
    return this.#config;
  }

  /** Errors of the last refused edit; empty once a valid file is loaded. */
  get lastErrors(): readonly ConfigError[] {
    return this.#lastErrors;
  }

  /**
   * Says that `text`, about to be written, parses to `config`: when the file holds exactly that
   * text, a load takes the config instead of parsing the file again (at 1,000 models parsing
   * is most of what an edit costs).
   */
  prevalidated(text: string, config: Config): void {
    this.#prevalidated = { hash: contentHash(text), config };
  }

  /** Reads and applies the file now. Loads never overlap: a change during a load triggers one more. */
  load(): Promise<LoadResult> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = this.#loadOnce().finally(() => {
      this.#loading = undefined;
      if (this.#again) {
        this.#again = false;
        void this.load();
      }
    });
    return this.#loading;
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
    const known = this.#prevalidated?.hash === hash ? this.#prevalidated.config : undefined;
    this.#prevalidated = undefined;
    const parsed = known ? { ok: true as const, value: known } : parseConfig(text, this.path);
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
    const name = basename(this.path);
    this.#watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.load(), this.options.debounceMs ?? 5);
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
