/** Small message builders used by more than one resource kind. */
import { Address } from "../../../gen/envoy/envoy/config/core/v3/address.js";
import { ApiVersion, ConfigSource } from "../../../gen/envoy/envoy/config/core/v3/config_source.js";
import type { AccessLogFilter } from "../../../gen/envoy/envoy/config/accesslog/v3/accesslog.js";
import { celFilterTypeUrl, packAny } from "../resources/index.js";

/** gRPC status codes the gateway answers itself. https://grpc.github.io/grpc/core/md_doc_statuscodes.html */
/** The calls about the gateway itself (routes to the control plane): short, never retried. */
export const serverCallTimeoutMs = 2_000;

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

/**
 * A type's empty message (every field at its default: `X.fromPartial({})`), for messageWith. Its
 * arrays and maps are frozen: every message made from it shares them, so a change to one would
 * change them all; frozen, it throws instead.
 */
export function emptyMessage<T extends object>(empty: T): T {
  for (const value of Object.values(empty))
    if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) Object.freeze(value);
  return Object.freeze(empty);
}

/**
 * A complete message: the empty message with these fields, which must be complete messages
 * themselves (their types say so). On the hot paths of a full build in place of X.fromPartial,
 * which deep-copies its argument and allocates every default anew (RouteAction has some 40
 * fields): a quarter of translation at 10,000 models, and most of its garbage.
 */
export function messageWith<T extends object, K extends keyof T>(empty: T, fields: Pick<T, K>): T {
  return { ...empty, ...fields };
}
