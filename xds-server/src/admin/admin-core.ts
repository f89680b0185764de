/**
 * The admin operations, shared by the gRPC service and the HTTP/JSON front: reads from the
 * config that serves, and edits that go through the same path as an operator's file edit.
 */
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type {
  EditResponse,
  GetFleetResponse,
  GetStatusResponse,
  ListModelsResponse,
  ListRolloutsResponse,
  Model,
  RolloutResponse,
  StartRolloutRequest,
} from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { applyEdit, type Edit } from "./edits.js";
import type { AdminConfigStore, AdminRollouts, AdminStatus, ConfigEditResult, EditScope } from "./ports.js";

export interface AdminCoreOptions {
  config: AdminConfigStore;
  log: Logger;
  status: () => AdminStatus;
}

const scopeOf = (edit: Edit): EditScope =>
  "model" in edit ? { list: "models", name: edit.model } : { list: "nodes", name: edit.node };

function toModel(config: Config, name: string): Model {
  const m = config.models.find((x) => x.name === name);
  if (!m) throw new GatewayError(status.NOT_FOUND, `model '${name}' is not in the config`);
  return {
    name: m.name,
    versions: m.versions.map((v) => ({
      version: v.version,
      weight: v.weight,
      nodes: [...v.nodes],
      placement: v.placement
        ? {
            pools: [...v.placement.pools],
            replicas: v.placement.replicas === "all" ? 0 : v.placement.replicas,
            allNodes: v.placement.replicas === "all",
            labels: { ...v.placement.labels },
          }
        : undefined,
    })),
    pinned: (m as { pin?: string }).pin ?? "",
    shadow: m.shadow ? { version: m.shadow.version, percent: m.shadow.percent } : undefined,
  };
}

export class AdminCore {
  #rollouts: AdminRollouts | undefined;

  constructor(private readonly options: AdminCoreOptions) {}

  /** The rollout engine, attached once it is made (it edits through this core). */
  attachRollouts(rollouts: AdminRollouts): void {
    this.#rollouts = rollouts;
  }

  #rolloutEngine(): AdminRollouts {
    if (!this.#rollouts) throw new GatewayError(status.UNAVAILABLE, "rollouts are not available yet");
    return this.#rollouts;
  }

  async startRollout(req: StartRolloutRequest, who: string): Promise<RolloutResponse> {
    return { rollout: await this.#rolloutEngine().start(req, who) };
  }

  getRollout(model: string): RolloutResponse {
    return { rollout: this.#rolloutEngine().get(model) };
  }

  listRollouts(): ListRolloutsResponse {
    return { rollouts: this.#rolloutEngine().list() };
  }

  async abortRollout(model: string, who: string): Promise<RolloutResponse> {
    return { rollout: await this.#rolloutEngine().abort(model, who) };
  }

  #current(): Config {
    const c = this.options.config.current;
    if (!c) throw new GatewayError(status.UNAVAILABLE, "no config is serving yet");
    return c;
  }

  listModels(): ListModelsResponse {
    const config = this.#current();
    return {
      configVersion: this.options.config.version,
      models: config.models.map((m) => toModel(config, m.name)),
    };
  }

  getModel(name: string): { configVersion: string; model: Model } {
    return { configVersion: this.options.config.version, model: toModel(this.#current(), name) };
  }

  fleet(): GetFleetResponse {
    const s = this.options.status();
    const fleet = s.fleet ?? { versions: [], nodes: [] };
    return {
      configVersion: s.configVersion,
      versions: fleet.versions.map((v) => ({
        model: v.model,
        version: v.version,
        replicas: String(v.replicas),
        assigned: [...v.assigned],
        unplaced: v.unplaced ?? "",
        nodes: v.nodes.map((n) => ({
          node: n.node,
          state: n.state,
          since: n.since ?? "",
          reason: n.reason ?? "",
          retryAt: n.retryAt ?? "",
        })),
      })),
      nodes: fleet.nodes.map((n) => ({
        node: n.node,
        repository: n.reachable === undefined ? "unknown" : n.reachable ? "up" : "down",
        error: n.error ?? "",
        models: n.capacity?.models ?? 0,
        maxModels: n.capacity?.maxModels ?? 0,
        memoryBytes: n.capacity?.memoryBytes ?? 0,
        loaded: [...n.loaded],
      })),
    };
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
   * One edit as one transaction of the config store (serialized with every other edit and load
   * of a file; a compare-and-swap on the entry's revision in etcd): check the base version the
   * caller read, compute and validate the new config, store it, apply it. An edit either serves,
   * is stored and has its audit line, or is refused (or fails) with nothing changed.
   *
   * An edit that changes nothing (the weights the model already has, unpin of a model with no
   * pin) is a success without a write: the config version stays, and the audit line says
   * `changed: false`. It still needs a current base_version, like any other edit: the caller
   * asserted a state, and a stale one is a conflict.
   */
  async edit(edit: Edit, baseVersion: string, who: string): Promise<EditResponse> {
    this.#current();
    const store = this.options.config;
    let result: ConfigEditResult;
    try {
      result = await store.edit({
        scope: scopeOf(edit),
        baseVersion,
        change: (text) => applyEdit(text, edit),
      });
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.options.log.error({ err, who, edit, baseVersion }, "admin edit failed; nothing was changed");
      throw new GatewayError(
        status.INTERNAL,
        `the edit failed and nothing was changed (the stored config and the config serving are as before): ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
    const modelIn = (config: Config) =>
      "model" in edit && config.models.some((m) => m.name === edit.model)
        ? toModel(config, edit.model)
        : undefined;
    const before = modelIn(result.previous);
    const after = modelIn(result.config);
    const changed = result.status === "applied";
    this.options.log.info(
      { audit: true, who, edit, before, after, baseVersion, configVersion: result.version, changed },
      `admin edit by ${who}: ${edit.op}${changed ? "" : " (no change)"}`,
    );
    return { configVersion: result.version, model: after };
  }
}
