/**
 * The admin operations as one table: request message → checked request → result. The gRPC
 * service and the HTTP/JSON front both dispatch through it, so they cannot drift apart.
 */
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import * as api from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { protoDir } from "../paths.js";
import type { AdminCore } from "./admin-core.js";
import type { Edit, EditPlacement } from "./edits.js";
import { RuleSet } from "./pgv.js";

const rules = RuleSet.load(join(protoDir, "inferencehub/admin/v1/admin.proto"), "inferencehub.admin.v1");

interface Codec<T> {
  fromJSON(o: unknown): T;
  toJSON(m: T): unknown;
}

export interface Operation<Req, Res> {
  /** The rpc name, and the request message name whose PGV rules apply. */
  method: string;
  message: string;
  request: Codec<Req>;
  response: Codec<Res>;
  /** Reads need a token too; edits also carry base_version. */
  run(core: AdminCore, req: Req, who: string): Res | Promise<Res>;
}

const edit =
  <Req extends { baseVersion: string }>(toEdit: (r: Req) => Edit) =>
  (core: AdminCore, req: Req, who: string) =>
    core.edit(toEdit(req), req.baseVersion, who);

/** A version is served by the nodes named, or placed by the control plane: one or the other. */
function placementOf(r: api.AddVersionRequest): { placement?: EditPlacement } {
  const p = r.placement;
  if (p && r.nodes.length > 0)
    throw new GatewayError(status.INVALID_ARGUMENT, "name nodes or a placement, not both", {
      violations: [
        { field: "placement", message: "a version with nodes is not placed by the control plane" },
      ],
    });
  if (!p) {
    if (r.nodes.length === 0)
      throw new GatewayError(
        status.INVALID_ARGUMENT,
        "name the nodes that serve the version, or a placement",
        {
          violations: [{ field: "nodes", message: "empty, and no placement" }],
        },
      );
    return {};
  }
  if (p.allNodes && p.replicas > 0)
    throw new GatewayError(status.INVALID_ARGUMENT, "placement: replicas or all_nodes, not both", {
      violations: [{ field: "placement.replicas", message: "set with all_nodes" }],
    });
  return {
    placement: { pools: p.pools, replicas: p.allNodes ? "all" : Math.max(1, p.replicas), labels: p.labels },
  };
}

const op = <Req, Res>(o: Operation<Req, Res>): Operation<unknown, unknown> =>
  o as unknown as Operation<unknown, unknown>;

export const operations: Record<string, Operation<unknown, unknown>> = {
  listModels: op({
    method: "ListModels",
    message: "ListModelsRequest",
    request: api.ListModelsRequest,
    response: api.ListModelsResponse,
    run: (core) => core.listModels(),
  }),
  getModel: op({
    method: "GetModel",
    message: "GetModelRequest",
    request: api.GetModelRequest,
    response: api.GetModelResponse,
    run: (core, req: api.GetModelRequest) => core.getModel(req.model),
  }),
  addVersion: op({
    method: "AddVersion",
    message: "AddVersionRequest",
    request: api.AddVersionRequest,
    response: api.EditResponse,
    run: edit((r: api.AddVersionRequest) => ({
      op: "addVersion",
      model: r.model,
      version: r.version,
      nodes: r.nodes,
      weight: r.weight,
      ...placementOf(r),
    })),
  }),
  removeVersion: op({
    method: "RemoveVersion",
    message: "RemoveVersionRequest",
    request: api.RemoveVersionRequest,
    response: api.EditResponse,
    run: edit((r: api.RemoveVersionRequest) => ({ op: "removeVersion", model: r.model, version: r.version })),
  }),
  setWeights: op({
    method: "SetWeights",
    message: "SetWeightsRequest",
    request: api.SetWeightsRequest,
    response: api.EditResponse,
    run: edit((r: api.SetWeightsRequest) => ({ op: "setWeights", model: r.model, weights: r.weights })),
  }),
  pinVersion: op({
    method: "PinVersion",
    message: "PinVersionRequest",
    request: api.PinVersionRequest,
    response: api.EditResponse,
    run: edit((r: api.PinVersionRequest) => ({ op: "pin", model: r.model, version: r.version })),
  }),
  unpinVersion: op({
    method: "UnpinVersion",
    message: "UnpinVersionRequest",
    request: api.UnpinVersionRequest,
    response: api.EditResponse,
    run: edit((r: api.UnpinVersionRequest) => ({ op: "unpin", model: r.model })),
  }),
  setShadow: op({
    method: "SetShadow",
    message: "SetShadowRequest",
    request: api.SetShadowRequest,
    response: api.EditResponse,
    run: edit((r: api.SetShadowRequest) => ({
      op: "setShadow",
      model: r.model,
      version: r.version,
      percent: r.percent,
    })),
  }),
  drainNode: op({
    method: "DrainNode",
    message: "DrainNodeRequest",
    request: api.DrainNodeRequest,
    response: api.EditResponse,
    run: edit((r: api.DrainNodeRequest) => ({ op: "drain", node: r.node })),
  }),
  undrainNode: op({
    method: "UndrainNode",
    message: "UndrainNodeRequest",
    request: api.UndrainNodeRequest,
    response: api.EditResponse,
    run: edit((r: api.UndrainNodeRequest) => ({ op: "undrain", node: r.node })),
  }),
  getFleet: op({
    method: "GetFleet",
    message: "GetFleetRequest",
    request: api.GetFleetRequest,
    response: api.GetFleetResponse,
    run: (core) => core.fleet(),
  }),
  startRollout: op({
    method: "StartRollout",
    message: "StartRolloutRequest",
    request: api.StartRolloutRequest,
    response: api.RolloutResponse,
    run: (core, req: api.StartRolloutRequest, who) => core.startRollout(req, who),
  }),
  getRollout: op({
    method: "GetRollout",
    message: "GetRolloutRequest",
    request: api.GetRolloutRequest,
    response: api.RolloutResponse,
    run: (core, req: api.GetRolloutRequest) => core.getRollout(req.model),
  }),
  listRollouts: op({
    method: "ListRollouts",
    message: "ListRolloutsRequest",
    request: api.ListRolloutsRequest,
    response: api.ListRolloutsResponse,
    run: (core) => core.listRollouts(),
  }),
  abortRollout: op({
    method: "AbortRollout",
    message: "AbortRolloutRequest",
    request: api.AbortRolloutRequest,
    response: api.RolloutResponse,
    run: (core, req: api.AbortRolloutRequest, who) => core.abortRollout(req.model, who),
  }),
  getStatus: op({
    method: "GetStatus",
    message: "GetStatusRequest",
    request: api.GetStatusRequest,
    response: api.GetStatusResponse,
    run: (core) => core.status(),
  }),
};

/**
 * A request from proto3 JSON: every field of the right JSON type first (the decoder would turn
 * "abc" into NaN and ["x"] into "x"), then the message.
 */
export function fromJson(operation: Operation<unknown, unknown>, json: Record<string, unknown>): unknown {
  const violations = rules.checkJson(operation.message, json);
  if (violations.length > 0) {
    throw new GatewayError(
      status.INVALID_ARGUMENT,
      `invalid ${operation.method} request: ${violations.map((v) => `${v.field} ${v.message}`).join("; ")}`,
      { violations: violations },
    );
  }
  return operation.request.fromJSON(json);
}

/** Checks the request against its PGV rules, then runs it. */
export async function dispatch(
  operation: Operation<unknown, unknown>,
  core: AdminCore,
  req: unknown,
  who: string,
): Promise<unknown> {
  const violations = rules.check(operation.message, req as Record<string, unknown>);
  if (violations.length > 0) {
    throw new GatewayError(
      status.INVALID_ARGUMENT,
      `invalid ${operation.method} request: ${violations.map((v) => `${v.field} ${v.message}`).join("; ")}`,
      { violations: violations },
    );
  }
  return operation.run(core, req, who);
}
