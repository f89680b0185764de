import type { Node } from "../../../gen/envoy/envoy/config/core/v3/base.js";
import type { ClientGroup } from "../translate/index.js";

/**
 * Which snapshot a client gets. gRPC's proxyless libraries name themselves in user_agent_name
 * ("gRPC Node Pure JS", "gRPC Java", "gRPC Go"); Envoy says "envoy". A node cluster of
 * "proxyless" forces the proxyless group for clients that do not say who they are.
 */
export function groupOf(node: Pick<Node, "userAgentName" | "cluster">): ClientGroup {
  if (/^grpc/i.test(node.userAgentName) || node.cluster === "proxyless") return "proxyless";
  return "envoy";
}
