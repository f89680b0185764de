/**
 * The model repository: <root>/<model>/<version>/model.onnx, with an optional
 * <root>/<model>/config.json ({ "defaultVersion": "2" }). Each version is one onnxruntime
 * session; metadata comes from the ONNX graph itself.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { kservTypeOf, type KservDatatype } from "./datatypes.js";
import { clip, listText } from "./client-text.js";
import { invalidArgument, notFound } from "./errors.js";
import type { VersionPolicy } from "./load-parameters.js";

/** A model name: a DNS label, the same rule as the gateway's config (and so a safe directory name). */
export const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Throws INVALID_ARGUMENT unless `model` is a valid model name: no path can be built from anything else. */
export function checkModelName(model: string): void {
  if (!MODEL_NAME.test(model)) {
    throw invalidArgument(
      `'${clip(model)}' is not a model name: lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit`,
    );
  }
}

export interface TensorSpec {
  name: string;
  datatype: KservDatatype;
  /** -1 marks a dimension the graph leaves open (a symbolic or unknown size). */
  shape: number[];
}

export interface LoadedVersion {
  model: string;
  version: string;
  session: InferenceSession;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/**
 * Triton's model states, as RepositoryIndex reports them per version: READY serves; LOADING is
 * being loaded (not yet served); UNLOADING still serves while its unload waits out the drain
 * delay; UNAVAILABLE is not loaded, and its reason says why ("unloaded", a load error, a refusal).
 */
export type ModelState = "READY" | "LOADING" | "UNLOADING" | "UNAVAILABLE";

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

/** What the node holds against its limit, for a reconciler choosing where a version fits. */
export interface Capacity {
  /** Model versions loaded or being loaded: what --max-models counts. */
  models: number;
  /** --max-models; undefined: no limit. */
  maxModels: number | undefined;
  /** The process's resident memory, onnxruntime's sessions included. */
  memoryBytes: number;
}

interface ModelConfig {
  defaultVersion?: string;
}

const byVersion = (a: string, b: string): number => {
  const na = Number(a);
  const nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
};

function specs(metadata: readonly InferenceSession.ValueMetadata[], where: string): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor)
      throw new Error(`${where}: '${m.name}' is not a tensor; only tensor inputs and outputs are served`);
    const datatype = kservTypeOf(m.type);
    if (!datatype)
      throw new Error(`${where}: '${m.name}' has type ${m.type}, which the protocol cannot carry`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)) };
  });
}

export interface ModelRepositoryOptions {
  root: string;
  log: Logger;
  /** Load only these models at start (all when absent); others can still be loaded later. */
  only?: readonly string[];
  /** onnxruntime execution providers, in order of preference (e.g. ["cuda", "cpu"]). */
  executionProviders?: readonly string[];
  /** At most this many model versions loaded at once (0 or absent: no limit). */
  maxModels?: number;
  /** Waited before each version's session is created (tests: a model that takes long to load). */
  loadDelayMs?: number;
}

export class ModelRepository {
  readonly #loaded = new Map<string, Map<string, LoadedVersion>>();
  readonly #configs = new Map<string, ModelConfig>();
  readonly #failures = new Map<string, string>();
  readonly #inUse = new Map<LoadedVersion, number>();
  readonly #retired = new Set<LoadedVersion>();
  /** Versions being loaded now, per model (LOADING unless an older session of theirs serves). */
  readonly #loading = new Map<string, Set<string>>();
  /** The last load or unload of each model, so that the next waits for it. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(readonly options: ModelRepositoryOptions) {}

  readonly #skipped = new Set<string>();

  /** Models present on disk, whether loaded or not; a directory whose name is no model name is left out. */
  onDisk(): string[] {
    if (!existsSync(this.options.root)) return [];
    return readdirSync(this.options.root)
      .filter((m) => statSync(join(this.options.root, m)).isDirectory())
      .filter((m) => {
        if (MODEL_NAME.test(m)) return true;
        if (!this.#skipped.has(m)) {
          this.#skipped.add(m);
          this.options.log.warn({ dir: join(this.options.root, m) }, "not a model name; directory ignored");
        }
        return false;
      })
      .sort();
  }

  #versionsOnDisk(model: string): string[] {
    const dir = join(this.options.root, model);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((v) => existsSync(join(dir, v, "model.onnx")))
      .sort(byVersion);
  }

  async loadAll(): Promise<void> {
    const wanted = this.options.only ?? this.onDisk();
    for (const model of wanted) await this.load(model);
  }

  /**
   * Loads (or reloads) a model's versions from disk: all of them, or those the policy names. The
   * set loaded afterwards is exactly those (as in Triton, a reload drops versions it does not
   * name); the old sessions serve until the new ones are ready. Loads and unloads of one model
   * run one at a time.
   */
  async load(model: string, policy: VersionPolicy = { kind: "all" }): Promise<void> {
    checkModelName(model);
    await this.#serially(model, () => this.#load(model, policy));
  }

  async #load(model: string, policy: VersionPolicy): Promise<void> {
    const onDisk = this.#versionsOnDisk(model);
    if (onDisk.length === 0) {
      // Where the node looked is for its operator (the log), not for the caller.
      this.options.log.warn(
        { model, looked: join(resolve(this.options.root), model, "<version>", "model.onnx") },
        "load: the model has no versions on disk",
      );
      throw notFound(`model '${model}' has no versions in this node's model repository`);
    }
    const versions = this.#chosen(model, onDisk, policy);
    // Checked and reserved with no await in between, so that concurrent loads of other models
    // cannot both pass the check.
    this.#checkCapacity(model, versions);
    const loading = new Set(versions);
    this.#loading.set(model, loading);
    const next = new Map<string, LoadedVersion>();
    try {
      for (const version of versions) {
        const loaded = await this.#loadVersion(model, version);
        if (loaded) next.set(version, loaded);
        loading.delete(version);
      }
    } finally {
      this.#loading.delete(model);
    }
    if (next.size === 0) {
      throw new GatewayError(
        status.INTERNAL,
        versions.length === 1
          ? `model '${model}' version '${versions[0]}' could not be loaded: ${this.#failures.get(`${model}/${versions[0]}`) ?? "see the node's log"}`
          : `model '${model}': no version could be loaded; see RepositoryIndex or the node's log`,
      );
    }
    this.#configs.set(model, this.#readConfig(model));
    const previous = this.#loaded.get(model);
    this.#loaded.set(model, next);
    await this.#release(previous);
  }

  /** The versions a policy names, all of them on disk (else NOT_FOUND saying which are). */
  #chosen(model: string, onDisk: string[], policy: VersionPolicy): string[] {
    if (policy.kind === "all") return onDisk;
    if (policy.kind === "latest") return onDisk.slice(-policy.count);
    const missing = policy.versions.filter((v) => !onDisk.includes(v));
    if (missing.length > 0) {
      throw notFound(
        `model '${model}' has no version ${listText(missing)} in this node's model repository (it has ${listText(onDisk)})`,
      );
    }
    return [...policy.versions].sort(byVersion);
  }

  /** RESOURCE_EXHAUSTED when the versions would take the node past --max-models; a reload counts in place of the old. */
  #checkCapacity(model: string, versions: string[]): void {
    const max = this.options.maxModels;
    if (!max) return;
    const others = this.#versionsTaken(model);
    if (others + versions.length <= max) return;
    const reason =
      versions.length > max
        ? `more versions than the node takes (--max-models ${max})`
        : `node full: ${others} of ${max} model versions taken by other models (--max-models ${max})`;
    for (const v of versions) {
      if (!this.#loaded.get(model)?.has(v)) this.#failures.set(`${model}/${v}`, reason);
    }
    this.options.log.warn({ model, versions, others, maxModels: max }, "load refused: node full");
    throw new GatewayError(
      status.RESOURCE_EXHAUSTED,
      `model '${model}' needs ${versions.length} model version(s) but ${reason}; ${
        versions.length > max ? "name fewer in config.version_policy" : "unload a model first"
      }`,
    );
  }

  /** Model versions loaded or being loaded, leaving out one model's (whose reload replaces them). */
  #versionsTaken(except?: string): number {
    let n = 0;
    for (const [m, versions] of this.#loaded) if (m !== except) n += versions.size;
    for (const [m, versions] of this.#loading) {
      if (m === except) continue;
      for (const v of versions) if (!this.#loaded.get(m)?.has(v)) n++;
    }
    return n;
  }

  /** One version's session, or undefined with the failure recorded for RepositoryIndex. */
  async #loadVersion(model: string, version: string): Promise<LoadedVersion | undefined> {
    const path = join(this.options.root, model, version, "model.onnx");
    const started = performance.now();
    try {
      if (this.options.loadDelayMs) await new Promise((r) => setTimeout(r, this.options.loadDelayMs));
      const session = await InferenceSession.create(path, {
        executionProviders: [...(this.options.executionProviders ?? ["cpu"])],
      });
      let loaded: LoadedVersion;
      try {
        loaded = {
          model,
          version,
          session,
          inputs: specs(session.inputMetadata, `${model}/${version}`),
          outputs: specs(session.outputMetadata, `${model}/${version}`),
        };
      } catch (err) {
        // A graph the protocol cannot serve: its session would otherwise stay in memory.
        await session.release().catch(() => undefined);
        throw err;
      }
      this.#failures.delete(`${model}/${version}`);
      this.options.log.info(
        { model, version, ms: Math.round(performance.now() - started) },
        "model version loaded",
      );
      return loaded;
    } catch (err) {
      // RepositoryIndex shows the reason: onnxruntime's messages name the file, so paths go.
      const reason = this.#withoutPaths(err instanceof Error ? err.message : String(err));
      this.#failures.set(`${model}/${version}`, reason);
      this.options.log.error({ model, version, err }, "model version failed to load");
      return undefined;
    }
  }

  async unload(model: string): Promise<void> {
    await this.#serially(model, async () => {
      const previous = this.#loaded.get(model);
      if (!previous) throw notFound(`model '${clip(model)}' is not loaded`);
      this.#loaded.delete(model);
      for (const v of previous.keys()) this.#failures.delete(`${model}/${v}`);
      await this.#release(previous);
      this.options.log.info({ model }, "model unloaded");
    });
  }

  async unloadAll(): Promise<void> {
    for (const model of [...this.#loaded.keys()]) await this.unload(model);
  }

  /** Runs one load or unload of a model after the ones already queued for it, whatever their outcome. */
  #serially<T>(model: string, work: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(model) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(model, settled);
    void settled.then(() => {
      if (this.#queues.get(model) === settled) this.#queues.delete(model);
    });
    return run;
  }

  /** A message with the server's paths taken out, and bounded: it goes to clients. */
  #withoutPaths(message: string): string {
    const root = resolve(this.options.root);
    const text = message
      .split(root)
      .join("<models>")
      .replace(/(^|[\s'"(=:])\/[^\s'"),]+/g, "$1<path>");
    return clip(text, 300);
  }

  #readConfig(model: string): ModelConfig {
    const path = join(this.options.root, model, "config.json");
    if (!existsSync(path)) return {};
    return JSON.parse(readFileSync(path, "utf8")) as ModelConfig;
  }

  /** Sessions still running a call are freed when their last call ends (see checkout). */
  async #release(versions: Map<string, LoadedVersion> | undefined): Promise<void> {
    for (const v of versions?.values() ?? []) {
      if ((this.#inUse.get(v) ?? 0) > 0) this.#retired.add(v);
      else await v.session.release().catch(() => undefined);
    }
  }

  /**
   * A loaded version for one call. Unload or reload during the call must not free the session
   * under it, so the session is released only after `done()` of the last call that holds it.
   */
  checkout(model: string, version?: string): { loaded: LoadedVersion; done: () => void } {
    const loaded = this.get(model, version);
    this.#inUse.set(loaded, (this.#inUse.get(loaded) ?? 0) + 1);
    let finished = false;
    return {
      loaded,
      done: () => {
        if (finished) return;
        finished = true;
        const left = (this.#inUse.get(loaded) ?? 1) - 1;
        if (left > 0) return void this.#inUse.set(loaded, left);
        this.#inUse.delete(loaded);
        if (this.#retired.delete(loaded)) void loaded.session.release().catch(() => undefined);
      },
    };
  }

  /** The loaded versions of a model, oldest first. */
  versions(model: string): string[] {
    return [...(this.#loaded.get(model)?.keys() ?? [])].sort(byVersion);
  }

  /** A loaded version; without a version, the configured default or else the newest. */
  get(model: string, version?: string): LoadedVersion {
    const versions = this.#loaded.get(model);
    if (!versions) throw notFound(`model '${clip(model)}' is not served by this node`);
    const wanted = version || this.#configs.get(model)?.defaultVersion || this.versions(model).at(-1);
    const found = wanted === undefined ? undefined : versions.get(wanted);
    if (!found) {
      throw notFound(
        `model '${model}' version '${clip(wanted ?? "")}' is not served by this node (have ${listText(this.versions(model))})`,
      );
    }
    return found;
  }

  isReady(model: string, version?: string): boolean {
    try {
      this.get(model, version);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Every version on disk (and any loaded one no longer there), with its state; `unloading` names
   * the models whose unload is waiting out its drain delay. readyOnly: READY ones only.
   */
  index(readyOnly: boolean, unloading: ReadonlySet<string> = new Set()): IndexEntry[] {
    const entries: IndexEntry[] = [];
    const models = new Set([...this.onDisk(), ...this.#loaded.keys(), ...this.#loading.keys()]);
    for (const model of [...models].sort()) {
      const loaded = this.#loaded.get(model);
      const loading = this.#loading.get(model);
      const versions = new Set([
        ...this.#versionsOnDisk(model),
        ...(loaded?.keys() ?? []),
        ...(loading ?? []),
      ]);
      for (const version of [...versions].sort(byVersion)) {
        const entry = ((): IndexEntry => {
          const at = (state: ModelState, reason = ""): IndexEntry => ({
            name: model,
            version,
            state,
            reason,
          });
          if (loaded?.has(version)) return at(unloading.has(model) ? "UNLOADING" : "READY");
          if (loading?.has(version)) return at("LOADING");
          return at("UNAVAILABLE", this.#failures.get(`${model}/${version}`) ?? "unloaded");
        })();
        if (!readyOnly || entry.state === "READY") entries.push(entry);
      }
    }
    return entries;
  }

  capacity(): Capacity {
    return {
      models: this.#versionsTaken(),
      maxModels: this.options.maxModels || undefined,
      memoryBytes: process.memoryUsage().rss,
    };
  }
}
