import { strippedRequestHeaders } from "@inferencehub/contracts/headers";
import { HeaderMutation } from "../../../../gen/envoy/envoy/extensions/filters/http/header_mutation/v3/header_mutation.js";
import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { headerMutationTypeUrl, packAny } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";

/**
 * Removes the gateway's own request headers that nodes read before any other filter sees the
 * call, so a client cannot claim a tenant even when ext_authz does not run. Envoy only: a
 * proxyless client talks to the nodes directly and could set any header anyway.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/header_mutation_filter
 */
export const stripGatewayHeadersFilter: HttpFilterSpec = {
  name: "envoy.filters.http.header_mutation",
  enabled: (_ir, group) => group === "envoy",
  build: () =>
    HttpFilter.fromPartial({
      name: "envoy.filters.http.header_mutation",
      configType: {
        $case: "typedConfig",
        typedConfig: packAny(
          headerMutationTypeUrl,
          HeaderMutation.fromPartial({
            mutations: {
              requestMutations: strippedRequestHeaders.map((header) => ({
                action: { $case: "remove" as const, remove: header },
              })),
            },
          }),
        ),
      },
    }),
};
