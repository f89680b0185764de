/**
 * The v2 REST form's repository index (`POST /v2/repository/index`), which the gateway answers
 * itself: Envoy's gRPC-JSON transcoder turns it into `inferencehub.gateway.v1.GatewayIndex/
 * RepositoryIndex` (proto/inferencehub/gateway/v1/repository_index.proto), the call is routed to
 * the control plane like RepositoryIndex naming no model, and the answer goes back as Triton's REST
 * index does: a JSON array of `{name, version, state, reason}`. It runs after ext_authz, which has
 * checked the REST call (and set the tenant) before its path changes; it touches no other call.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/grpc_json_transcoder_filter
 */
import { GrpcJsonTranscoder } from "../../../../gen/envoy/envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { gatewayIndexDescriptorSetBase64 } from "../../../../gen/inference/gateway-index-descriptor-set.js";
import { grpcJsonTranscoderTypeUrl, packAny } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";

const transcoderFilterName = "envoy.filters.http.grpc_json_transcoder";

/** The REST path, and the gRPC method it becomes. */
export const restIndexPath = "/v2/repository/index";
export const gatewayIndexService = "inferencehub.gateway.v1.GatewayIndex";
export const gatewayIndexMethodPath = `/${gatewayIndexService}/RepositoryIndex`;

export const restIndexTranscoderFilter: HttpFilterSpec = {
  name: transcoderFilterName,
  // Without a control plane to answer, the route answers 501 itself (routes.ts).
  enabled: (ir, group) => group === "envoy" && ir.controlPlane !== undefined,
  build: () =>
    HttpFilter.fromPartial({
      name: transcoderFilterName,
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          grpcJsonTranscoderTypeUrl,
          GrpcJsonTranscoder.fromPartial({
            descriptorSet: {
              $case: "protoDescriptorBin",
              protoDescriptorBin: Buffer.from(gatewayIndexDescriptorSetBase64, "base64"),
            },
            services: [gatewayIndexService],
            printOptions: { preserveProtoFieldNames: true },
            // The control plane's refusals as HTTP statuses, not a 200 with gRPC trailers.
            convertGrpcStatus: true,
          }),
        ),
      },
    }),
};
