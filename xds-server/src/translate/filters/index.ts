/**
 * The HTTP filter chain, in order. A filter runs only where its enabled() says so; the router
 * forwards the call and is always last.
 */
import type { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { GatewayIR } from "../../ir/index.js";
import type { ClientGroup } from "../types.js";
import { extAuthzFilter, extAuthzPerRoute } from "./ext-authz.js";
import { grpcStatsFilter } from "./grpc-stats.js";
import type { HttpFilterSpec } from "./http-filter.js";
import { luaFilter, luaPerRoute } from "./lua.js";
import {
  firstMessageTooLargeDetails,
  grpcFieldExtractionFilter,
  modelFromFirstMessagePerRoute,
} from "./model-from-first-message.js";
import { routerFilter } from "./router.js";
import { stripGatewayHeadersFilter } from "./strip-gateway-headers.js";

/**
 * Headers are stripped before anything reads them; a call without a model header gets it from
 * its first message (gRPC) or its path (REST), by a Lua script, before ext_authz checks it; ext_authz decides before the router routes.
 * grpc_stats comes after ext_authz, so it counts the calls that reached a version.
 */
export const httpFilterChain: readonly HttpFilterSpec[] = [
  stripGatewayHeadersFilter,
  grpcFieldExtractionFilter,
  luaFilter,
  extAuthzFilter,
  grpcStatsFilter,
  routerFilter,
];

export function buildHttpFilters(ir: GatewayIR, group: ClientGroup): HttpFilter[] {
  return httpFilterChain.filter((filter) => filter.enabled(ir, group)).map((filter) => filter.build(ir));
}

export {
  firstMessageTooLargeDetails,
  extAuthzFilter,
  grpcFieldExtractionFilter,
  extAuthzPerRoute,
  grpcStatsFilter,
  luaFilter,
  luaPerRoute,
  modelFromFirstMessagePerRoute,
  routerFilter,
  stripGatewayHeadersFilter,
};
export type { HttpFilterSpec };
