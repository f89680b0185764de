import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Rollout } from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import {
  decide,
  fitWeights,
  stepWeights,
  stepsProblem,
  type DecideInput,
  type GateSample,
} from "./decide.js";

const rollout = (over: Partial<Rollout> = {}): Rollout => ({
  model: "scale",
  toVersion: "2",
  steps: [5, 25, 100],
  intervalMs: 1000,
  maxErrorRate: 0.05,
  maxP99Ms: 0,
  minCalls: 10,
  removeOld: false,
  readyTimeoutMs: 5000,
  maxHoldMs: 0,
  state: "running",
  step: 1,
  originalWeights: { "1": 100, "2": 0 },
  weights: { "1": 95, "2": 5 },
  reason: "",
  startedAt: "",
  stepStartedAt: "",
  endedAt: "",
  startedBy: "admin",
  events: [],
  ...over,
});

const good: GateSample = { calls: 50, failures: 0, p99Ms: 3, missing: [] };

const input = (over: Partial<DecideInput> = {}): DecideInput => ({
  rollout: rollout(),
  now: 10_000,
  startedAt: 0,
  stepStartedAt: 8_000,
  holdingSince: undefined,
  ready: { ready: true, detail: "1/1 node(s) HEALTHY" },
  health: { healthy: 1, unknown: 0, total: 1 },
  sample: good,
  synced: true,
  abortRequested: false,
  ...over,
});

describe("decide", () => {
  test("promotes to the next step once the interval has passed with every gate met", () => {
    assert.deepEqual(decide(input()).action, "step");
    assert.equal((decide(input()) as { step: number }).step, 1);
  });

  test("the last step passing completes", () => {
    assert.equal(decide(input({ rollout: rollout({ step: 3 }) })).action, "complete");
  });

  test("before the interval is over it only continues", () => {
    assert.equal(decide(input({ stepStartedAt: 9_500 })).action, "continue");
  });

  test("waits for the version to be ready, then applies the first step", () => {
    const waiting = rollout({ state: "waiting-ready", step: 0 });
    const notReady = { ready: false, detail: "none of its 1 node(s) is HEALTHY yet" };
    assert.equal(decide(input({ rollout: waiting, ready: notReady, now: 1_000 })).action, "wait");
    const ready = decide(input({ rollout: waiting }));
    assert.deepEqual([ready.action, (ready as { step: number }).step], ["step", 0]);
  });

  test("a version not ready by the timeout fails without touching weights", () => {
    const waiting = rollout({ state: "waiting-ready", step: 0 });
    const d = decide(input({ rollout: waiting, ready: { ready: false, detail: "x" }, now: 5_000 }));
    assert.equal(d.action, "fail");
    assert.match(d.reason, /not ready after 5\.0 s/);
  });

  describe("holds, never promotes, when a gate's metric is missing", () => {
    const holds = (over: Partial<DecideInput>, why: RegExp) => {
      const d = decide(input(over));
      assert.equal(d.action, "hold", JSON.stringify(d));
      assert.match(d.reason, why);
    };
    test("an Envoy without an admin port", () =>
      holds(
        { sample: { ...good, missing: ["Envoy e2 declares no admin port"] } },
        /e2 declares no admin port/,
      ));
    test("an admin read that failed", () =>
      holds({ sample: { ...good, missing: ["Envoy e1: reading failed"] } }, /reading failed/));
    test("no Envoy connected", () =>
      holds(
        { sample: { calls: 0, failures: 0, p99Ms: undefined, missing: ["no Envoy is connected"] } },
        /no Envoy/,
      ));
    test("a p99 gate with no p99 yet", () =>
      holds({ rollout: rollout({ maxP99Ms: 100 }), sample: { ...good, p99Ms: undefined } }, /no p99/));
    test("fewer calls than min_calls", () =>
      holds({ sample: { ...good, calls: 3 } }, /3 call\(s\) on 2 this step, fewer than min_calls 10/));
    test("health not probed yet", () => holds({ health: { healthy: 0, unknown: 1, total: 1 } }, /health/));
    test("Envoys not in sync with the step", () => holds({ synced: false }, /ACKed/));
    test("p99 over the gate with too few calls to judge: holds, no rollback", () =>
      holds({ rollout: rollout({ maxP99Ms: 1 }), sample: { ...good, calls: 3, p99Ms: 500 } }, /fewer than/));
  });

  test("a hold longer than max hold rolls back", () => {
    const d = decide(input({ sample: { ...good, calls: 0 }, holdingSince: 0, now: 10_000 }));
    assert.equal(d.action, "rollback");
    assert.match(d.reason, /held longer than 10 s/);
    assert.equal(
      decide(
        input({ rollout: rollout({ maxHoldMs: 60_000 }), sample: { ...good, calls: 0 }, holdingSince: 0 }),
      ).action,
      "hold",
    );
  });

  describe("rolls back", () => {
    test("on the error rate, before the interval is over", () => {
      const d = decide(input({ stepStartedAt: 9_900, sample: { ...good, failures: 5 } }));
      assert.equal(d.action, "rollback");
      assert.match(d.reason, /error rate of 2 10\.00% \(5\/50 calls\) > 5\.00%/);
    });
    test("on the p99", () => {
      const d = decide(input({ rollout: rollout({ maxP99Ms: 2 }), sample: { ...good, p99Ms: 7 } }));
      assert.equal(d.action, "rollback");
      assert.match(d.reason, /p99 of 2 7 ms > 2 ms/);
    });
    test("on evidence from some Envoys while others are missing", () => {
      const d = decide(input({ sample: { ...good, failures: 40, missing: ["Envoy e2: reading failed"] } }));
      assert.equal(d.action, "rollback");
    });
    test("when the new version has no healthy node", () => {
      const d = decide(input({ stepStartedAt: 9_900, health: { healthy: 0, unknown: 0, total: 1 } }));
      assert.equal(d.action, "rollback");
      assert.match(d.reason, /no healthy node/);
    });
  });

  test("abort wins over everything", () => {
    assert.equal(decide(input({ abortRequested: true, sample: { ...good, failures: 50 } })).action, "abort");
    assert.equal(
      decide(input({ abortRequested: true, rollout: rollout({ state: "waiting-ready", step: 0 }) })).action,
      "abort",
    );
  });
});

test("stepWeights keeps the others' proportions; fitWeights follows the model's versions", () => {
  assert.deepEqual(stepWeights({ "1": 75, "2": 25, "3": 0 }, "3", 20), { "1": 60, "2": 20, "3": 20 });
  assert.deepEqual(fitWeights({ "1": 50, "2": 50 }, ["2", "3"]), { "2": 100, "3": 0 });
});

test("stepsProblem", () => {
  assert.equal(stepsProblem([5, 25, 100]), undefined);
  assert.match(stepsProblem([25, 5, 100]) ?? "", /increase/);
  assert.match(stepsProblem([5, 50]) ?? "", /end at 100/);
  assert.match(stepsProblem([0, 100]) ?? "", /1 to 100/);
});
