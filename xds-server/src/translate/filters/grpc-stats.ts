import { FilterConfig } from "../../../../gen/envoy/envoy/extensions/filters/http/grpc_stats/v3/config.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { grpcStatsTypeUrl, packAny } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";

/**
 * Counts ModelInfer calls per version cluster by gRPC status
 * (`cluster.<model>~<version>.grpc.inference.GRPCInferenceService.ModelInfer.{success,failure,total}`).
 * A gRPC error travels as HTTP 200 with grpc-status in the trailers, so Envoy's upstream_rq_5xx
 * never sees it: rollouts (hubctl) and dashboards read these instead. Envoy only.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/grpc_stats_filter
 */
export const grpcStatsFilter: HttpFilterSpec = {
  name: "envoy.filters.http.grpc_stats",
  enabled: (_ir, group) => group === "envoy",
  build: () =>
    HttpFilter.fromPartial({
      name: "envoy.filters.http.grpc_stats",
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          grpcStatsTypeUrl,
          FilterConfig.fromPartial({
            // Only the inference call: per-method stats for arbitrary client-chosen paths would let
            // callers mint unbounded stat names.
            perMethodStatSpecifier: {
              $case: "individualMethodStatsAllowlist",
              individualMethodStatsAllowlist: {
                services: [{ name: "inference.GRPCInferenceService", methodNames: ["ModelInfer"] }],
              },
            },
          }),
        ),
      },
    }),
};
