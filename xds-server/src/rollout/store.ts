/**
 * Where rollouts are kept, beside the config they steer, so that they outlive the CLI that
 * started them and a restart of the control plane:
 *   file mode: `<config folder>/<config name without extension>.rollouts.json`
 *              ({ "rollouts": { "<model>": Rollout } }, written to a temp file and renamed)
 *   etcd mode: `<prefix>rollouts/<model>` (one Rollout as JSON per key; outside `config/`,
 *              so a rollout's progress is not a config change)
 * The Rollout is admin.proto's message as proto3 JSON. The last rollout of each model is kept
 * after it ends (its outcome and events), until the next one of that model replaces it.
 */
import type { Etcd3 } from "etcd3";
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { etcdClient, etcdLayout, type EtcdSecurity } from "@inferencehub/contracts/etcd-config";
import { Rollout } from "../../../gen/inference/inferencehub/admin/v1/admin.js";

export interface RolloutStore {
  /** Where the rollouts are kept, for logs and status. */
  readonly location: string;
  load(): Promise<Rollout[]>;
  save(rollout: Rollout): Promise<void>;
  close(): Promise<void> | void;
}

/** The state file that goes with a config file: inferencehub.yaml → inferencehub.rollouts.json. */
export function rolloutsFileOf(configPath: string): string {
  return join(dirname(configPath), `${basename(configPath, extname(configPath))}.rollouts.json`);
}

export class FileRolloutStore implements RolloutStore {
  readonly #all = new Map<string, Rollout>();
  /** Writes one at a time, in order: the last one written is the last state. */
  #queue: Promise<void> = Promise.resolve();

  constructor(readonly location: string) {}

  async load(): Promise<Rollout[]> {
    let text: string;
    try {
      text = await readFile(this.location, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const json = JSON.parse(text) as { rollouts?: Record<string, unknown> };
    this.#all.clear();
    for (const [model, r] of Object.entries(json.rollouts ?? {})) this.#all.set(model, Rollout.fromJSON(r));
    return [...this.#all.values()];
  }

  save(rollout: Rollout): Promise<void> {
    this.#all.set(rollout.model, rollout);
    const text = `${JSON.stringify(
      { rollouts: Object.fromEntries([...this.#all].map(([m, r]) => [m, Rollout.toJSON(r)])) },
      null,
      2,
    )}\n`;
    const write = async () => {
      const tmp = `${this.location}.tmp-${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, this.location);
    };
    const done = this.#queue.then(write);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  close(): void {}
}

export class EtcdRolloutStore implements RolloutStore {
  readonly location: string;
  readonly #client: Etcd3;
  readonly #prefix: string;

  constructor(opts: { endpoints: string[]; prefix?: string; security?: EtcdSecurity }) {
    this.#prefix = `${etcdLayout(opts.prefix).prefix}rollouts/`;
    this.#client = etcdClient(opts.endpoints, 10_000, opts.security);
    this.location = `etcd ${opts.endpoints.join(",")} ${this.#prefix}`;
  }

  async load(): Promise<Rollout[]> {
    const all = await this.#client.getAll().prefix(this.#prefix).strings();
    return Object.values(all).map((v) => Rollout.fromJSON(JSON.parse(v)));
  }

  async save(rollout: Rollout): Promise<void> {
    await this.#client.put(`${this.#prefix}${rollout.model}`).value(JSON.stringify(Rollout.toJSON(rollout)));
  }

  close(): void {
    this.#client.close();
  }
}

/** For tests. */
export class MemoryRolloutStore implements RolloutStore {
  readonly location = "memory";
  readonly saved = new Map<string, Rollout>();
  load(): Promise<Rollout[]> {
    return Promise.resolve([...this.saved.values()].map((r) => Rollout.fromJSON(Rollout.toJSON(r))));
  }
  save(rollout: Rollout): Promise<void> {
    this.saved.set(rollout.model, Rollout.fromJSON(Rollout.toJSON(rollout)));
    return Promise.resolve();
  }
  close(): void {}
}
