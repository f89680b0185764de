/**
 * Stock clients (tritonclient, KServe's) name the model in the request message, not in a header.
 * Envoy routes on headers, so a model call that comes without the model header is held until its
 * first message is whole, and routed by that message: two filters, on the one route that enables
 * them (modelFromFirstMessagePerRoute):
 * - Envoy's gRPC field extraction filter holds the headers, buffers the first message (only that
 *   one: the rest of a stream flows on), and puts its model_name and model_version in dynamic
 *   metadata; a message it cannot parse is refused with INVALID_ARGUMENT;
 * - a Lua filter then sets `inferencehub-model` (and `inferencehub-model-version` from a non-empty
 *   model_version) and has Envoy choose the route again, before ext_authz checks the call. The
 *   call is then routed, authorized and counted exactly as if the client had sent the headers.
 * A ModelStreamInfer stream is routed by its first message the same way as a unary call; the
 * messages after the first are the node's to check against the routed model. A name that is no
 * model name leaves the route as it was (INVALID_ARGUMENT); a version in the message that differs
 * from a version header is refused, naming both.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/grpc_field_extraction_filter
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/lua_filter
 */
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { inferenceService, streamModelMethod, unaryModelMethods } from "@inferencehub/contracts/protocol";
import { FilterConfig } from "../../../../gen/envoy/envoy/config/route/v3/route_components.js";
import { GrpcFieldExtractionConfig } from "../../../../gen/envoy/envoy/extensions/filters/http/grpc_field_extraction/v3/config.js";
import { Lua } from "../../../../gen/envoy/envoy/extensions/filters/http/lua/v3/lua.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../../gen/envoy/google/protobuf/any.js";
import { inferenceDescriptorSetBase64 } from "../../../../gen/inference/descriptor-set.js";
import {
  grpcFieldExtractionTypeUrl,
  luaPerRouteTypeUrl,
  luaTypeUrl,
  packAny,
  routeFilterConfigTypeUrl,
} from "../../resources/index.js";
import { grpcStatus } from "../common.js";
import type { HttpFilterSpec } from "./http-filter.js";

const extractionFilterName = "envoy.filters.http.grpc_field_extraction";

/**
 * The response code details of the extraction filter's refusal of a first message larger than
 * Envoy's buffer (1 MiB per connection): listeners.ts answers it with RESOURCE_EXHAUSTED instead.
 */
export const firstMessageTooLargeDetails =
  "grpc_field_extraction_FAILED_PRECONDITION{REQUEST_BUFFER_CONVERSION_FAIL}";
const luaFilterName = "envoy.filters.http.lua";
const sourceName = "model-from-first-message";

/** The calls routed by their first message, and the names of its model and version fields. */
const { ModelInfer, ...otherUnary } = unaryModelMethods;
// In this order (the filter config's map is encoded in insertion order).
const modelMethods: Record<string, readonly [string, string]> = {
  ModelInfer,
  [streamModelMethod]: ModelInfer,
  ...otherUnary,
};

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

/** Off unless a route enables it: it holds each call until its first message is whole. */
export const grpcFieldExtractionFilter: HttpFilterSpec = {
  name: extractionFilterName,
  enabled: (_ir, group) => group === "envoy",
  build: () =>
    HttpFilter.fromPartial({
      name: extractionFilterName,
      disabled: true,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          grpcFieldExtractionTypeUrl,
          GrpcFieldExtractionConfig.fromPartial({
            descriptorSet: {
              specifier: {
                $case: "inlineBytes",
                inlineBytes: Buffer.from(inferenceDescriptorSetBase64, "base64"),
              },
            },
            extractionsByMethod: Object.fromEntries(
              Object.entries(modelMethods).map(([method, [name, version]]) => [
                `${inferenceService}.${method}`,
                { requestFieldExtractions: { [name]: {}, [version]: {} } },
              ]),
            ),
          }),
        ),
      },
    }),
};

/** In every Envoy chain; it does nothing on a route without modelFromFirstMessagePerRoute. */
export const modelFromFirstMessageFilter: HttpFilterSpec = {
  name: luaFilterName,
  enabled: (_ir, group) => group === "envoy",
  build: () =>
    HttpFilter.fromPartial({
      name: luaFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          luaTypeUrl,
          Lua.fromPartial({
            sourceCodes: {
              [sourceName]: { specifier: { $case: "inlineString", inlineString: modelFromFirstMessageLua } },
            },
          }),
        ),
      },
    }),
};

/** typed_per_filter_config for the route whose calls are routed by their first message. */
export function modelFromFirstMessagePerRoute(): Record<string, Any> {
  return {
    // An empty `config` is how a route turns on a filter that is off by default.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/route_components.proto#envoy-v3-api-msg-config-route-v3-filterconfig
    [extractionFilterName]: packAny(routeFilterConfigTypeUrl, FilterConfig.fromPartial({ config: {} })),
    [luaFilterName]: packAny(luaPerRouteTypeUrl, { override: { $case: "name", name: sourceName } }),
  };
}
