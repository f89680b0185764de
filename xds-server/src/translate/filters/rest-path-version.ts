/**
 * A REST call names its version in the path, which the route wrote for the version it chose. A
 * shadow copy is sent to another version's cluster with that same path, so the shadow version's
 * REST cluster rewrites it, as an upstream filter, to the version its nodes serve: the copy runs
 * the shadow version, as a gRPC copy does through the cluster's routed-version header. Calls the
 * route already sent with this version's path pass unchanged.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/lua_filter
 */
import { restModelsPrefix } from "@inferencehub/contracts/protocol";
import { luaUpstreamFilter } from "./lua.js";

const name = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

/** `pathVersion` as in RestVersionIR: the nodes' name for the version, "" for none. */
export function restPathVersionLua(model: string, pathVersion: string): string {
  if (!name.test(model) || (pathVersion !== "" && !name.test(pathVersion))) {
    throw new Error(`restPathVersionLua: ${JSON.stringify([model, pathVersion])} are not names`);
  }
  const base = `${restModelsPrefix}${model}`;
  const to = pathVersion === "" ? base : `${base}/versions/${pathVersion}`;
  return `-- Written by the InferenceHub control plane: REST paths of ${model} name version "${pathVersion}".
local base = "${base}"
local to = "${to}"

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path")
  if path == nil or path:sub(1, #base) ~= base then return end
  local rest = path:sub(#base + 1)
  local after = rest:match("^/versions/[^/?]+(.*)$")
  if after ~= nil then rest = after end
  local next = rest:sub(1, 1)
  if next ~= "" and next ~= "/" and next ~= "?" then return end
  headers:replace(":path", to .. rest)
end
`;
}

/** The upstream filter entry for a REST cluster's HttpProtocolOptions.http_filters. */
export function restPathVersionFilter(model: string, pathVersion: string) {
  return luaUpstreamFilter(restPathVersionLua(model, pathVersion));
}
