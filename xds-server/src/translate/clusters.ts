/** One cluster per model version, discovered over EDS, speaking HTTP/2 (gRPC) to the nodes. */
import {
  Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
} from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { RoutingPriority } from "../../../gen/envoy/envoy/config/core/v3/base.js";
import { HttpProtocolOptions } from "../../../gen/envoy/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import type { ClusterIR, GatewayIR } from "../ir/index.js";
import { packAny, upstreamHttpProtocolOptionsTypeUrl } from "../resources/index.js";
import { adsConfigSource } from "./common.js";
import { duration } from "./durations.js";
import type { ClientGroup, Named } from "./types.js";

/**
 * Envoy: LEAST_REQUEST, since inference calls vary a lot in cost and a node busy with a slow one
 * should get fewer new ones (power of two choices over active requests).
 * Proxyless: ROUND_ROBIN, since grpc-js NACKs a cluster with any other lb_policy unless it sets
 * load_balancing_policy (@grpc/grpc-js-xds src/xds-resource-type/cluster-resource-type.ts).
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-least-request
 */
const lbPolicy: Record<ClientGroup, Cluster_LbPolicy> = {
  envoy: Cluster_LbPolicy.LEAST_REQUEST,
  proxyless: Cluster_LbPolicy.ROUND_ROBIN,
};

export function translateClusters(ir: GatewayIR, group: ClientGroup): Named<Cluster>[] {
  return ir.clusters.map((cluster) => ({ name: cluster.name, resource: translateCluster(cluster, group) }));
}

function translateCluster(c: ClusterIR, group: ClientGroup): Cluster {
  const od = c.outlierDetection;
  return Cluster.fromPartial({
    name: c.name,
    clusterDiscoveryType: { $case: "type", type: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: adsConfigSource() },
    connectTimeout: duration(c.connectTimeoutMs),
    lbPolicy: lbPolicy[group],
    typedExtensionProtocolOptions: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": http2Only() },
    circuitBreakers: {
      thresholds: [{ priority: RoutingPriority.DEFAULT, ...c.circuitBreaker }],
    },
    // Gateway failures (502/503/504) and local-origin failures (connect errors, resets, timeouts)
    // are counted apart from a model's own errors and ejected on, which Envoy does not do by default.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/upstream/outlier
    outlierDetection: {
      consecutive5xx: od.consecutive5xx,
      consecutiveGatewayFailure: od.consecutiveGatewayFailure,
      enforcingConsecutiveGatewayFailure: 100,
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: od.consecutiveLocalOriginFailure,
      interval: duration(od.intervalMs),
      baseEjectionTime: duration(od.baseEjectionTimeMs),
      maxEjectionPercent: od.maxEjectionPercent,
    },
    commonLbConfig: { healthyPanicThreshold: { value: c.panicThreshold } },
  });
}

/**
 * gRPC needs HTTP/2 to the node; `explicit_http_config` says so without ALPN (nodes are cleartext).
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/upstreams/http/v3/http_protocol_options.proto
 */
function http2Only() {
  return packAny(
    upstreamHttpProtocolOptionsTypeUrl,
    HttpProtocolOptions.fromPartial({
      upstreamProtocolOptions: {
        $case: "explicitHttpConfig",
        explicitHttpConfig: { protocolConfig: { $case: "http2ProtocolOptions", http2ProtocolOptions: {} } },
      },
    }),
  );
}
