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

export type ModelState = "READY" | "UNAVAILABLE";

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
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
}

export class ModelRepository {
  readonly #loaded = new Map<string, Map<string, LoadedVersion>>();
  readonly #configs = new Map<string, ModelConfig>();
  readonly #failures = new Map<string, string>();
  readonly #inUse = new Map<LoadedVersion, number>();
  readonly #retired = new Set<LoadedVersion>();

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

  /** Loads (or reloads) every version of a model from disk; the old sessions serve until the new ones are ready. */
  async load(model: string): Promise<void> {
    checkModelName(model);
    const versions = this.#versionsOnDisk(model);
    if (versions.length === 0) {
      // Where the node looked is for its operator (the log), not for the caller.
      this.options.log.warn(
        { model, looked: join(resolve(this.options.root), model, "<version>", "model.onnx") },
        "load: the model has no versions on disk",
      );
      throw notFound(`model '${model}' has no versions in this node's model repository`);
    }
    const next = new Map<string, LoadedVersion>();
    for (const version of versions) {
      const path = join(this.options.root, model, version, "model.onnx");
      const started = performance.now();
      try {
        const session = await InferenceSession.create(path, {
          executionProviders: [...(this.options.executionProviders ?? ["cpu"])],
        });
        next.set(version, {
          model,
          version,
          session,
          inputs: specs(session.inputMetadata, `${model}/${version}`),
          outputs: specs(session.outputMetadata, `${model}/${version}`),
        });
        this.#failures.delete(`${model}/${version}`);
        this.options.log.info(
          { model, version, ms: Math.round(performance.now() - started) },
          "model version loaded",
        );
      } catch (err) {
        // RepositoryIndex shows the reason: onnxruntime's messages name the file, so paths go.
        const reason = this.#withoutPaths(err instanceof Error ? err.message : String(err));
        this.#failures.set(`${model}/${version}`, reason);
        this.options.log.error({ model, version, err }, "model version failed to load");
      }
    }
    if (next.size === 0) {
      throw new GatewayError(
        status.INTERNAL,
        `model '${model}': no version could be loaded; see the node's log`,
      );
    }
    this.#configs.set(model, this.#readConfig(model));
    const previous = this.#loaded.get(model);
    this.#loaded.set(model, next);
    await this.#release(previous);
  }

  async unload(model: string): Promise<void> {
    const previous = this.#loaded.get(model);
    if (!previous) throw notFound(`model '${clip(model)}' is not loaded`);
    this.#loaded.delete(model);
    await this.#release(previous);
    this.options.log.info({ model }, "model unloaded");
  }

  async unloadAll(): Promise<void> {
    for (const model of [...this.#loaded.keys()]) await this.unload(model);
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

  index(readyOnly: boolean): IndexEntry[] {
    const entries: IndexEntry[] = [];
    for (const model of this.onDisk()) {
      for (const version of this.#versionsOnDisk(model)) {
        const ready = this.#loaded.get(model)?.has(version) ?? false;
        if (readyOnly && !ready) continue;
        entries.push({
          name: model,
          version,
          state: ready ? "READY" : "UNAVAILABLE",
          reason: ready ? "" : (this.#failures.get(`${model}/${version}`) ?? "unloaded"),
        });
      }
    }
    return entries;
  }
}
