/**
 * One cluster per model version, discovered over EDS, speaking HTTP/2 (gRPC) to the nodes; and for
 * a version with nodes that serve the REST/JSON form, one more (Envoy only) speaking HTTP/1.1 to
 * their REST ports.
 */
import { routedModelHeader, routedVersionHeader } from "@inferencehub/contracts/headers";
import { CircuitBreakers } from "../../../gen/envoy/envoy/config/cluster/v3/circuit_breaker.js";
import { OutlierDetection } from "../../../gen/envoy/envoy/config/cluster/v3/outlier_detection.js";
import {
  Cluster,
  Cluster_CommonLbConfig,
  Cluster_DiscoveryType,
  Cluster_DnsLookupFamily,
  Cluster_LbPolicy,
} from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import {
  HeaderValueOption_HeaderAppendAction,
  RoutingPriority,
} from "../../../gen/envoy/envoy/config/core/v3/base.js";
import { HeaderMutation } from "../../../gen/envoy/envoy/extensions/filters/http/header_mutation/v3/header_mutation.js";
import {
  HttpProtocolOptions,
  HttpProtocolOptions_ExplicitHttpConfig,
} from "../../../gen/envoy/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import { UpstreamTlsContext } from "../../../gen/envoy/envoy/extensions/transport_sockets/tls/v3/tls.js";
import type { ClusterIR, ExtAuthzServiceIR, GatewayIR, RemoteJwksIR } from "../ir/index.js";
import {
  headerMutationTypeUrl,
  packAny,
  upstreamCodecTypeUrl,
  upstreamHttpProtocolOptionsTypeUrl,
  upstreamTlsContextTypeUrl,
} from "../resources/index.js";
import { adsConfigSource, byName, emptyMessage, messageWith, socketAddress } from "./common.js";
import { duration } from "./durations.js";
import { bodyVersionFilter } from "./filters/body-version.js";
import { restPathVersionFilter } from "./filters/rest-path-version.js";
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

/**
 * The clusters that belong to no model, for Envoy: ext-authz's when auth is on, the control
 * plane's when the config names its address.
 */
export function gatewayClusters(ir: GatewayIR, group: ClientGroup): Named<Cluster>[] {
  if (group !== "envoy") return [];
  const out: Named<Cluster>[] = [];
  if (ir.controlPlane) {
    const { cluster, service } = ir.controlPlane;
    out.push({
      name: cluster,
      resource: serviceCluster(cluster, service, controlPlaneConnectTimeoutMs, true),
    });
  }
  if (ir.extAuthz) {
    const { cluster, service, timeoutMs } = ir.extAuthz;
    out.push({ name: cluster, resource: serviceCluster(cluster, service, timeoutMs, false) });
  }
  const limits = ir.nativeAuth?.rateLimitService;
  if (limits) {
    out.push({
      name: limits.cluster,
      resource: serviceCluster(limits.cluster, limits.service, limits.timeoutMs, false),
    });
  }
  const jwks = ir.nativeAuth?.idp?.jwks;
  if (jwks && "url" in jwks) out.push({ name: jwks.cluster, resource: jwksCluster(jwks) });
  return out.sort(byName);
}

const jwksConnectTimeoutMs = 2_000;

/**
 * The identity provider's JWKS host, which jwt_authn fetches the keys from (HTTP/1.1, TLS with the
 * host as SNI for https:// URLs, verified against the system's CA bundle).
 */
function jwksCluster(jwks: RemoteJwksIR): Cluster {
  const { host, port, dns, tls } = jwks.service;
  return Cluster.fromPartial({
    name: jwks.cluster,
    clusterDiscoveryType: {
      $case: "type",
      type: dns ? Cluster_DiscoveryType.LOGICAL_DNS : Cluster_DiscoveryType.STATIC,
    },
    ...(dns ? { dnsLookupFamily: Cluster_DnsLookupFamily.V4_PREFERRED } : {}),
    connectTimeout: duration(jwksConnectTimeoutMs),
    loadAssignment: {
      clusterName: jwks.cluster,
      endpoints: [
        {
          lbEndpoints: [
            { hostIdentifier: { $case: "endpoint", endpoint: { address: socketAddress(host, port) } } },
          ],
        },
      ],
    },
    ...(tls
      ? {
          transportSocket: {
            name: "envoy.transport_sockets.tls",
            configType: {
              $case: "typedConfig",
              typedConfig: packAny(
                upstreamTlsContextTypeUrl,
                UpstreamTlsContext.fromPartial({
                  sni: host,
                  commonTlsContext: {
                    validationContextType: {
                      $case: "validationContext",
                      validationContext: {
                        trustedCa: { specifier: { $case: "filename", filename: systemCaBundle } },
                        matchTypedSubjectAltNames: [],
                      },
                    },
                  },
                }),
              ),
            },
          },
        }
      : {}),
  });
}

/** Debian's CA bundle, as in the Envoy images this project builds (deploy/docker). */
const systemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

const controlPlaneConnectTimeoutMs = 1_000;

/**
 * Server-level calls (ServerLive, ServerReady, ServerMetadata) reach the control plane through
 * Envoy: a small budget of their own, so a flood of them queues here and never at the control
 * plane, which also serves ADS.
 */
const controlPlaneCircuitBreaker = {
  maxConnections: 4,
  maxPendingRequests: 16,
  maxRequests: 64,
  maxRetries: 0,
};

/**
 * A service of the gateway's own (ext-authz for the ext_authz filter's gRPC calls, the control
 * plane): its address inline (STATIC for an IP, STRICT_DNS for a name, as Compose and Kubernetes
 * services have), HTTP/2, and for ext-authz no longer to connect than a decision may take. It
 * needs no EDS: the snapshot's dependency checks only follow EDS clusters, and this one names no
 * endpoints resource.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/upstream/service_discovery
 */
function serviceCluster(
  name: string,
  service: ExtAuthzServiceIR,
  connectTimeoutMs: number,
  bounded: boolean,
): Cluster {
  const { host, port, dns } = service;
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: {
      $case: "type",
      type: dns ? Cluster_DiscoveryType.STRICT_DNS : Cluster_DiscoveryType.STATIC,
    },
    // Compose and most Kubernetes networks are IPv4; AUTO would try an AAAA answer first.
    ...(dns ? { dnsLookupFamily: Cluster_DnsLookupFamily.V4_PREFERRED } : {}),
    connectTimeout: duration(connectTimeoutMs),
    ...(bounded
      ? {
          circuitBreakers: {
            thresholds: [{ priority: RoutingPriority.DEFAULT, ...controlPlaneCircuitBreaker }],
          },
        }
      : {}),
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: [
            { hostIdentifier: { $case: "endpoint", endpoint: { address: socketAddress(host, port) } } },
          ],
        },
      ],
    },
    typedExtensionProtocolOptions: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": packAny(
        upstreamHttpProtocolOptionsTypeUrl,
        HttpProtocolOptions.fromPartial({
          upstreamProtocolOptions: {
            $case: "explicitHttpConfig",
            explicitHttpConfig: {
              protocolConfig: { $case: "http2ProtocolOptions", http2ProtocolOptions: {} },
            },
          },
        }),
      ),
    },
  });
}

export function translateCluster(c: ClusterIR, group: ClientGroup): Cluster {
  const od = c.outlierDetection;
  // messageWith, not Cluster.fromPartial: 60,000 clusters at 10,000 models (common.ts).
  return messageWith(emptyCluster, {
    name: c.name,
    clusterDiscoveryType: edsDiscovery,
    edsClusterConfig: edsOverAds,
    connectTimeout: duration(c.connectTimeoutMs),
    lbPolicy: lbPolicy[group],
    typedExtensionProtocolOptions: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": upstreamProtocolOptions(c, group),
    },
    circuitBreakers: CircuitBreakers.fromPartial({
      thresholds: [{ priority: RoutingPriority.DEFAULT, ...c.circuitBreaker }],
    }),
    // Gateway failures (502/503/504) and local-origin failures (connect errors, resets, timeouts)
    // are counted apart from a model's own errors and ejected on, which Envoy does not do by default.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/upstream/outlier
    outlierDetection: messageWith(emptyOutlierDetection, {
      consecutive5xx: od.consecutive5xx,
      consecutiveGatewayFailure: od.consecutiveGatewayFailure,
      enforcingConsecutiveGatewayFailure: 100,
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: od.consecutiveLocalOriginFailure,
      interval: duration(od.intervalMs),
      baseEjectionTime: duration(od.baseEjectionTimeMs),
      maxEjectionPercent: od.maxEjectionPercent,
      // Envoy's own defaults, written out: grpc-js copies absent fields over its defaults as
      // undefined, and its success-rate check then reduces an empty list and throws (1.14.x).
      enforcingSuccessRate: 100,
      successRateMinimumHosts: 5,
      successRateRequestVolume: 100,
      successRateStdevFactor: 1900,
    }),
    commonLbConfig: Cluster_CommonLbConfig.fromPartial({
      healthyPanicThreshold: { value: c.panicThreshold },
    }),
  });
}

const emptyCluster = emptyMessage(Cluster.fromPartial({}));
const emptyOutlierDetection = emptyMessage(OutlierDetection.fromPartial({}));
/** The same in every model's cluster: made once (no message is changed once made). */
const { clusterDiscoveryType: edsDiscovery, edsClusterConfig: edsOverAds } = Cluster.fromPartial({
  clusterDiscoveryType: { $case: "type", type: Cluster_DiscoveryType.EDS },
  edsClusterConfig: { edsConfig: adsConfigSource() },
});

/**
 * gRPC needs HTTP/2 to the node; `explicit_http_config` says so without ALPN (nodes are cleartext).
 * REST nodes get HTTP/1.1, which every REST server speaks (the reference node's node:http, Triton,
 * MLServer's uvicorn).
 * Envoy's clusters also name their version to the node in an upstream filter, which every call
 * through the cluster passes: weighted, pinned and shadow copies alike. grpc-js has no upstream
 * filters and ignores them; there a version is told apart by the nodes that serve it.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/upstreams/http/v3/http_protocol_options.proto
 */
const http1 = HttpProtocolOptions_ExplicitHttpConfig.fromPartial({
  protocolConfig: { $case: "httpProtocolOptions", httpProtocolOptions: {} },
});
const http2 = HttpProtocolOptions_ExplicitHttpConfig.fromPartial({
  protocolConfig: { $case: "http2ProtocolOptions", http2ProtocolOptions: {} },
});

function upstreamProtocolOptions(c: ClusterIR, group: ClientGroup) {
  return packAny(
    upstreamHttpProtocolOptionsTypeUrl,
    HttpProtocolOptions.fromPartial({
      upstreamProtocolOptions: {
        $case: "explicitHttpConfig",
        explicitHttpConfig: c.protocol === "rest" ? http1 : http2,
      },
      httpFilters:
        group === "envoy"
          ? [
              ...(c.bodyVersion !== undefined ? [bodyVersionFilter(c.bodyVersion)] : []),
              ...(c.restPathVersion !== undefined ? [restPathVersionFilter(c.model, c.restPathVersion)] : []),
              ...routedHeaderFilters(c.model, c.version),
            ]
          : [],
    }),
  );
}

/** The same bytes in every cluster: packed once (an Any is never changed once made). */
const upstreamCodec = packAny(upstreamCodecTypeUrl, {});

/**
 * The model and version the call was routed (and authorized) for. The node checks the body's
 * model name against it: routing reads headers only, so a body naming another model must not
 * run on a node that happens to serve both.
 */
function routedHeaderFilters(model: string, version: string) {
  const set = (key: string, value: string) => ({
    action: {
      $case: "append" as const,
      append: {
        header: { key, value },
        appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
      },
    },
  });
  const mutation = HeaderMutation.fromPartial({
    mutations: { requestMutations: [set(routedModelHeader, model), set(routedVersionHeader, version)] },
  });
  return [
    {
      name: "envoy.filters.http.header_mutation",
      configType: { $case: "typedConfig" as const, typedConfig: packAny(headerMutationTypeUrl, mutation) },
    },
    // An upstream filter chain must end with the codec filter.
    {
      name: "envoy.filters.http.upstream_codec",
      configType: { $case: "typedConfig" as const, typedConfig: upstreamCodec },
    },
  ];
}
