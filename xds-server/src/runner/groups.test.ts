import assert from "node:assert/strict";
import { test } from "node:test";
import { groupOf } from "./groups.js";

test("grpc libraries get the proxyless snapshot, Envoy and unknown clients the Envoy one", () => {
  const cases: [string, string, string][] = [
    ["envoy", "gateway", "envoy"],
    ["gRPC Node Pure JS", "", "proxyless"],
    ["gRPC Java", "", "proxyless"],
    ["gRPC Go", "", "proxyless"],
    ["", "proxyless", "proxyless"],
    ["", "", "envoy"],
  ];
  for (const [userAgentName, cluster, want] of cases)
    assert.equal(groupOf({ userAgentName, cluster }), want, userAgentName);
});
