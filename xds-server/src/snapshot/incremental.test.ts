/**
 * SnapshotBuilder against full builds: after each edit in a sequence, the reused build must equal
 * a build from nothing, resource by resource, and rebuild only the units the edit touched.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import { buildIR, unknownHealth, type HealthView } from "../ir/index.js";
import type { ClientGroup } from "../translate/index.js";
import { createSnapshotBuilder } from "./incremental.js";
import { XDS_KINDS } from "./kinds.js";
import type { Snapshot } from "./snapshot.js";

interface Shape {
  weights: [number, number];
  models: number;
  auth?: boolean;
  timeout?: string;
  extraNode?: boolean;
}

function configText(s: Shape): string {
  const models = Array.from(
    { length: s.models },
    (_, i) => `
  - name: m${i}
    ${s.timeout && i === 1 ? `timeout: ${s.timeout}` : ""}
    versions:
      - { version: "1", weight: ${i === 0 ? s.weights[0] : 50}, nodes: [n1] }
      - { version: "2", weight: ${i === 0 ? s.weights[1] : 50}, nodes: [n1${s.extraNode && i === 2 ? ", n2" : ""}] }`,
  ).join("");
  const auth = s.auth
    ? `auth: { extAuthz: { address: "127.0.0.1:19000" }, keysFile: keys.yaml, tenants: [{ name: t, models: ["*"] }] }\n`
    : "";
  return `${auth}nodes:
  - { name: n1, address: "127.0.0.1:9001" }
  - { name: n2, address: "127.0.0.1:9002" }
models:${models}
`;
}

function ir(s: Shape, health: HealthView = unknownHealth) {
  const parsed = parseConfig(configText(s));
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  return buildIR(parsed.value, health);
}

/** Every kind, every resource: the same names at the same versions with the same bytes. */
function assertSame(
  actual: Record<ClientGroup, Snapshot>,
  expected: Record<ClientGroup, Snapshot>,
  what: string,
) {
  for (const group of ["envoy", "proxyless"] as const) {
    for (const kind of XDS_KINDS) {
      const a = actual[group].resources[kind];
      const e = expected[group].resources[kind];
      assert.deepEqual([...a.keys()], [...e.keys()], `${what}: ${group} ${kind} names`);
      for (const [name, r] of e) {
        assert.equal(a.get(name)?.version, r.version, `${what}: ${group} ${kind} ${name}`);
        assert.deepEqual(a.get(name)?.refs, r.refs, `${what}: ${group} ${kind} ${name} refs`);
      }
    }
    assert.equal(actual[group].version, expected[group].version, `${what}: ${group} snapshot version`);
  }
}

const unhealthy: HealthView = (node) => (node === "n1" ? "UNHEALTHY" : "HEALTHY");

test("each edit rebuilds only the units it touches, and the result equals a full build", () => {
  const builder = createSnapshotBuilder();
  // Each step edits the one before it. 1 gateway unit + 4 models + 8 clusters at first.
  const s1: Shape = { weights: [100, 0], models: 4 };
  const s2: Shape = { ...s1, weights: [0, 100] };
  const s3: Shape = { ...s2, timeout: "5s" };
  const s4: Shape = { ...s3, extraNode: true };
  const s5: Shape = { ...s4, models: 5 };
  const s6: Shape = { ...s4, models: 3 };
  const s7: Shape = { ...s6, auth: true };
  const steps: { what: string; shape: Shape; health?: HealthView; built: number }[] = [
    { what: "first build", shape: s1, built: 13 },
    { what: "nothing changed", shape: s1, built: 0 },
    { what: "one model's weights", shape: s2, built: 1 },
    { what: "one model's timeout", shape: s3, built: 1 },
    { what: "a node added to one version (one cluster's endpoints)", shape: s4, built: 1 },
    { what: "a model added (the model and its two clusters)", shape: s5, built: 3 },
    { what: "two models removed", shape: s6, built: 0 },
    // Every cluster it serves, the three models with a version down (version failover), and the
    // gateway: with a model's every version down it is no longer ready (REST's /v2/health/ready).
    { what: "a node unhealthy (every cluster it serves)", shape: s6, health: unhealthy, built: 10 },
    { what: "auth on: every unit reads the gateway part", shape: s7, health: unhealthy, built: 10 },
  ];
  for (const step of steps) {
    const health = step.health ?? unknownHealth;
    const reused = builder.build(ir(step.shape, health));
    assertSame(reused, createSnapshotBuilder().build(ir(step.shape, health)), step.what);
    assert.equal(builder.lastBuild.built, step.built, `${step.what}: units built`);
  }
});

test("endpoints, shared by both groups, are encoded once: both snapshots hold the same bytes", () => {
  const snapshots = createSnapshotBuilder().build(ir({ weights: [100, 0], models: 2 }));
  const envoy = snapshots.envoy.resources.endpoint;
  assert.equal(envoy.size, 4);
  for (const [name, r] of envoy) {
    assert.equal(
      snapshots.proxyless.resources.endpoint.get(name)?.any.value.buffer,
      r.any.value.buffer,
      name,
    );
  }
});

test("a build whose resources are inconsistent says what is wrong, and the next good build says nothing", () => {
  const builder = createSnapshotBuilder();
  const good = ir({ weights: [100, 0], models: 3 });
  builder.build(good);
  assert.deepEqual(builder.lastProblems, { envoy: [], proxyless: [] });
  // A translator bug, made by hand: one model's IR mirrors calls to a cluster nobody built.
  const [first, ...rest] = good.models;
  const broken = {
    ...good,
    models: [{ ...first!, shadow: { version: "9", cluster: "m0~9", percent: 5 } }, ...rest],
  };
  builder.build(broken);
  const problems: readonly string[] = builder.lastProblems.envoy;
  assert.ok(
    problems.some((p) => p.includes("routes to cluster m0~9, which does not exist")),
    problems.join("\n"),
  );
  assert.equal(builder.lastBuild.built, 1);
  builder.build(good);
  assert.deepEqual(builder.lastProblems, { envoy: [], proxyless: [] });
  assertSame(builder.build(good), createSnapshotBuilder().build(good), "after the bad build");
});
