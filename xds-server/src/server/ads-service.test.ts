/**
 * The ADS protocol over real gRPC, one behaviour of docs/XDS-CHECKLIST.md per test: nonces, ACK and
 * NACK, wildcard and named subscriptions, ordering, delta diffs, reconnect with known versions.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import type { DiscoveryResponse } from "../../../gen/envoy/envoy/service/discovery/v3/discovery.js";
import { TYPE_URLS } from "../snapshot/index.js";
import { openDelta, openSotw, snap, startTestAds, type TestAds } from "./testing/index.js";

const CDS = TYPE_URLS.cluster;
const EDS = TYPE_URLS.endpoint;
const LDS = TYPE_URLS.listener;
const RDS = TYPE_URLS.route;

const names = (r: DiscoveryResponse) => r.resources.map((a) => a.value.toString().split("/")[1]);

describe("State-of-the-World ADS", () => {
  let ads: TestAds;
  before(async () => (ads = await startTestAds()));
  after(() => ads.close());

  test("wildcard CDS: first request answered; ACK gets no reply; a change is pushed; NACK is not resent", async () => {
    ads.cache.set("envoy", snap({ cluster: { a: "1", b: "1" } }));
    const s = openSotw(ads.address);
    try {
      s.send({ typeUrl: CDS });
      const r1 = await s.inbox.next();
      assert.equal(r1.typeUrl, CDS);
      assert.deepEqual(names(r1), ["a", "b"]);
      assert.ok(
        r1.resources.every((a) => a.typeUrl === CDS),
        "every Any has the response's type_url",
      );
      s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });

      ads.cache.set("envoy", snap({ cluster: { a: "2", b: "1" } }));
      const r2 = await s.inbox.next();
      assert.notEqual(r2.versionInfo, r1.versionInfo);
      assert.notEqual(r2.nonce, r1.nonce);
      assert.equal(s.inbox.buffered, 0, "an ACK is not answered");
      // NACK: keeps the old version, with error_detail.
      s.send({
        typeUrl: CDS,
        versionInfo: r1.versionInfo,
        responseNonce: r2.nonce,
        errorDetail: { code: 3, message: "bad cluster a", details: [] },
      });
      await waitFor(() => ads.registry.list()[0]?.nacks.length === 1);
      const client = ads.registry.list()[0]!;
      assert.equal(client.nacks[0]!.message, "bad cluster a");
      assert.equal(client.nacks[0]!.kind, "cluster");
      assert.equal(
        client.kinds.cluster.ackedVersion,
        r1.versionInfo,
        "the client stays on its last good version",
      );
      assert.match(
        await ads.metricsRegistry.metrics(),
        /inferencehub_xds_nacks_total\{kind="cluster",transport="sotw"\} 1/,
      );

      // Setting the same rejected content again sends nothing; new content is sent.
      ads.cache.set("envoy", snap({ cluster: { a: "2", b: "1" }, listener: { x: "0" } }));
      ads.cache.set("envoy", snap({ cluster: { a: "3", b: "1" } }));
      const r3 = await s.inbox.next();
      assert.deepEqual(names(r3), ["a", "b"]);
      assert.match(
        r3.resources[0]!.value.toString(),
        /cluster\/a\/3/,
        "the first response after a NACK is the new content",
      );
    } finally {
      s.close();
    }
  });

  test("push latency is set → ACK on one clock: a small positive time", async () => {
    ads.cache.set("envoy", snap({ cluster: { latency: "1" } }));
    const s = openSotw(ads.address);
    try {
      s.send({ typeUrl: CDS });
      const r = await s.inbox.next();
      s.send({ typeUrl: CDS, versionInfo: r.versionInfo, responseNonce: r.nonce });
      const sample = (name: string, text: string) =>
        Number(new RegExp(`${name}\\{kind="cluster",transport="sotw"\\} (\\S+)`).exec(text)?.[1] ?? NaN);
      await waitFor(
        async () =>
          sample("inferencehub_xds_push_latency_seconds_count", await ads.metricsRegistry.metrics()) >= 1,
      );
      const text = await ads.metricsRegistry.metrics();
      const mean =
        sample("inferencehub_xds_push_latency_seconds_sum", text) /
        sample("inferencehub_xds_push_latency_seconds_count", text);
      assert.ok(mean >= 0 && mean < 10, `mean push latency ${mean} s`);
    } finally {
      s.close();
    }
  });

  test("named EDS: answered with what exists; a missing name is pushed when it appears", async () => {
    ads.cache.set("envoy", snap({ endpoint: { a: "1", b: "1" } }));
    const s = openSotw(ads.address);
    try {
      s.send({ typeUrl: EDS, resourceNames: ["a", "later"] });
      const r1 = await s.inbox.next();
      assert.deepEqual(names(r1), ["a"]);
      s.send({
        typeUrl: EDS,
        resourceNames: ["a", "later"],
        versionInfo: r1.versionInfo,
        responseNonce: r1.nonce,
      });
      ads.cache.set("envoy", snap({ endpoint: { a: "1", b: "1", later: "1" } }));
      const r2 = await s.inbox.next();
      assert.deepEqual(names(r2), ["later"], "only what appeared: the client keeps a");
      // Status lists what the client asks for, sorted, as of its last request.
      s.send({
        typeUrl: EDS,
        resourceNames: ["later", "b", "a"],
        versionInfo: r2.versionInfo,
        responseNonce: r2.nonce,
      });
      const r3 = await s.inbox.next();
      assert.deepEqual(names(r3), ["b"]);
      const [client] = ads.registry.list();
      assert.deepEqual(client?.kinds.endpoint.subscribed, ["a", "b", "later"]);
    } finally {
      s.close();
    }
  });

  test("a request with a stale nonce is ignored", async () => {
    ads.cache.set("envoy", snap({ endpoint: { a: "1", b: "1" } }));
    const s = openSotw(ads.address);
    try {
      s.send({ typeUrl: EDS, resourceNames: ["a"] });
      const r1 = await s.inbox.next();
      s.send({ typeUrl: EDS, resourceNames: ["a"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
      // Stale: asks for b with a nonce that is no longer the latest; must be ignored.
      s.send({ typeUrl: EDS, resourceNames: ["a", "b"], responseNonce: "not-the-last-nonce" });
      // A fresh request names b too and is answered; had the stale one counted, b would already be sent.
      s.send({ typeUrl: EDS, resourceNames: ["b"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
      const r2 = await s.inbox.next();
      assert.deepEqual(names(r2), ["b"]);
      assert.equal(s.inbox.buffered, 0);
    } finally {
      s.close();
    }
  });

  test("make before break: new clusters and endpoints are ACKed before routes move to them; old clusters go last", async () => {
    const v1 = snap({
      cluster: { old: { body: "1", refs: ["old"] } },
      endpoint: { old: "1" },
      listener: { ingress: { body: "1", refs: ["routes"] } },
      route: { routes: { body: "to-old", refs: ["old"] } },
    });
    const v2 = snap({
      cluster: { new: { body: "1", refs: ["new"] } },
      endpoint: { new: "1" },
      listener: { ingress: { body: "1", refs: ["routes"] } },
      route: { routes: { body: "to-new", refs: ["new"] } },
    });
    ads.cache.set("envoy", v1);
    const s = openSotw(ads.address);
    const ack = (r: DiscoveryResponse, resourceNames: string[] = []) =>
      s.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames });
    try {
      // Envoy's start: CDS (wildcard), EDS for its clusters, then LDS once clusters are warm, then RDS.
      s.send({ typeUrl: CDS });
      const c1 = await s.inbox.next();
      assert.equal(c1.typeUrl, CDS, "clusters first");
      ack(c1);
      s.send({ typeUrl: EDS, resourceNames: ["old"] });
      const e1 = await s.inbox.next();
      assert.equal(e1.typeUrl, EDS);
      ack(e1, ["old"]);
      s.send({ typeUrl: LDS });
      const l1 = await s.inbox.next();
      assert.equal(l1.typeUrl, LDS);
      ack(l1);
      s.send({ typeUrl: RDS, resourceNames: ["routes"] });
      const rt1 = await s.inbox.next();
      assert.equal(rt1.typeUrl, RDS);
      ack(rt1, ["routes"]);
      await waitFor(() => ads.registry.list()[0]?.syncedVersion === v1.version);

      ads.cache.set("envoy", v2);
      const c2 = await s.inbox.next();
      assert.equal(c2.typeUrl, CDS);
      assert.deepEqual(names(c2).sort(), ["new", "old"], "the old cluster stays while routes use it");
      // As Envoy does: it asks for the new cluster's endpoints and ACKs CDS only once the cluster
      // has warmed on them, so endpoints must flow while CDS awaits its ACK.
      s.send({
        typeUrl: EDS,
        resourceNames: ["new", "old"],
        versionInfo: e1.versionInfo,
        responseNonce: e1.nonce,
      });
      const e2 = await s.inbox.next();
      assert.equal(e2.typeUrl, EDS);
      assert.ok(names(e2).includes("new"));
      ack(e2, ["new", "old"]);
      assert.equal(s.inbox.buffered, 0, "routes wait for the CDS ACK");
      ack(c2);
      // Routes move only once clusters and endpoints are both ACKed.
      const rt2 = await s.inbox.next();
      assert.equal(rt2.typeUrl, RDS);
      assert.match(rt2.resources[0]!.value.toString(), /to-new/);
      ack(rt2, ["routes"]);
      const c3 = await s.inbox.next();
      assert.equal(c3.typeUrl, CDS);
      assert.deepEqual(names(c3), ["new"], "the old cluster is removed last");
    } finally {
      s.close();
    }
  });

  test("a request without type_url ends the stream with INVALID_ARGUMENT", async () => {
    const s = openSotw(ads.address);
    try {
      s.send({ typeUrl: "" });
      await assert.rejects(s.inbox.next(), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
    } finally {
      s.close();
    }
  });

  test("a closed stream is forgotten", async () => {
    const s = openSotw(ads.address);
    s.send({ typeUrl: CDS });
    await s.inbox.next();
    assert.ok(ads.registry.size >= 1);
    s.close();
    await waitFor(() => ads.registry.size === 0);
  });
});

describe("delta ADS", () => {
  let ads: TestAds;
  before(async () => (ads = await startTestAds()));
  after(() => ads.close());

  test("sends only what changed, and removals by name", async () => {
    ads.cache.set("envoy", snap({ cluster: { a: "1", b: "1", c: "1" } }));
    const s = openDelta(ads.address);
    try {
      s.send({ typeUrl: CDS });
      const r1 = await s.inbox.next();
      assert.deepEqual(
        r1.resources.map((r) => r.name),
        ["a", "b", "c"],
      );
      s.send({ typeUrl: CDS, responseNonce: r1.nonce });
      ads.cache.set("envoy", snap({ cluster: { a: "1", b: "2" } }));
      const r2 = await s.inbox.next();
      assert.deepEqual(
        r2.resources.map((r) => r.name),
        ["b"],
        "only the changed resource",
      );
      assert.deepEqual(r2.removedResources, ["c"]);
      assert.notEqual(r2.resources[0]!.version, r1.resources[1]!.version);
    } finally {
      s.close();
    }
  });

  test("reconnect with initial_resource_versions: nothing unchanged is resent, the first request is still answered", async () => {
    const snapshot = snap({ cluster: { a: "1", b: "1" } });
    ads.cache.set("envoy", snapshot);
    const s = openDelta(ads.address);
    try {
      const versions = Object.fromEntries(
        [...snapshot.resources.cluster.values()].map((r) => [r.name, r.version]),
      );
      versions.b = "some-old-version";
      s.send({ typeUrl: CDS, initialResourceVersions: versions });
      const r1 = await s.inbox.next();
      assert.deepEqual(
        r1.resources.map((r) => r.name),
        ["b"],
      );
    } finally {
      s.close();
    }
  });

  test("a subscribed name that does not exist is reported removed; unsubscribing a never-subscribed name is ignored", async () => {
    ads.cache.set("envoy", snap({ endpoint: { a: "1" } }));
    const s = openDelta(ads.address);
    try {
      s.send({ typeUrl: EDS, resourceNamesSubscribe: ["a", "ghost"] });
      const r1 = await s.inbox.next();
      assert.deepEqual(
        r1.resources.map((r) => r.name),
        ["a"],
      );
      assert.deepEqual(r1.removedResources, ["ghost"]);
      s.send({ typeUrl: EDS, responseNonce: r1.nonce, resourceNamesUnsubscribe: ["never"] });
      // Subscribing anew is always answered, even for a resource the client holds.
      s.send({ typeUrl: EDS, responseNonce: r1.nonce, resourceNamesSubscribe: ["a"] });
      const r2 = await s.inbox.next();
      assert.deepEqual(
        r2.resources.map((r) => r.name),
        ["a"],
      );
      assert.deepEqual(r2.removedResources, []);
    } finally {
      s.close();
    }
  });

  test("NACK keeps the client's versions and the rejected version is not resent", async () => {
    ads.cache.set("envoy", snap({ cluster: { a: "1" } }));
    const s = openDelta(ads.address);
    try {
      s.send({ typeUrl: CDS });
      const r1 = await s.inbox.next();
      s.send({ typeUrl: CDS, responseNonce: r1.nonce });
      ads.cache.set("envoy", snap({ cluster: { a: "bad" } }));
      const r2 = await s.inbox.next();
      s.send({ typeUrl: CDS, responseNonce: r2.nonce, errorDetail: { code: 3, message: "no", details: [] } });
      await waitFor(() => (ads.registry.list()[0]?.nacks.length ?? 0) === 1);
      ads.cache.set("envoy", snap({ cluster: { a: "bad", b: "1" } }));
      const r3 = await s.inbox.next();
      assert.deepEqual(
        r3.resources.map((r) => r.name),
        ["b"],
        "a stays rejected, only b is new",
      );
    } finally {
      s.close();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

describe("delta ADS, stale nonces", () => {
  let ads: TestAds;
  before(async () => (ads = await startTestAds()));
  after(() => ads.close());

  test("subscription changes apply even with a stale nonce", async () => {
    ads.cache.set("envoy", snap({ endpoint: { a: "1", b: "1" } }));
    const s = openDelta(ads.address);
    try {
      s.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
      const r1 = await s.inbox.next();
      s.send({ typeUrl: EDS, responseNonce: r1.nonce });
      s.send({ typeUrl: EDS, responseNonce: "stale", resourceNamesSubscribe: ["b"] });
      const r2 = await s.inbox.next();
      assert.deepEqual(
        r2.resources.map((r) => r.name),
        ["b"],
      );
    } finally {
      s.close();
    }
  });
});
