/**
 * The admin operations, shared by the gRPC service and the HTTP/JSON front: reads from the
 * config that serves, and edits that go through the same path as an operator's file edit.
 */
import { isDeepStrictEqual } from "node:util";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { parseConfig, type Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type {
  EditResponse,
  GetStatusResponse,
  ListModelsResponse,
  Model,
} from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { applyEdit, type Edit } from "./edits.js";
import type { AdminConfigFile, AdminStatus, ConfigEditResult } from "./ports.js";

export interface AdminCoreOptions {
  config: AdminConfigFile;
  log: Logger;
  status: () => AdminStatus;
}

function toModel(config: Config, name: string): Model {
  const m = config.models.find((x) => x.name === name);
  if (!m) throw new GatewayError(status.NOT_FOUND, `model '${name}' is not in the config`);
  return {
    name: m.name,
    versions: m.versions.map((v) => ({ version: v.version, weight: v.weight, nodes: [...v.nodes] })),
    pinned: (m as { pin?: string }).pin ?? "",
    shadow: m.shadow ? { version: m.shadow.version, percent: m.shadow.percent } : undefined,
  };
}

export class AdminCore {
  constructor(private readonly options: AdminCoreOptions) {}

  #current(): Config {
    const c = this.options.config.current;
    if (!c) throw new GatewayError(status.UNAVAILABLE, "no config is serving yet");
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
        inSync: c.syncedVersion !== "" && c.syncedVersion === s.snapshots[c.group],
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
      ...(s.auth ? { auth: { ...s.auth, verifiedByEnvoy: [...s.auth.verifiedByEnvoy] } } : {}),
    };
  }

  /**
   * One edit as one transaction of the config file (serialized with every other edit and every
   * load of the file): read the file, check it serves as is and is what the caller based the edit
   * on, compute and validate the new text, write it, apply it. An edit either serves, is in the
   * file and has its audit line, or is refused (or fails) with nothing changed.
   *
   * An edit that changes nothing (the weights the model already has, unpin of a model with no
   * pin) is a success without a write: the config version stays, and the audit line says
   * `changed: false`. It still needs a current base_version, like any other edit: the caller
   * asserted a state, and a stale one is a conflict.
   */
  async edit(edit: Edit, baseVersion: string, who: string): Promise<EditResponse> {
    this.#current();
    const file = this.options.config;
    let before: Model | undefined;
    let result: ConfigEditResult;
    try {
      result = await file.edit(({ text, hash, current, currentHash }) => {
        if (hash !== currentHash) {
          throw new GatewayError(
            status.ABORTED,
            `${file.path} holds changes that are not serving (an edit in progress or one that was refused); resolve them, then retry`,
          );
        }
        if (baseVersion !== currentHash) {
          throw new GatewayError(
            status.ABORTED,
            `conflict: this edit was based on config version ${baseVersion}, but the config is now at ${currentHash}; read it again and retry`,
          );
        }
        before = "model" in edit ? toModel(current, edit.model) : undefined;
        const next = applyEdit(text, edit);
        if (next === text) return undefined;
        const parsed = parseConfig(next, file.path);
        if (!parsed.ok) {
          throw new GatewayError(
            status.INVALID_ARGUMENT,
            `the edit would make the config invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
            { violations: parsed.errors.map((e) => ({ field: e.path, message: e.message })) },
          );
        }
        // Same meaning, other text (say `drain: false` removed): nothing to serve, nothing to write.
        if (isDeepStrictEqual(parsed.value, current)) return undefined;
        return { text: next, config: parsed.value };
      });
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.options.log.error({ err, who, edit, baseVersion }, "admin edit failed; nothing was changed");
      throw new GatewayError(
        status.INTERNAL,
        `the edit failed and nothing was changed (the file and the config serving are as before): ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
    const after = "model" in edit ? toModel(result.config, edit.model) : undefined;
    const changed = result.status === "applied";
    this.options.log.info(
      { audit: true, who, edit, before, after, baseVersion, configVersion: result.hash, changed },
      `admin edit by ${who}: ${edit.op}${changed ? "" : " (no change)"}`,
    );
    return { configVersion: result.hash, model: after };
  }
}
