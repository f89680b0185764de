/**
 * The REST/JSON form names the model in the URL path (/v2/models/<model>/...), and Envoy chooses a
 * routing scope by the model header before any filter runs. On the one route that enables it (REST
 * paths without the header), this script sets the header from the path and has Envoy choose again:
 * the call is then routed, authorized and counted by the model's own routes, with no body read.
 * A path whose model segment is no model name is left alone: that route answers it.
 */
import { modelHeader } from "@inferencehub/contracts/headers";
import { servedFunction } from "./model-from-first-message-lua.js";
import { restModelsPrefix } from "@inferencehub/contracts/protocol";

export const modelFromPathLua = (
  models?: readonly string[],
): string => `-- Written by the InferenceHub control plane: routes a REST call by the model in its path,
-- as if the client had sent the ${modelHeader} header.
local model_header = "${modelHeader}"
local prefix = "${restModelsPrefix}"

${servedFunction(models)}

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path")
  if path == nil or path:sub(1, #prefix) ~= prefix then return end
  local model, after = path:match("^([%l%d][%l%d%-]*)(.?)", #prefix + 1)
  if model == nil or #model > 63 then return end
  if after ~= "" and after ~= "/" and after ~= "?" then return end
  -- A model not served stays on this route, for ext-authz to answer from the path (native
  -- authorization): no header changes, since any has Envoy choose the route again.
  if not served(model) then return end
  headers:replace(model_header, model)
  handle:clearRouteCache()
end
`;
