/**
 * The Lua half of model-from-first-message.ts: after gRPC field extraction has put the first
 * message's model_name and model_version in dynamic metadata, it sets the model (and version)
 * headers and has Envoy choose the route again.
 */
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { grpcStatus } from "../common.js";

export const extractionFilterName = "envoy.filters.http.grpc_field_extraction";

export const modelFromFirstMessageLua = `-- Written by the InferenceHub control plane: routes a call without the model header by the
-- model_name and model_version of its first message, which gRPC field extraction has read.
local model_header = "${modelHeader}"
local version_header = "${versionHeader}"

local function first(list)
  if type(list) ~= "table" then return nil end
  return list[1]
end

local function is_name(s, pattern)
  return type(s) == "string" and #s <= 63 and s:find(pattern) ~= nil
end

function envoy_on_request(handle)
  local extracted = handle:streamInfo():dynamicMetadata():get("${extractionFilterName}")
  if extracted == nil then return end
  local model = first(extracted["model_name"]) or first(extracted["name"])
  local version = first(extracted["model_version"]) or first(extracted["version"])
  if not is_name(model, "^[%l%d][%l%d%-]*$") then return end
  local headers = handle:headers()
  if version ~= nil and version ~= "" then
    if not is_name(version, "^[%w][%w%-]*$") then return end
    local pinned = headers:get(version_header)
    if pinned ~= nil and pinned ~= version then
      handle:respond({ [":status"] = "200", ["content-type"] = "application/grpc",
        ["grpc-status"] = "${grpcStatus.invalidArgument}",
        ["grpc-message"] = "model_version '" .. version .. "' in the request does not match the " ..
          version_header .. " header '" .. pinned:sub(1, 63) .. "'" }, "")
      return
    end
    headers:replace(version_header, version)
  end
  headers:replace(model_header, model)
  handle:clearRouteCache()
end
`;
