import assert from "node:assert/strict";
import { test } from "node:test";
import { Cluster, Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import { Router } from "../../../gen/envoy/envoy/extensions/filters/http/router/v3/router.js";
import { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { durationToJson, toEnvoyJson } from "./envoy-json.js";
import { packAny, unpackAny } from "./registry.js";
import { clusterTypeUrl, httpConnectionManagerTypeUrl, listenerTypeUrl, routerTypeUrl } from "./type-urls.js";

test("durations use protobuf's JSON spelling", () => {
  const table: [number, number, string][] = [
    [1, 0, "1s"],
    [0, 0, "0s"],
    [1, 500_000_000, "1.500s"],
    [0, 1_500_000, "0.001500s"],
    [0, 1, "0.000000001s"],
    [-1, 0, "-1s"],
    [-1, -500_000_000, "-1.500s"],
  ];
  for (const [seconds, nanos, text] of table) assert.equal(durationToJson(seconds, nanos), text);
});

test("nested Any fields expand into @type objects, durations into strings, oneofs into their case", () => {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: "x",
    streamIdleTimeout: { seconds: 0, nanos: 0 },
    httpFilters: [
      {
        name: "router",
        configType: { $case: "typedConfig", typedConfig: packAny(routerTypeUrl, Router.fromPartial({})) },
      },
    ],
  });
  const listener = Listener.fromPartial({
    name: "l",
    apiListener: { apiListener: packAny(httpConnectionManagerTypeUrl, hcm) },
  });
  assert.deepEqual(toEnvoyJson(listenerTypeUrl, listener), {
    name: "l",
    apiListener: {
      apiListener: {
        "@type": httpConnectionManagerTypeUrl,
        statPrefix: "x",
        streamIdleTimeout: "0s",
        httpFilters: [{ name: "router", typedConfig: { "@type": routerTypeUrl } }],
      },
    },
  });
});

test("map values and enums", () => {
  const cluster = Cluster.fromPartial({
    name: "c",
    clusterDiscoveryType: { $case: "type", type: Cluster_DiscoveryType.EDS },
    connectTimeout: { seconds: 2, nanos: 250_000_000 },
    typedExtensionProtocolOptions: { opts: packAny(routerTypeUrl, Router.fromPartial({})) },
  });
  assert.deepEqual(toEnvoyJson(clusterTypeUrl, cluster), {
    name: "c",
    type: "EDS",
    connectTimeout: "2.250s",
    typedExtensionProtocolOptions: { opts: { "@type": routerTypeUrl } },
  });
});

test("an Any of an unregistered type is a programmer error", () => {
  const listener = Listener.fromPartial({
    name: "l",
    apiListener: { apiListener: { typeUrl: "type.googleapis.com/unknown.Thing", value: Buffer.alloc(0) } },
  });
  assert.throws(
    () => toEnvoyJson(listenerTypeUrl, listener),
    /no codec for type.googleapis.com\/unknown.Thing/,
  );
});

test("unpackAny returns what packAny packed and refuses another type", () => {
  const hcm = HttpConnectionManager.fromPartial({ statPrefix: "ingress" });
  const any = packAny(httpConnectionManagerTypeUrl, hcm);
  assert.deepEqual(unpackAny(any, httpConnectionManagerTypeUrl), hcm);
  assert.throws(() => unpackAny(any, routerTypeUrl), /expected .*Router/);
});
