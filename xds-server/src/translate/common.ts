/** Small message builders used by more than one resource kind. */
import { Address } from "../../../gen/envoy/envoy/config/core/v3/address.js";
import { ApiVersion, ConfigSource } from "../../../gen/envoy/envoy/config/core/v3/config_source.js";
import type { AccessLogFilter } from "../../../gen/envoy/envoy/config/accesslog/v3/accesslog.js";
import { celFilterTypeUrl, packAny } from "../resources/index.js";

/** gRPC status codes the gateway answers itself. https://grpc.github.io/grpc/core/md_doc_statuscodes.html */
export const grpcStatus = {
  invalidArgument: 3,
  notFound: 5,
  resourceExhausted: 8,
  unimplemented: 12,
  unavailable: 14,
} as const;

/**
 * "Fetch it over the ADS stream this client already has": what every RDS and EDS reference uses,
 * so one stream carries all four kinds in order.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#aggregated-discovery-service
 */
export function adsConfigSource(): ConfigSource {
  return ConfigSource.fromPartial({
    configSourceSpecifier: { $case: "ads", ads: {} },
    resourceApiVersion: ApiVersion.V3,
  });
}

export function socketAddress(host: string, port: number): Address {
  return Address.fromPartial({
    address: {
      $case: "socketAddress",
      socketAddress: { address: host, portSpecifier: { $case: "portValue", portValue: port } },
    },
  });
}

/** Code-unit order: the same on every machine, whatever its locale. */
export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Matches a CEL expression over Envoy's attributes.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/intro/arch_overview/advanced/attributes
 */
export function celFilter(expression: string): AccessLogFilter["filterSpecifier"] {
  return {
    $case: "extensionFilter",
    extensionFilter: {
      name: "envoy.access_loggers.extension_filters.cel",
      configType: { $case: "typedConfig", typedConfig: packAny(celFilterTypeUrl, { expression }) },
    },
  };
}
