/**
 * grpc-js checks the proxyless group of every golden case with its own resource validators
 * (@grpc/grpc-js-xds, the version the project ships), the ones that decide ACK or NACK when a
 * proxyless client receives the resources. Deep imports: the package exports no validator API.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { register } from "@grpc/grpc-js-xds";
import { ClusterResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js";
import { EndpointResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js";
import { ListenerResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js";
import { RouteConfigurationResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js";
import type {
  XdsDecodeContext,
  XdsResourceType,
} from "@grpc/grpc-js-xds/build/src/xds-resource-type/xds-resource-type.js";
import {
  clusterLoadAssignmentTypeUrl,
  clusterTypeUrl,
  encodeMessage,
  listenerTypeUrl,
  routeConfigurationTypeUrl,
} from "../resources/index.js";
import type { KnownTypeUrl, MessageTypes } from "../resources/index.js";
import { loadGoldenCases } from "./testing/index.js";
import type { ResourceSet } from "./types.js";

// Registers the xds resolver and grpc-js's HTTP filters (the router among them).
register();

const context = {
  server: { server_uri: "127.0.0.1:18000", channel_creds: [], server_features: [] },
  bootstrap: {
    xdsServers: [],
    node: { id: "test", locality: {} },
    authorities: {},
    clientDefaultListenerResourceNameTemplate: "%s",
    serverListenerResourceNameTemplate: null,
    certificateProviders: {},
  },
} as unknown as XdsDecodeContext;

/** grpc-js's verdict on one resource: undefined when it would ACK, its error when it would NACK. */
function grpcJsError<U extends KnownTypeUrl>(
  type: XdsResourceType,
  typeUrl: U,
  message: MessageTypes[U],
): string | undefined {
  const bytes = encodeMessage(typeUrl, message);
  const result = type.decode(context, { type_url: typeUrl, value: Buffer.from(bytes) });
  return result.error;
}

function errorsOf(set: ResourceSet): string[] {
  const check = <U extends KnownTypeUrl>(
    type: XdsResourceType,
    typeUrl: U,
    items: { name: string; resource: MessageTypes[U] }[],
  ) =>
    items.flatMap(({ name, resource }) => {
      const error = grpcJsError(type, typeUrl, resource);
      return error === undefined ? [] : [`${name}: ${error}`];
    });
  return [
    ...check(ListenerResourceType.get(), listenerTypeUrl, set.listeners),
    ...check(RouteConfigurationResourceType.get(), routeConfigurationTypeUrl, set.routes),
    ...check(ClusterResourceType.get(), clusterTypeUrl, set.clusters),
    ...check(EndpointResourceType.get(), clusterLoadAssignmentTypeUrl, set.endpoints),
  ];
}

for (const c of loadGoldenCases()) {
  test(`grpc-js accepts the proxyless group of ${c.name}`, () => {
    assert.deepEqual(errorsOf(c.resources.proxyless), []);
  });
}

test("the check can fail: grpc-js refuses what only Envoy understands", () => {
  const [first] = loadGoldenCases();
  assert.ok(first);
  const errors = errorsOf({ ...first.resources.envoy, listeners: [] });
  // Direct responses (the NOT_FOUND routes) and LEAST_REQUEST are Envoy-only.
  assert.ok(
    errors.some((e) => /unsupported action/.test(e)),
    errors.join("\n"),
  );
  assert.ok(
    errors.some((e) => /lb_policy/.test(e)),
    errors.join("\n"),
  );
});
