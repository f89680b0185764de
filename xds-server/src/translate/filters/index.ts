/**
 * The HTTP filter chain, in order. A filter runs only where its enabled() says so; the router
 * forwards the call and is always last.
 */
import type { HttpFilter } from "../../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { GatewayIR } from "../../ir/index.js";
import type { ClientGroup } from "../types.js";
import { extAuthzFilter } from "./ext-authz.js";
import type { HttpFilterSpec } from "./http-filter.js";
import { routerFilter } from "./router.js";

export const httpFilterChain: readonly HttpFilterSpec[] = [extAuthzFilter, routerFilter];

export function buildHttpFilters(ir: GatewayIR, group: ClientGroup): HttpFilter[] {
  return httpFilterChain.filter((filter) => filter.enabled(ir, group)).map((filter) => filter.build(ir));
}

export { extAuthzFilter, routerFilter };
export type { HttpFilterSpec };
