/**
 * The Lua half of model-from-first-message.ts: after gRPC field extraction has put the first
 * message's model_name and model_version in dynamic metadata, it sets the model (and version)
 * headers and has Envoy choose the route again.
 */
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { grpcStatus } from "../common.js";

export const extractionFilterName = "envoy.filters.http.grpc_field_extraction";

/**
 * Lua: whether a model is served. Without a list (the scripts every route shares) every model
 * name is, and one that is not gets NOT_FOUND from the routing; with one (native authorization's
 * no-model routes carry their own copy of the script, so the list changes with the routes, not
 * the listener) a name not on it is left alone: the call stays on its route, for ext-authz to
 * read the name and answer. The script must then change no header: the Lua filter has Envoy
 * choose the route again whenever it does.
 */
export function servedFunction(models?: readonly string[]): string {
  if (models === undefined) return "local function served(model) return true end";
  const list = models.map((m) => `["${m}"] = true`).join(", ");
  return `local served_models = { ${list} }
local function served(model) return served_models[model] ~= nil end`;
}

/**
 * Lua shared by the scripts that read the first message: the header names, and the model name and
 * version gRPC field extraction put in dynamic metadata (nil when it read none).
 */
const firstMessagePrelude = `local model_header = "${modelHeader}"
local version_header = "${versionHeader}"

local function first(list)
  if type(list) ~= "table" then return nil end
  return list[1]
end

local function extracted_model(handle)
  local extracted = handle:streamInfo():dynamicMetadata():get("${extractionFilterName}")
  if extracted == nil then return nil, nil end
  return first(extracted["model_name"]) or first(extracted["name"]),
    first(extracted["model_version"]) or first(extracted["version"])
end`;

export const modelFromFirstMessageLua = (
  models?: readonly string[],
): string => `-- Written by the InferenceHub control plane: routes a call without the model header by the
-- model_name and model_version of its first message, which gRPC field extraction has read.
${firstMessagePrelude}

local function is_name(s, pattern)
  return type(s) == "string" and #s <= 63 and s:find(pattern) ~= nil
end

${servedFunction(models)}

function envoy_on_request(handle)
  local model, version = extracted_model(handle)
  if not is_name(model, "^[%l%d][%l%d%-]*$") then return end
  -- Native authorization: ext-authz answers a model this gateway does not serve, from the body,
  -- so a caller learns nothing of what exists before its credentials are checked. (Changing a
  -- header would have Envoy choose the route again, and find none.)
  if not served(model) then return end
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

/**
 * Native mode's check of a unary call that names its model in a header and in its body, as
 * ext-authz makes it (ext-authz/src/decide.ts, with the same messages): the body may not name
 * another model, so a call allowed for one model cannot ask a shared node about another; a
 * version in the body pins the call like the version header, and one that differs from the
 * header is refused.
 */
export const firstMessageMatchesHeadersLua = `-- Written by the InferenceHub control plane: refuses a call whose first message names another
-- model or version than its headers, and pins the version its message names.
${firstMessagePrelude}

-- A client's value in a message: printable ASCII, cut to 64 characters.
local function quoted(s)
  local safe = s:gsub("[^%w%-%._~:/]", "?")
  if #safe > 64 then safe = safe:sub(1, 64) .. "..." end
  return "'" .. safe .. "'"
end

local function refuse(handle, message)
  handle:respond({ [":status"] = "200", ["content-type"] = "application/grpc",
    ["grpc-status"] = "${grpcStatus.invalidArgument}", ["grpc-message"] = message }, "")
end

function envoy_on_request(handle)
  local model, version = extracted_model(handle)
  local headers = handle:headers()
  local named = headers:get(model_header)
  if type(model) ~= "string" or model == "" or named == nil then return end
  if model ~= named then
    refuse(handle, "model_name " .. quoted(model) .. " in the request does not match the " ..
      model_header .. " header " .. quoted(named))
    return
  end
  if type(version) ~= "string" or version == "" then return end
  local pinned = headers:get(version_header)
  if pinned == version then return end
  if pinned ~= nil then
    refuse(handle, "model_version " .. quoted(version) .. " in the request does not match the " ..
      version_header .. " header " .. quoted(pinned))
    return
  end
  if #version > 63 or version:find("^[%w][%w%-]*$") == nil then
    refuse(handle, "model_version " .. quoted(version) .. " in the request is not a version name")
    return
  end
  headers:replace(version_header, version)
  handle:clearRouteCache()
end
`;
