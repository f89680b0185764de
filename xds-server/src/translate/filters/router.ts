import { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { Router } from "../../../../gen/envoy/envoy/extensions/filters/http/router/v3/router.js";
import { packAny, routerTypeUrl } from "../../resources/index.js";
import type { HttpFilterSpec } from "./http-filter.js";

/**
 * Forwards the call upstream; must be the last filter in every chain (Envoy and grpc-js both
 * reject a chain where it is not).
 */
export const routerFilter: HttpFilterSpec = {
  name: "envoy.filters.http.router",
  enabled: () => true,
  build: () =>
    HttpFilter.fromPartial({
      name: "envoy.filters.http.router",
      configType: { $case: "typedConfig", typedConfig: packAny(routerTypeUrl, Router.fromPartial({})) },
    }),
};
