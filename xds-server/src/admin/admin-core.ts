/**
 * The admin operations, shared by the gRPC service and the HTTP/JSON front: reads from the
 * config that serves, and edits that go through the same path as an operator's file edit.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type {
  EditResponse,
  GetStatusResponse,
  ListModelsResponse,
  Model,
} from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { parseConfig, type Config } from "../config/index.js";
import type { ControlPlaneStatus } from "../runner/control-plane.js";
import type { ConfigFile } from "../runner/config-file.js";
import { contentHash } from "../snapshot/index.js";
import { applyEdit, type Edit } from "./edits.js";
import { AdminError } from "./errors.js";

export interface AdminCoreOptions {
  config: ConfigFile;
  log: Logger;
  status: () => ControlPlaneStatus;
}

function toModel(config: Config, name: string): Model {
  const m = config.models.find((x) => x.name === name);
  if (!m) throw new AdminError(status.NOT_FOUND, `model '${name}' is not in the config`);
  return {
    name: m.name,
    versions: m.versions.map((v) => ({ version: v.version, weight: v.weight, nodes: [...v.nodes] })),
    pinned: (m as { pin?: string }).pin ?? "",
    shadow: m.shadow ? { version: m.shadow.version, percent: m.shadow.percent } : undefined,
  };
}

export class AdminCore {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AdminCoreOptions) {}

  #current(): Config {
    const c = this.options.config.current;
    if (!c) throw new AdminError(status.UNAVAILABLE, "no config is serving yet");
    return c;
  }

  listModels(): ListModelsResponse {
    const config = this.#current();
    return {
      configVersion: this.options.config.hash,
      models: config.models.map((m) => toModel(config, m.name)),
    };
  }

  getModel(name: string): { configVersion: string; model: Model } {
    return { configVersion: this.options.config.hash, model: toModel(this.#current(), name) };
  }

  status(): GetStatusResponse {
    const s = this.options.status();
    return {
      configVersion: s.configVersion,
      snapshotVersions: s.snapshots as Record<string, string>,
      clients: s.clients.map((c) => ({
        nodeId: c.nodeId,
        group: c.group,
        transport: c.transport,
        inSync:
          c.syncedVersion !== "" && c.syncedVersion === s.snapshots[c.group as keyof typeof s.snapshots],
        syncedVersion: c.syncedVersion,
        nacks: c.nacks.map((n) => ({ kind: n.kind, version: n.version, message: n.message, at: n.at })),
      })),
      nodes: (this.options.config.current?.nodes ?? []).map((n) => ({
        node: n.name,
        address: n.address,
        models: s.health?.[n.name] ?? {},
        draining: n.drain,
      })),
      refusedEdit: s.refusedEdit.map((e) => `${e.path ? `${e.path}: ` : ""}${e.message}`),
    };
  }

  /** One edit at a time: each is computed from, and checked against, the file as it is. */
  edit(edit: Edit, baseVersion: string, who: string): Promise<EditResponse> {
    const run = this.#queue.then(() => this.#edit(edit, baseVersion, who));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #edit(edit: Edit, baseVersion: string, who: string): Promise<EditResponse> {
    const file = this.options.config;
    const text = await readFile(file.path, "utf8");
    if (contentHash(text) !== file.hash) {
      throw new AdminError(
        status.ABORTED,
        `${file.path} holds changes that are not serving (an edit in progress or one that was refused); resolve them, then retry`,
      );
    }
    if (baseVersion !== file.hash) {
      throw new AdminError(
        status.ABORTED,
        `conflict: this edit was based on config version ${baseVersion}, but the config is now at ${file.hash}; read it again and retry`,
      );
    }
    const before = "model" in edit ? toModel(this.#current(), edit.model) : undefined;
    const next = applyEdit(text, edit);
    const parsed = parseConfig(next, file.path);
    if (!parsed.ok) {
      throw new AdminError(
        status.INVALID_ARGUMENT,
        `the edit would make the config invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        parsed.errors.map((e) => ({ field: e.path, message: e.message })),
      );
    }
    file.prevalidated(next, parsed.value);
    // Atomic: readers (and the file watcher) see the old file or the new one, never half of one.
    const tmp = `${file.path}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(tmp, next, { mode: 0o644 });
    await rename(tmp, file.path);
    const result = await file.load();
    if (result.status !== "applied" && contentHash(next) !== file.hash) {
      throw new AdminError(
        status.INTERNAL,
        "the edit was written but did not apply; see the control plane's log",
      );
    }
    const after = "model" in edit ? toModel(this.#current(), edit.model) : undefined;
    this.options.log.info(
      { audit: true, who, edit, before, after, baseVersion, configVersion: file.hash },
      `admin edit by ${who}: ${edit.op}`,
    );
    return { configVersion: file.hash, model: after };
  }
}
