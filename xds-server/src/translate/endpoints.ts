/**
 * One ClusterLoadAssignment per cluster: one locality per pool, at the pool's priority, so Envoy
 * and grpc-js fail over pool by pool. The same for both client groups, except that proxyless
 * clients go to a node's port for the version (nodes[].versionPorts) where it has one.
 */
import { HealthStatus } from "../../../gen/envoy/envoy/config/core/v3/health_check.js";
import { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { LocalityLbEndpoints } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint_components.js";
import type { ClusterIR, EndpointIR } from "../ir/index.js";
import { socketAddress } from "./common.js";
import type { ClientGroup } from "./types.js";

export function loadAssignment(cluster: ClusterIR, group: ClientGroup): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName: cluster.name,
    endpoints: byPool(cluster.endpoints).map((endpoints) => locality(endpoints, group)),
  });
}

/** Endpoints grouped by pool, in priority order (the IR sorts endpoints by priority). */
function byPool(endpoints: readonly EndpointIR[]): EndpointIR[][] {
  const groups = new Map<string, EndpointIR[]>();
  for (const endpoint of endpoints) {
    const group = groups.get(endpoint.pool) ?? [];
    group.push(endpoint);
    groups.set(endpoint.pool, group);
  }
  return [...groups.values()];
}

/**
 * grpc-js skips a locality without load_balancing_weight (@grpc/grpc-js-xds
 * src/xds-dependency-manager.ts); with one locality per priority its value does not matter, so
 * every locality weighs 1.
 */
function locality(endpoints: EndpointIR[], group: ClientGroup): LocalityLbEndpoints {
  const first = endpoints[0];
  if (!first) throw new Error("locality: an empty endpoint group");
  return LocalityLbEndpoints.fromPartial({
    locality: { zone: first.pool },
    lbEndpoints: endpoints.map((e) => ({
      hostIdentifier: {
        $case: "endpoint",
        endpoint: {
          address: socketAddress(e.host, group === "proxyless" ? (e.proxylessPort ?? e.port) : e.port),
          hostname: e.node,
        },
      },
      healthStatus: HealthStatus[e.health],
    })),
    loadBalancingWeight: 1,
    priority: first.priority,
  });
}
