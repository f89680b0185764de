import assert from "node:assert/strict";
import { test } from "node:test";
import type { AdminApiRollout } from "@inferencehub/contracts/admin-api";
import { Code, GatewayError } from "@inferencehub/contracts/errors";
import type { AdminApi } from "./api.js";
import { exitCodeOf, parseSteps, rolloutRow, watchRollout } from "./rollout.js";

const rollout = (over: Partial<AdminApiRollout>): AdminApiRollout => ({
  model: "scale",
  toVersion: "2",
  steps: [10, 100],
  intervalMs: 1000,
  state: "running",
  startedAt: "t0",
  events: [],
  ...over,
});

/** An admin API answering GetRollout from a script of answers (an Error is thrown). */
function scripted(answers: (AdminApiRollout | Error)[]): AdminApi {
  return {
    get: <T>() => {
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      return next instanceof Error ? Promise.reject(next) : Promise.resolve({ rollout: next } as T);
    },
    send: () => Promise.reject(new Error("not used")),
  };
}

const ev = (kind: string, message: string) => ({ at: "t", kind, message });

test("watch prints each event once, keeps watching through an unreachable control plane, ends with the rollout", async () => {
  const lines: string[] = [];
  const step1 = [ev("started", "started"), ev("step", "step 1/2")];
  const r = await watchRollout("scale", {
    api: scripted([
      rollout({ events: step1 }),
      new GatewayError(Code.UNAVAILABLE, "cannot reach the control plane"),
      new GatewayError(Code.UNAVAILABLE, "cannot reach the control plane"),
      rollout({ events: [...step1, ev("resume", "resumed")] }),
      rollout({
        state: "rolled-back",
        events: [...step1, ev("resume", "resumed"), ev("rollback", "rolled-back: no healthy node")],
      }),
    ]),
    log: (l) => lines.push(l),
    sleep: () => Promise.resolve(),
    interrupted: () => false,
  });
  assert.deepEqual(lines, [
    "t started: started",
    "t step: step 1/2",
    "(cannot reach the control plane; still watching)",
    "t resume: resumed",
    "t rollback: rolled-back: no healthy node",
  ]);
  assert.equal(r.state, "rolled-back");
  assert.equal(exitCodeOf(r), 2);
});

test("Ctrl-C stops watching, not the rollout: the last state read is live", async () => {
  const r = await watchRollout("scale", {
    api: scripted([rollout({})]),
    log: () => undefined,
    sleep: () => Promise.resolve(),
    interrupted: () => true,
  });
  assert.equal(r.state, "running");
});

test("another error than UNAVAILABLE ends the watch", async () => {
  await assert.rejects(
    watchRollout("scale", {
      api: scripted([new GatewayError(Code.NOT_FOUND, "model 'scale' has had no rollout here")]),
      log: () => undefined,
      sleep: () => Promise.resolve(),
      interrupted: () => false,
    }),
    /no rollout here/,
  );
});

test("parseSteps and the status row", () => {
  assert.deepEqual(parseSteps("5, 25,50,100"), [5, 25, 50, 100]);
  assert.throws(() => parseSteps("50,25,100"), /must increase/);
  assert.throws(() => parseSteps("5,50"), /end at 100/);
  assert.deepEqual(rolloutRow(rollout({ step: 1, weights: { "1": 90, "2": 10 }, reason: "x" })), [
    "scale",
    "2",
    "running",
    "1/2 (10%)",
    "1=90 2=10",
    "x",
  ]);
  assert.equal(rolloutRow(rollout({ state: "waiting-ready" }))[3], "0/2");
});
