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
import { inferenceService, streamModelMethod, unaryModelMethods } from "@inferencehub/contracts/protocol";
import { FilterConfig } from "../../../../gen/envoy/envoy/config/route/v3/route_components.js";
import { GrpcFieldExtractionConfig } from "../../../../gen/envoy/envoy/extensions/filters/http/grpc_field_extraction/v3/config.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../../gen/envoy/google/protobuf/any.js";
import { inferenceDescriptorSetBase64 } from "../../../../gen/inference/descriptor-set.js";
import { grpcFieldExtractionTypeUrl, packAny, routeFilterConfigTypeUrl } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";
import { luaPerRoute } from "./lua.js";
import { extractionFilterName } from "./model-from-first-message-lua.js";

/**
 * The response code details of the extraction filter's refusal of a first message larger than
 * Envoy's buffer (1 MiB per connection): listeners.ts answers it with RESOURCE_EXHAUSTED instead.
 */
export const firstMessageTooLargeDetails =
  "grpc_field_extraction_FAILED_PRECONDITION{REQUEST_BUFFER_CONVERSION_FAIL}";

/** The calls routed by their first message, and the names of its model and version fields. */
const { ModelInfer, ...otherUnary } = unaryModelMethods;
// In this order (the filter config's map is encoded in insertion order).
const modelMethods: Record<string, readonly [string, string]> = {
  ModelInfer,
  [streamModelMethod]: ModelInfer,
  ...otherUnary,
};

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

/**
 * typed_per_filter_config for the routes whose first message is read: routed by it (no model
 * header), or checked against the headers (native authorization, unary calls with the header).
 */
export function modelFromFirstMessagePerRoute(
  script: "model-from-first-message" | "first-message-matches-headers" = "model-from-first-message",
): Record<string, Any> {
  return {
    // An empty `config` is how a route turns on a filter that is off by default.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/route_components.proto#envoy-v3-api-msg-config-route-v3-filterconfig
    [extractionFilterName]: packAny(routeFilterConfigTypeUrl, FilterConfig.fromPartial({ config: {} })),
    ...luaPerRoute(script),
  };
}
