import assert from "node:assert/strict";
import { test } from "node:test";
import type { AdminApiModel } from "@inferencehub/contracts/admin-api";
import type { AdminApi } from "./api.js";
import type { ClusterSample } from "./envoy-stats.js";
import { parseSteps, rollout, stepWeights, type RolloutOptions } from "./rollout.js";

/** An admin API over an in-memory model, recording every weight edit. */
function fakeApi(model: AdminApiModel) {
  const edits: Record<string, number>[] = [];
  let version = 0;
  const api: AdminApi = {
    get: async <T>() => ({ configVersion: `v${version}`, model: structuredClone(model) }) as T,
    send: async <T>(_m: string, _p: string, body?: unknown) => {
      const weights = (body as { weights: Record<string, number> }).weights;
      edits.push(weights);
      for (const v of model.versions) v.weight = weights[v.version] ?? 0;
      version++;
      return { configVersion: `v${version}` } as T;
    },
  };
  return { api, edits };
}

const base = (): AdminApiModel => ({
  name: "scale",
  versions: [
    { version: "1", weight: 100, nodes: ["a"] },
    { version: "2", weight: 0, nodes: ["a"] },
  ],
});

const options: RolloutOptions = {
  model: "scale",
  to: "2",
  steps: [10, 50, 100],
  intervalMs: 1000,
  maxErrorRate: 0.05,
  maxP99Ms: 200,
  minCalls: 10,
};

/** Counters that grow by `perStep` calls with `failRate` failures each time they are read. */
function counters(failRate: number, p99Ms = 50) {
  let total = 0;
  let failures = 0;
  return async (): Promise<ClusterSample> => {
    total += 100;
    failures += 100 * failRate;
    return { total, failures, p99Ms };
  };
}

const deps = (api: AdminApi, sample: () => Promise<ClusterSample>, interrupted = () => false) => ({
  api,
  sample,
  waitForSync: async () => undefined,
  sleep: async () => undefined,
  log: () => undefined,
  interrupted,
});

test("steps keep the other versions' proportions", () => {
  assert.deepEqual(stepWeights({ "1": 90, "2": 10, "3": 0 }, "3", 25), { "1": 68, "2": 7, "3": 25 });
  assert.deepEqual(parseSteps("5,25,50,100"), [5, 25, 50, 100]);
  assert.throws(() => parseSteps("5,25,50"), /end at 100/);
  assert.throws(() => parseSteps("50,25,100"), /increase/);
});

test("a healthy version goes through every step to 100%", async () => {
  const { api, edits } = fakeApi(base());
  const result = await rollout(options, deps(api, counters(0)));
  assert.equal(result.outcome, "completed");
  assert.deepEqual(
    edits.map((e) => e["2"]),
    [10, 50, 100],
  );
});

test("a failing version is rolled back to the original weights", async () => {
  const { api, edits } = fakeApi(base());
  const result = await rollout(options, deps(api, counters(0.5)));
  assert.equal(result.outcome, "rolled-back");
  assert.match((result as { reason: string }).reason, /error rate 50\.00%/);
  assert.deepEqual(edits.at(-1), { "1": 100, "2": 0 });
  assert.equal(edits.length, 2, "first step, then the rollback");
});

test("a slow version is rolled back on p99", async () => {
  const { api } = fakeApi(base());
  const result = await rollout(options, deps(api, counters(0, 900)));
  assert.equal(result.outcome, "rolled-back");
  assert.match((result as { reason: string }).reason, /p99 900\.0 ms > 200 ms/);
});

test("a step that gets too few calls to be judged rolls back rather than going on", async () => {
  const { api, edits } = fakeApi(base());
  const idle = async (): Promise<ClusterSample> => ({ total: 3, failures: 0, p99Ms: 10 });
  const result = await rollout(options, deps(api, idle));
  assert.equal(result.outcome, "rolled-back");
  assert.match((result as { reason: string }).reason, /0 calls on 2 in 3 s, fewer than --min-calls 10/);
  assert.deepEqual(edits, [
    { "1": 90, "2": 10 },
    { "1": 100, "2": 0 },
  ]);
});

test("interrupted, it stops at a consistent, stated weight", async () => {
  const { api, edits } = fakeApi(base());
  const result = await rollout(
    options,
    deps(api, counters(0), () => true),
  );
  assert.deepEqual(result, { outcome: "interrupted", weights: { "1": 90, "2": 10 } });
  assert.equal(edits.length, 1);
});

test("an unknown target version is refused before any edit", async () => {
  const { api, edits } = fakeApi(base());
  await assert.rejects(
    rollout({ ...options, to: "7" }, deps(api, counters(0))),
    /no version '7'.*add-version/,
  );
  assert.equal(edits.length, 0);
});
