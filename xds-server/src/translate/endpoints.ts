/**
 * One ClusterLoadAssignment per cluster: one locality per pool, at the pool's priority, so Envoy
 * and grpc-js fail over pool by pool. Shared by both client groups.
 */
import { HealthStatus } from "../../../gen/envoy/envoy/config/core/v3/health_check.js";
import { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { LocalityLbEndpoints } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint_components.js";
import type { ClusterIR, EndpointIR } from "../ir/index.js";
import { socketAddress } from "./common.js";

export function loadAssignment(cluster: ClusterIR): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName: cluster.name,
    endpoints: byPool(cluster.endpoints).map(locality),
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
function locality(endpoints: EndpointIR[]): LocalityLbEndpoints {
  const first = endpoints[0];
  if (!first) throw new Error("locality: an empty endpoint group");
  return LocalityLbEndpoints.fromPartial({
    locality: { zone: first.pool },
    lbEndpoints: endpoints.map((e) => ({
      hostIdentifier: {
        $case: "endpoint",
        endpoint: { address: socketAddress(e.host, e.port), hostname: e.node },
      },
      healthStatus: HealthStatus[e.health],
    })),
    loadBalancingWeight: 1,
    priority: first.priority,
  });
}
