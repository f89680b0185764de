/**
 * The admin API as HTTP/JSON on the control plane's admin port: the same operations, requests
 * and rules as the gRPC service, with REST-style paths. JSON field names are the proto's
 * (snake_case or lowerCamel accepted; answers use lowerCamel, as proto3 JSON does).
 *   GET    /v1/models                         ListModels
 *   GET    /v1/models/{model}                 GetModel
 *   POST   /v1/models/{model}/versions        AddVersion      {base_version, version, nodes | placement, weight}
 *   DELETE /v1/models/{model}/versions/{v}    RemoveVersion   ?base_version=
 *   PUT    /v1/models/{model}/weights         SetWeights      {base_version, weights: {"1": 90}}
 *   PUT    /v1/models/{model}/pin             PinVersion      {base_version, version}
 *   DELETE /v1/models/{model}/pin             UnpinVersion    ?base_version=
 *   PUT    /v1/models/{model}/shadow          SetShadow       {base_version, version, percent}
 *   POST   /v1/nodes/{node}/drain             DrainNode       {base_version}
 *   POST   /v1/nodes/{node}/undrain           UndrainNode     {base_version}
 *   GET    /v1/status                         GetStatus
 *   GET    /v1/fleet                          GetFleet
 *   POST   /v1/rollouts                       StartRollout    {model, to_version, steps, interval_ms, ...}
 *   GET    /v1/rollouts                       ListRollouts
 *   GET    /v1/rollouts/{model}               GetRollout
 *   POST   /v1/rollouts/{model}/abort         AbortRollout
 */
import { status } from "@grpc/grpc-js";
import type { AdminApiErrorBody } from "@inferencehub/contracts/admin-api";
import { codeName, GatewayError } from "@inferencehub/contracts/errors";
import type { AdminCore } from "./admin-core.js";
import type { AdminAuth } from "./auth.js";
import { adminHttpStatusOf } from "./errors.js";
import { dispatch, fromJson, operations } from "./operations.js";

interface Route {
  method: string;
  pattern: RegExp;
  operation: keyof typeof operations;
  /** Path parameters, in the order of the pattern's groups. */
  params: string[];
}

const routes: Route[] = [
  { method: "GET", pattern: /^\/v1\/models$/, operation: "listModels", params: [] },
  { method: "GET", pattern: /^\/v1\/models\/([^/]+)$/, operation: "getModel", params: ["model"] },
  {
    method: "POST",
    pattern: /^\/v1\/models\/([^/]+)\/versions$/,
    operation: "addVersion",
    params: ["model"],
  },
  {
    method: "DELETE",
    pattern: /^\/v1\/models\/([^/]+)\/versions\/([^/]+)$/,
    operation: "removeVersion",
    params: ["model", "version"],
  },
  { method: "PUT", pattern: /^\/v1\/models\/([^/]+)\/weights$/, operation: "setWeights", params: ["model"] },
  { method: "PUT", pattern: /^\/v1\/models\/([^/]+)\/pin$/, operation: "pinVersion", params: ["model"] },
  { method: "DELETE", pattern: /^\/v1\/models\/([^/]+)\/pin$/, operation: "unpinVersion", params: ["model"] },
  { method: "PUT", pattern: /^\/v1\/models\/([^/]+)\/shadow$/, operation: "setShadow", params: ["model"] },
  { method: "POST", pattern: /^\/v1\/nodes\/([^/]+)\/drain$/, operation: "drainNode", params: ["node"] },
  { method: "POST", pattern: /^\/v1\/nodes\/([^/]+)\/undrain$/, operation: "undrainNode", params: ["node"] },
  { method: "GET", pattern: /^\/v1\/status$/, operation: "getStatus", params: [] },
  { method: "GET", pattern: /^\/v1\/fleet$/, operation: "getFleet", params: [] },
  { method: "POST", pattern: /^\/v1\/rollouts$/, operation: "startRollout", params: [] },
  { method: "GET", pattern: /^\/v1\/rollouts$/, operation: "listRollouts", params: [] },
  { method: "GET", pattern: /^\/v1\/rollouts\/([^/]+)$/, operation: "getRollout", params: ["model"] },
  {
    method: "POST",
    pattern: /^\/v1\/rollouts\/([^/]+)\/abort$/,
    operation: "abortRollout",
    params: ["model"],
  },
];

export interface HttpResult {
  status: number;
  body: unknown;
}

/** The request body as a JSON object; an empty body is `{}`. */
function bodyObject(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new GatewayError(
      status.INVALID_ARGUMENT,
      `the body is not valid JSON (${(err as Error).message}); send a JSON object, such as {"base_version": "..."}`,
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    const kind = json === null ? "null" : Array.isArray(json) ? "an array" : `a ${typeof json}`;
    throw new GatewayError(
      status.INVALID_ARGUMENT,
      `the body must be a JSON object, such as {"base_version": "..."}; got ${kind}`,
    );
  }
  return json as Record<string, unknown>;
}

function pathParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatewayError(
      status.INVALID_ARGUMENT,
      `the ${name} in the path is not valid percent-encoding: '${raw}'`,
    );
  }
}

export async function handleAdminHttp(
  core: AdminCore,
  auth: AdminAuth,
  req: { method: string; url: URL; authorization: string[]; body: string },
): Promise<HttpResult> {
  try {
    const path = req.url.pathname;
    const candidates = routes.filter((r) => r.pattern.test(path));
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      if (candidates.length > 0)
        return {
          status: 405,
          body: { error: `use ${candidates.map((r) => r.method).join(" or ")} on ${path}` },
        };
      return { status: 404, body: { error: `no admin route ${path}; see xds-server/README.md for the API` } };
    }
    const who = auth.check(req.authorization);
    const json = bodyObject(req.body);
    for (const [k, v] of req.url.searchParams) json[k] ??= v;
    const match = route.pattern.exec(path) ?? [];
    route.params.forEach((p, i) => (json[p] = pathParam(p, match[i + 1] ?? "")));
    const operation = operations[route.operation]!;
    const result = await dispatch(operation, core, fromJson(operation, json), who);
    return { status: 200, body: operation.response.toJSON(result) };
  } catch (err) {
    if (err instanceof GatewayError) {
      return {
        status: adminHttpStatusOf(err.code),
        body: {
          error: err.message,
          code: codeName(err.code),
          violations: [...err.violations],
        } satisfies AdminApiErrorBody,
      };
    }
    throw err;
  }
}
