/**
 * The xDS kinds a snapshot holds: derived from the one table of resource kinds
 * (resources/kinds.ts), which gives their make-before-break push order, type URLs and which are
 * full-state in State-of-the-World.
 * https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations
 */
export { TYPE_URLS, XDS_KINDS, isFullState, isUpstream, kindOf, type XdsKind } from "../resources/index.js";
