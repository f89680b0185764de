/** StreamState without a network: subscription rules and push decisions, one rule per test. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { makeSnapshot, setVersion } from "../snapshot/index.js";
import { snap } from "./testing/index.js";
import { StreamState } from "./stream-state.js";

const names = (out: { resources: { name: string }[] }) => out.resources.map((r) => r.name);

test("SotW: empty names on the first request mean wildcard until the client names something; '*' mixes with names", () => {
  const s = new StreamState("sotw");
  s.setNames("cluster", []);
  assert.equal(s.kinds.cluster.wildcard, true);
  s.setNames("cluster", ["a"]);
  assert.equal(s.kinds.cluster.wildcard, false, "naming something ends the legacy wildcard");
  s.setNames("cluster", ["*", "a"]);
  assert.equal(s.kinds.cluster.wildcard, true);
  assert.deepEqual([...s.kinds.cluster.names], ["a"]);
  s.setNames("endpoint", []);
  assert.equal(s.kinds.endpoint.wildcard, false, "endpoints and routes are never wildcard");
});

test("a changed cluster's endpoints go out with it, even if unchanged (or it stays warming until Envoy gives up)", () => {
  const s = new StreamState("sotw");
  const v1 = snap({ cluster: { a: "1" }, endpoint: { a: "1" } });
  s.setNames("cluster", []);
  s.setNames("endpoint", ["a"]);
  const [c1, e1] = s.plan(v1);
  s.sent(c1!, { nonce: "1", version: "c1", snapshotVersion: v1.version });
  s.sent(e1!, { nonce: "2", version: "e1", snapshotVersion: v1.version });
  s.ack("cluster");
  s.ack("endpoint");
  assert.deepEqual(s.plan(v1), [], "nothing to send when up to date");

  // Envoy ACKs the clusters only once the changed one has warmed on its endpoints: they must not
  // wait for that ACK.
  const v2 = snap({ cluster: { a: "2" }, endpoint: { a: "1" } });
  const [c2, e2] = s.plan(v2);
  assert.equal(c2?.kind, "cluster");
  assert.equal(e2?.kind, "endpoint", "the unchanged endpoints go out with the changed cluster");
  assert.deepEqual(names(e2!), ["a"]);
  s.sent(c2!, { nonce: "3", version: "c2", snapshotVersion: v2.version });
  s.sent(e2!, { nonce: "4", version: "e2", snapshotVersion: v2.version });
  s.ack("endpoint");
  s.ack("cluster");
  assert.deepEqual(s.plan(v2), [], "and are not sent a third time");
});

test("delta: a stream that names nothing for endpoints gets nothing; unsubscribing forgets what was held", () => {
  const s = new StreamState("delta");
  const v = snap({ endpoint: { a: "1", b: "1" } });
  s.subscribe("endpoint", ["a", "b"], []);
  const [out] = s.plan(v);
  s.sent(out!, { nonce: "1", version: v.version, snapshotVersion: v.version });
  s.ack("endpoint");
  s.subscribe("endpoint", [], ["a"]);
  assert.deepEqual([...s.kinds.endpoint.acked.keys()], ["b"]);
  assert.deepEqual(s.plan(v), [], "an unsubscribe is not answered with a removal");
});

test("SotW: a route configuration no longer asked for is forgotten without a response", () => {
  const s = new StreamState("sotw");
  const v = snap({ route: { a: "1", b: "1" } });
  s.setNames("route", ["a", "b"]);
  const [out] = s.plan(v);
  s.sent(out!, { nonce: "1", version: "r1", snapshotVersion: v.version });
  s.ack("route");
  s.setNames("route", ["b"]);
  assert.deepEqual([...s.kinds.route.acked.keys()], ["b"]);
  assert.deepEqual(s.plan(v), [], "nothing to send: the client dropped 'a' itself");
});

test("SotW scopes: full state, before the routes they name; a removed model's scope and routes go", () => {
  const s = new StreamState("sotw");
  s.setNames("scopedRoute", []);
  s.setNames("route", ["r-a"]);
  const scope = (route: string) => ({ body: route, refs: [route] });
  const v1 = snap({
    scopedRoute: { "s-a": scope("r-a"), "s-b": scope("r-b") },
    route: { "r-a": "1", "r-b": "1" },
  });
  const first = s.plan(v1);
  assert.deepEqual(
    first.map((o) => [o.kind, names(o)]),
    [
      ["scopedRoute", ["s-a", "s-b"]],
      ["route", ["r-a"]],
    ],
    "every scope; the routes asked for, after the scopes",
  );
  first.forEach((o, i) => s.sent(o, { nonce: String(i), version: `v${i}`, snapshotVersion: v1.version }));
  s.ack("scopedRoute");
  s.ack("route");
  s.setNames("route", ["r-a", "r-b"]); // Envoy asks for the new scope's route configuration
  const [routes] = s.plan(v1);
  assert.deepEqual([routes?.kind, names(routes!)], ["route", ["r-b"]], "only the newly asked for");
  s.sent(routes!, { nonce: "2", version: "r1", snapshotVersion: v1.version });
  s.ack("route");

  const v2 = snap({ scopedRoute: { "s-a": scope("r-a") }, route: { "r-a": "1" } });
  const [scopes] = s.plan(v2);
  assert.deepEqual([scopes?.kind, names(scopes!)], ["scopedRoute", ["s-a"]], "full state, without s-b");
  s.sent(scopes!, { nonce: "3", version: "s2", snapshotVersion: v2.version });
  s.ack("scopedRoute");
  s.setNames("route", ["r-a"]);
  assert.deepEqual(s.plan(v2), [], "up to date: the route configuration no longer asked for is forgotten");
});

test("a snapshot never holds one name twice", () => {
  assert.throws(
    () =>
      makeSnapshot({
        cluster: [
          { name: "a", bytes: Buffer.from("1") },
          { name: "a", bytes: Buffer.from("2") },
        ],
        endpoint: [],
        listener: [],
        scopedRoute: [],
        route: [],
      }),
    /duplicate cluster 'a'/,
  );
});

test("versions are content hashes: the same content gives the same versions, other content others", () => {
  const a = snap({ cluster: { x: "1", y: "1" } });
  const b = snap({ cluster: { y: "1", x: "1" } });
  const c = snap({ cluster: { x: "1", y: "2" } });
  assert.equal(a.version, b.version);
  assert.equal(a.resources.cluster.get("x")!.version, c.resources.cluster.get("x")!.version);
  assert.notEqual(a.resources.cluster.get("y")!.version, c.resources.cluster.get("y")!.version);
  assert.notEqual(a.version, c.version);
});

test("SotW: one changed endpoint assignment is sent alone, not every subscribed one", () => {
  const s = new StreamState("sotw");
  const v1 = snap({ endpoint: { a: "1", b: "1", c: "1" } });
  s.setNames("endpoint", ["a", "b", "c"]);
  const [first] = s.plan(v1);
  assert.deepEqual(names(first!), ["a", "b", "c"], "the first response carries everything asked for");
  s.sent(first!, { nonce: "1", version: "x", snapshotVersion: v1.version });
  s.ack("endpoint");
  const v2 = snap({ endpoint: { a: "1", b: "2", c: "1" } });
  const [second] = s.plan(v2);
  assert.deepEqual(names(second!), ["b"]);
  assert.deepEqual([...second!.next.keys()], ["a", "b", "c"], "the client still holds all three");
});

test("a route to a cluster with its address inline (no endpoints resource) is not held back", () => {
  const s = new StreamState("sotw");
  // The snapshot helper gives EDS-style refs; an inline cluster names no endpoints.
  const base = snap({ cluster: { inline: "1" }, route: { r: "1" } });
  const inline = base.resources.cluster.get("inline");
  const route = base.resources.route.get("r");
  assert.ok(inline && route);
  const v = {
    ...base,
    resources: {
      ...base.resources,
      cluster: new Map([["inline", { ...inline, refs: [] }]]),
      route: new Map([["r", { ...route, refs: ["inline"] }]]),
    },
  };
  s.setNames("cluster", []);
  s.setNames("route", ["r"]);
  const [c] = s.plan(v);
  assert.equal(c?.kind, "cluster");
  s.sent(c!, { nonce: "1", version: "c1", snapshotVersion: v.version });
  s.ack("cluster");
  const [r] = s.plan(v);
  assert.equal(r?.kind, "route", "the route goes once its cluster is held, with no endpoints to wait for");
});

test("SotW reconnect: a client whose version_info is what it should hold is sent nothing; another version gets it all", () => {
  const v = snap({ cluster: { a: "1", b: "1" }, endpoint: { a: "1", b: "1" } });
  // The first stream: the versions the client accepted, as version_info carries them.
  const first = new StreamState("sotw");
  first.setNames("cluster", []);
  first.setNames("endpoint", ["a", "b"]);
  const sent = first.plan(v);
  const versionOf = (kind: "cluster" | "endpoint") =>
    setVersion(sent.find((o) => o.kind === kind)!.next.values());

  const again = new StreamState("sotw");
  again.setNames("cluster", []);
  assert.equal(again.resumeSotw("cluster", versionOf("cluster"), v), true);
  again.setNames("endpoint", ["a", "b"]);
  assert.equal(again.resumeSotw("endpoint", versionOf("endpoint"), v), true);
  assert.deepEqual(again.plan(v), [], "nothing it holds is sent again");
  // The next change goes out as to any client that holds the last one.
  const [changed] = again.plan(snap({ cluster: { a: "2", b: "1" }, endpoint: { a: "1", b: "1" } }));
  assert.equal(changed?.kind, "cluster");

  const stale = new StreamState("sotw");
  stale.setNames("cluster", []);
  assert.equal(stale.resumeSotw("cluster", "some-other-version", v), false);
  assert.equal(stale.resumeSotw("cluster", "", v), false, "no version_info: a first connection");
  assert.deepEqual(names(stale.plan(v)[0]!), ["a", "b"], "a client with another version gets the set");
});

test("SotW reconnect: when the clusters changed meanwhile, the endpoints are sent too, even at the version the client holds", () => {
  const v1 = snap({ cluster: { a: "1" }, endpoint: { a: "1" } });
  const first = new StreamState("sotw");
  first.setNames("cluster", []);
  first.setNames("endpoint", ["a"]);
  const held = first.plan(v1);
  const versionOf = (kind: "cluster" | "endpoint") =>
    setVersion(held.find((o) => o.kind === kind)!.next.values());
  // Another replica, a change later: the cluster differs, its endpoints do not.
  const v2 = snap({ cluster: { a: "2" }, endpoint: { a: "1" } });
  const again = new StreamState("sotw");
  again.setNames("cluster", []);
  assert.equal(again.resumeSotw("cluster", versionOf("cluster"), v2), false);
  again.setNames("endpoint", ["a"]);
  assert.equal(
    again.resumeSotw("endpoint", versionOf("endpoint"), v2),
    false,
    "or the changed cluster stays warming",
  );
  assert.deepEqual(
    again.plan(v2).map((o) => o.kind),
    ["cluster", "endpoint"],
  );
});

test("streams in sync hold the snapshot's own sets; one that unsubscribes or renames changes only its own", () => {
  const v = snap({ cluster: { a: "1" }, endpoint: { a: "1", b: "1" }, route: { r: "1", q: "1" } });
  const sync = (s: StreamState) => {
    for (const out of s.plan(v)) {
      s.sent(out, { nonce: out.kind, version: out.kind, snapshotVersion: v.version });
      s.ack(out.kind);
    }
  };
  const delta = [new StreamState("delta"), new StreamState("delta")];
  for (const s of delta) {
    s.subscribe("endpoint", ["a", "b"], [], v);
    sync(s);
  }
  const [d1, d2] = delta as [StreamState, StreamState];
  assert.equal(d1.kinds.endpoint.acked, v.resources.endpoint, "what it holds is the snapshot's map");
  assert.equal(d1.kinds.endpoint.names, d2.kinds.endpoint.names, "one set of names for both");
  d1.subscribe("endpoint", [], ["a"], v);
  assert.deepEqual([...d1.kinds.endpoint.acked.keys()], ["b"]);
  assert.deepEqual([...d1.kinds.endpoint.names], ["b"]);
  assert.deepEqual([...d2.kinds.endpoint.names], ["a", "b"], "the other stream's names are untouched");
  assert.deepEqual([...v.resources.endpoint.keys()], ["a", "b"], "and so is the snapshot");

  const sotw = [new StreamState("sotw"), new StreamState("sotw")];
  for (const s of sotw) {
    s.setNames("route", ["r", "q"], v);
    sync(s);
  }
  const [s1, s2] = sotw as [StreamState, StreamState];
  assert.equal(s1.kinds.route.acked, s2.kinds.route.acked);
  s1.setNames("route", ["q"], v);
  assert.deepEqual([...s1.kinds.route.acked.keys()], ["q"]);
  assert.deepEqual([...s2.kinds.route.acked.keys()], ["q", "r"]);
  assert.deepEqual([...s2.kinds.route.names].sort(), ["q", "r"]);
  assert.deepEqual(s1.plan(v), [], "nothing to send: the client dropped 'r' itself");
});
