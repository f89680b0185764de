/**
 * The driver over an in-memory config, store and metrics, its clock moved by hand: what it edits,
 * what it records, and what it refuses. The processes themselves: test/rollout.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pino from "pino";
import { status } from "@grpc/grpc-js";
import type { Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { StartRolloutRequest } from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import type { Edit } from "../admin/index.js";
import type { VersionHealth } from "./decide.js";
import { RolloutDriver } from "./driver.js";
import type { EnvoySamples } from "./envoy-sampler.js";
import { MemoryRolloutStore } from "./store.js";

function world() {
  let version = 1;
  const model = {
    name: "scale",
    versions: [
      { version: "1", weight: 100, nodes: ["a"] },
      { version: "2", weight: 0, nodes: ["b"] },
    ],
  };
  const config = {
    get current() {
      return { models: [model] } as unknown as Config;
    },
    get version() {
      return String(version);
    },
  };
  const edits: Edit[] = [];
  let conflicts = 0;
  const core = {
    edit: (edit: Edit, base: string) => {
      if (conflicts > 0) {
        conflicts--;
        return Promise.reject(new GatewayError(status.ABORTED, "stale base_version"));
      }
      assert.equal(base, String(version));
      edits.push(edit);
      if (edit.op === "setWeights")
        for (const v of model.versions) v.weight = edit.weights[v.version] ?? Number.NaN;
      if (edit.op === "removeVersion")
        model.versions = model.versions.filter((v) => v.version !== edit.version);
      version++;
      return Promise.resolve({ configVersion: String(version), model: undefined });
    },
  };
  let now = 0;
  let calls = 0;
  let failures = 0;
  let health: VersionHealth = { healthy: 1, unknown: 0, total: 1 };
  let ready = true;
  let leader = true;
  const store = new MemoryRolloutStore();
  const make = () =>
    new RolloutDriver({
      core,
      config,
      store,
      sample: (): Promise<EnvoySamples> =>
        Promise.resolve({
          byEnvoy: new Map([["e1#1", { total: calls, failures, p99Ms: 2 }]]),
          missing: [],
        }),
      health: () => health,
      versionReady: () => ({ ready, detail: ready ? "ok" : "not yet" }),
      envoysSynced: () => true,
      isLeader: () => leader,
      log: pino({ level: "silent" }),
      now: () => now,
    });
  return {
    model,
    edits,
    store,
    make,
    weights: () => Object.fromEntries(model.versions.map((v) => [v.version, v.weight])),
    advance: (ms: number, more = 0, failed = 0) => {
      now += ms;
      calls += more;
      failures += failed;
    },
    set: (o: { health?: VersionHealth; ready?: boolean; leader?: boolean; conflicts?: number }) => {
      health = o.health ?? health;
      ready = o.ready ?? ready;
      leader = o.leader ?? leader;
      conflicts = o.conflicts ?? conflicts;
    },
  };
}

const request = (over: Partial<StartRolloutRequest> = {}): StartRolloutRequest => ({
  model: "scale",
  toVersion: "2",
  steps: [10, 100],
  intervalMs: 1000,
  maxErrorRate: 0.1,
  maxP99Ms: 0,
  minCalls: 5,
  removeOld: false,
  readyTimeoutMs: 0,
  maxHoldMs: 0,
  ...over,
});

describe("RolloutDriver", () => {
  test("steps through, one edit per step, and removes the old version with remove_old", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    const r = await d.start(request({ removeOld: true }), "alice");
    assert.deepEqual([r.state, r.step], ["running", 1]);
    assert.deepEqual(w.weights(), { "1": 90, "2": 10 });
    await d.tick(); // the step's baseline
    w.advance(1000, 20);
    await d.tick();
    assert.deepEqual(w.weights(), { "1": 0, "2": 100 });
    await d.tick();
    w.advance(1000, 20);
    await d.tick();
    const done = d.get("scale");
    assert.equal(done.state, "completed");
    assert.deepEqual(w.weights(), { "2": 100 });
    assert.deepEqual(
      w.edits.map((e) => e.op),
      ["setWeights", "setWeights", "removeVersion"],
    );
    assert.equal(w.store.saved.get("scale")?.state, "completed");
    await d.stop();
  });

  test("a second start is refused naming the live one; abort puts the original weights back", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    await d.start(request(), "alice");
    await assert.rejects(
      d.start(request(), "bob"),
      (e: GatewayError) =>
        e.code === status.FAILED_PRECONDITION &&
        /already has a rollout running: to version 2/.test(e.message),
    );
    const aborted = await d.abort("scale", "bob");
    assert.equal(aborted.state, "aborted");
    assert.deepEqual(w.weights(), { "1": 100, "2": 0 });
    await assert.rejects(d.abort("scale", "bob"), /ended already/);
    await d.stop();
  });

  test("waits for readiness without touching weights, then fails past the timeout", async () => {
    const w = world();
    w.set({ ready: false });
    const d = w.make();
    await d.open();
    const r = await d.start(request({ readyTimeoutMs: 2000 }), "alice");
    assert.equal(r.state, "waiting-ready");
    w.advance(2000);
    await d.tick();
    assert.equal(d.get("scale").state, "failed");
    assert.deepEqual(w.edits, []);
    await d.stop();
  });

  test("rolls back when the new version loses its last healthy node, retrying a conflicting edit", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    await d.start(request(), "alice");
    w.set({ health: { healthy: 0, unknown: 0, total: 1 }, conflicts: 1 });
    await d.tick();
    assert.equal(d.get("scale").state, "running", "the edit conflicted: retried next tick");
    assert.match(d.get("scale").reason, /retrying/);
    await d.tick();
    assert.equal(d.get("scale").state, "rolled-back");
    assert.deepEqual(w.weights(), { "1": 100, "2": 0 });
    await d.stop();
  });

  test("rolls back on the error rate of the step", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    await d.start(request(), "alice");
    await d.tick();
    w.advance(100, 10, 5);
    await d.tick();
    assert.equal(d.get("scale").state, "rolled-back");
    assert.match(d.get("scale").reason, /error rate of 2 50\.00%/);
    await d.stop();
  });

  test("another driver on the same store resumes from the recorded step; a non-leader drives nothing", async () => {
    const w = world();
    const first = w.make();
    await first.open();
    await first.start(request({ steps: [10, 50, 100] }), "alice");
    await first.tick();
    w.advance(1000, 20);
    await first.tick();
    assert.equal(first.get("scale").step, 2);
    await first.stop();

    w.set({ leader: false });
    const second = w.make();
    await second.open();
    await assert.rejects(second.start(request(), "bob"), /not the leader/);
    assert.deepEqual(second.list(), []);
    w.set({ leader: true });
    await second.tick();
    const resumed = second.get("scale");
    assert.equal(resumed.step, 2);
    assert.ok(resumed.events.some((e) => e.kind === "resume"));
    assert.deepEqual(w.weights(), { "1": 50, "2": 50 });
    await second.tick();
    w.advance(1000, 20);
    await second.tick();
    assert.deepEqual(w.weights(), { "1": 0, "2": 100 });
    await second.stop();
  });

  test("a hold is one event per kind of reason, saved once; the hold then passes when the calls come", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    await d.start(request({ minCalls: 100 }), "alice");
    await d.tick();
    for (let i = 0; i < 5; i++) {
      w.advance(1000, 10);
      await d.tick();
    }
    const held = d.get("scale");
    assert.equal(held.state, "holding");
    assert.match(held.reason, /50 call\(s\) on 2 this step, fewer than min_calls 100/);
    assert.equal(held.events.filter((e) => e.kind === "hold").length, 1);
    assert.deepEqual(w.weights(), { "1": 90, "2": 10 }, "holding keeps the step's weights");
    w.advance(100, 60);
    await d.tick();
    assert.deepEqual([d.get("scale").state, d.get("scale").step], ["running", 2]);
    await d.stop();
  });

  test("a pinned model is refused; a version removed mid-rollout fails it", async () => {
    const w = world();
    const d = w.make();
    await d.open();
    (w.model as { pin?: string }).pin = "1";
    await assert.rejects(d.start(request(), "alice"), /pinned to version '1'/);
    delete (w.model as { pin?: string }).pin;
    await d.start(request(), "alice");
    w.model.versions = w.model.versions.filter((v) => v.version !== "2");
    await d.tick();
    assert.equal(d.get("scale").state, "failed");
    assert.match(d.get("scale").reason, /version '2' was removed/);
    await d.stop();
  });

  test("a store that cannot be read at start is read again on the next tick; nothing starts meanwhile", async () => {
    const w = world();
    const first = w.make();
    await first.open();
    await first.start(request({ steps: [10, 50, 100] }), "alice");
    await first.stop();
    const load = w.store.load.bind(w.store);
    let failures = 1;
    w.store.load = () => (failures-- > 0 ? Promise.reject(new Error("etcd did not answer")) : load());
    const second = w.make();
    await second.open();
    await assert.rejects(second.start(request(), "bob"), /has not been read yet/);
    await second.tick();
    assert.equal(second.get("scale").state, "running");
    assert.ok(second.get("scale").events.some((e) => e.kind === "resume"));
    await second.stop();
  });
});
