/**
 * Envoy's routing scopes (SRDS): the `inferencehub-model` header's value → that model's route
 * configuration (routes.ts). A value no scope has is answered NOT_FOUND by the listener
 * (listeners.ts), since no route configuration is chosen. Proxyless clients have none: grpc-js
 * does not implement SRDS, and its listener per model already selects the model.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/scoped_route.proto
 */
import { noModelHeaderValue } from "@inferencehub/contracts/headers";
import { ScopedRouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import type { ModelIR } from "../ir/index.js";
import { ingressRouteConfigName, noModelRouteConfigName } from "./names.js";
import type { Named } from "./types.js";

export function modelScope(model: ModelIR): Named<ScopedRouteConfiguration> {
  return scope(ingressRouteConfigName(model.name), model.name);
}

/** The scope of calls that sent no model header (Envoy set it to noModelHeaderValue). */
export function noModelScope(): Named<ScopedRouteConfiguration> {
  return scope(noModelRouteConfigName, noModelHeaderValue);
}

/** A scope and its route configuration share one name. */
function scope(name: string, key: string): Named<ScopedRouteConfiguration> {
  return {
    name,
    resource: ScopedRouteConfiguration.fromPartial({
      name,
      routeConfigurationName: name,
      key: { fragments: [{ type: { $case: "stringKey", stringKey: key } }] },
    }),
  };
}
