import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { Cluster, Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../../gen/envoy/envoy/config/endpoint/v3/endpoint.js";
import { createSnapshotCache } from "../cache/index.js";
import { createXdsMetrics } from "../server/index.js";
import { snapshotFromResources, snapshotProblems } from "../snapshot/index.js";
import { recordsOf, type ResourceSet } from "../translate/index.js";
import { publishChecked, type BuiltGroup } from "./publish.js";

function built(resources: ResourceSet): BuiltGroup {
  const snapshot = snapshotFromResources(resources);
  return { snapshot, problems: snapshotProblems(snapshot, recordsOf(resources)) };
}

const edsCluster = (name: string) =>
  Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: "type", type: Cluster_DiscoveryType.EDS },
  });
const assignment = (clusterName: string) => ClusterLoadAssignment.fromPartial({ clusterName });

const good: ResourceSet = {
  listeners: [],
  scopedRoutes: [],
  routes: [],
  clusters: [{ name: "a", resource: edsCluster("a") }],
  endpoints: [{ name: "a", resource: assignment("a") }],
};

function target() {
  const lines: { msg: string; level: number; group?: string; problems?: string[] }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const metrics = createXdsMetrics(new Registry());
  return { cache: createSnapshotCache(), log, metrics, lines };
}

test("a consistent snapshot is published", () => {
  const t = target();
  const b = built(good);
  assert.deepEqual(publishChecked(t, { envoy: b }), []);
  assert.equal(t.cache.get("envoy")?.version, b.snapshot.version);
  assert.equal(t.lines.at(-1)?.msg, "snapshot published");
});

test("an inconsistent resource set is refused before it is published: the last good snapshot keeps serving", async () => {
  const t = target();
  const first = built(good);
  publishChecked(t, { envoy: first });
  // An endpoint assignment no cluster names: the snapshot's own refs are fine, only the full
  // check (checkResourceSet) finds it.
  const orphan: ResourceSet = {
    ...good,
    endpoints: [...good.endpoints, { name: "b", resource: assignment("b") }],
  };
  const second = built(orphan);
  assert.notEqual(second.snapshot.version, first.snapshot.version);
  const proxyless = built(good);
  assert.deepEqual(publishChecked(t, { envoy: second, proxyless }), ["envoy"]);
  assert.equal(t.cache.get("envoy")?.version, first.snapshot.version, "the last good snapshot serves");
  assert.equal(t.cache.get("proxyless")?.version, proxyless.snapshot.version, "another group is unaffected");
  const refusal = t.lines.find((l) => l.msg.startsWith("snapshot refused"));
  assert.equal(refusal?.group, "envoy");
  assert.deepEqual(refusal?.problems, ['endpoints "b" is named by no cluster']);
  assert.equal(refusal?.level, 50, "logged as an error");
  const counted = await t.metrics.snapshotsRefused.get();
  assert.deepEqual(
    counted.values.map((v) => [v.labels, v.value]),
    [[{ group: "envoy" }, 1]],
  );

  // A dangling reference is refused too: a cluster whose endpoints do not exist.
  const dangling: ResourceSet = { ...good, endpoints: [] };
  assert.deepEqual(publishChecked(t, { envoy: built(dangling) }), ["envoy"]);
  assert.equal(t.cache.get("envoy")?.version, first.snapshot.version);
  const last = t.lines.at(-1);
  assert.deepEqual(last?.problems, [
    'clusters "a" needs endpoints a, which do not exist',
    "cluster 'a' refers to missing endpoint 'a'",
  ]);
});
