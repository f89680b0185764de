/**
 * Stock servers (Triton, MLServer, KServe runtimes) run the version a request's body names, not
 * the gateway's x-inferencehub-model-version header. For a cluster whose nodes read the body
 * (`versionFrom: body`), this upstream filter writes the version the route chose into the body
 * of each unary model call: model_version (field 2 of ModelInferRequest, ModelMetadataRequest,
 * ModelReadyRequest, ModelConfigRequest and ModelStatisticsRequest) becomes the version's serverVersion, or goes when that is "" (the server's
 * default model). It runs after the cluster is chosen, so weighted, pinned and shadow calls alike
 * reach the node with the version routing picked.
 *
 * Envoy's Lua filter, as an upstream filter: it buffers the whole request (one gRPC message), so
 * streams are left alone (the script checks the path first) and a request larger than Envoy's
 * buffer limit fails. A compressed message cannot be rewritten: it is refused with
 * INVALID_ARGUMENT rather than sent with the client's version.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/lua_filter
 * https://protobuf.dev/programming-guides/encoding/
 */
import { inferenceService, unaryModelMethods } from "@inferencehub/contracts/protocol";
import { luaUpstreamFilter } from "./lua.js";

/** The Lua source for one cluster; `version` is a checked version name or "" (no quoting needed). */
export function bodyVersionLua(version: string): string {
  if (!/^([A-Za-z0-9][A-Za-z0-9-]{0,62})?$/.test(version)) {
    throw new Error(`bodyVersionLua: ${JSON.stringify(version)} is not a version name`);
  }
  return `-- Written by the InferenceHub control plane: model_version := "${version}".
local version = "${version}"
local unary = { ${Object.keys(unaryModelMethods)
    .map((method) => `["/${inferenceService}/${method}"] = true`)
    .join(",\n  ")} }

local function varint(s, i)
  local value, scale = 0, 1
  for k = i, math.min(#s, i + 9) do
    local b = s:byte(k)
    value = value + (b % 128) * scale
    if b < 128 then return value, k + 1 end
    scale = scale * 128
  end
  return nil
end

local function encode_varint(n)
  local out = {}
  repeat
    local b = n % 128
    n = math.floor(n / 128)
    if n > 0 then b = b + 128 end
    out[#out + 1] = string.char(b)
  until n == 0
  return table.concat(out)
end

-- The message's fields without field 2, or nil when the bytes are not a protobuf message.
local function without_version(frame, n)
  local parts, i = {}, 6
  while i <= n do
    local tag, j = varint(frame, i)
    if not tag then return nil end
    local wire, stop = tag % 8, nil
    if wire == 0 then
      local _, k = varint(frame, j)
      if not k then return nil end
      stop = k
    elseif wire == 1 then stop = j + 8
    elseif wire == 5 then stop = j + 4
    elseif wire == 2 then
      local len, k = varint(frame, j)
      if not len then return nil end
      stop = k + len
    else return nil end
    if stop > n + 1 then return nil end
    if math.floor(tag / 8) ~= 2 then parts[#parts + 1] = frame:sub(i, stop - 1) end
    i = stop
  end
  return table.concat(parts)
end

local function refuse(handle, message)
  handle:respond({ [":status"] = "200", ["content-type"] = "application/grpc",
    ["grpc-status"] = "3", ["grpc-message"] = message }, "")
end

function envoy_on_request(handle)
  if not unary[handle:headers():get(":path")] then return end
  local body = handle:body()
  if body == nil then return end
  local n = body:length()
  local frame = body:getBytes(0, n)
  if n < 5 then return end
  if frame:byte(1) ~= 0 then
    refuse(handle, "this version's nodes read the version from the request body, which the gateway cannot rewrite in a compressed message: send it uncompressed")
    return
  end
  local declared = ((frame:byte(2) * 256 + frame:byte(3)) * 256 + frame:byte(4)) * 256 + frame:byte(5)
  if 5 + declared ~= n then return end
  local message = without_version(frame, n)
  if message == nil then return end
  if version ~= "" then message = "\\18" .. encode_varint(#version) .. version .. message end
  local m = #message
  body:setBytes(string.char(0, math.floor(m / 16777216) % 256, math.floor(m / 65536) % 256,
    math.floor(m / 256) % 256, m % 256) .. message)
  handle:headers():remove("content-length")
end
`;
}

/** The upstream filter entry for a cluster's HttpProtocolOptions.http_filters. */
export function bodyVersionFilter(version: string) {
  return luaUpstreamFilter(bodyVersionLua(version));
}
