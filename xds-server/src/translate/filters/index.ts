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
import { luaFilter, luaPerRoute, luaSourcePerRoute } from "./lua.js";
import {
  firstMessageTooLargeDetails,
  grpcFieldExtractionFilter,
  modelFromFirstMessagePerRoute,
} from "./model-from-first-message.js";
import { modelFromFirstMessageLua } from "./model-from-first-message-lua.js";
import { modelFromPathLua } from "./model-from-path.js";
import { extAuthzUnlessAllowed, jwtAuthnFilter, policyPerRoute, policyRbacFilter } from "./native-auth.js";
import { globalRateLimitFilter, localRateLimitFilter, rateLimitActions } from "./rate-limits.js";
import { restIndexTranscoderFilter } from "./rest-index.js";
import { routerFilter } from "./router.js";
import { stripGatewayHeadersFilter } from "./strip-gateway-headers.js";

/**
 * Headers are stripped before anything reads them; a call without a model header gets it from
 * its first message (gRPC) or its path (REST), by a Lua script, before anything authorizes it, so
 * the route is final. In native mode jwt_authn and the rbac filter record what Envoy can decide,
 * and ext_authz runs for the rest; ext_authz decides before the router routes (and before the REST
 * repository index becomes the gRPC call the control plane answers: rest-index.ts). The rate
 * limits count only calls that were allowed; grpc_stats counts the calls that reached a version.
 */
export const httpFilterChain: readonly HttpFilterSpec[] = [
  stripGatewayHeadersFilter,
  grpcFieldExtractionFilter,
  luaFilter,
  jwtAuthnFilter,
  policyRbacFilter,
  extAuthzFilter,
  restIndexTranscoderFilter,
  localRateLimitFilter,
  globalRateLimitFilter,
  grpcStatsFilter,
  routerFilter,
];

export function buildHttpFilters(ir: GatewayIR, group: ClientGroup): HttpFilter[] {
  return httpFilterChain.filter((filter) => filter.enabled(ir, group)).map((filter) => filter.build(ir));
}

export { gatewayIndexMethodPath, restIndexPath } from "./rest-index.js";
export {
  luaSourcePerRoute,
  modelFromFirstMessageLua,
  modelFromPathLua,
  extAuthzUnlessAllowed,
  globalRateLimitFilter,
  jwtAuthnFilter,
  localRateLimitFilter,
  policyPerRoute,
  policyRbacFilter,
  rateLimitActions,
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
