import assert from "node:assert/strict";
import { test } from "node:test";
import { initialEntryState, nextEntryState, type EntryState, type EntryVerdict } from "./entry-state.js";

const run = (
  verdicts: EntryVerdict[],
  healthyThreshold: number,
  unhealthyThreshold: number,
): EntryState[] => {
  const states: EntryState[] = [];
  let s = initialEntryState;
  for (const v of verdicts) {
    s = nextEntryState(s, v, { healthyThreshold, unhealthyThreshold });
    states.push(s);
  }
  return states;
};

const cases: { name: string; verdicts: EntryVerdict[]; h: number; u: number; statuses: string }[] = [
  { name: "one success is enough with healthyThreshold 1", verdicts: ["success"], h: 1, u: 2, statuses: "H" },
  {
    name: "UNKNOWN holds until healthyThreshold successes",
    verdicts: ["success", "success", "success"],
    h: 3,
    u: 2,
    statuses: "??H",
  },
  {
    name: "UNKNOWN turns UNHEALTHY after unhealthyThreshold failures",
    verdicts: ["failure", "failure"],
    h: 1,
    u: 2,
    statuses: "?U",
  },
  {
    name: "HEALTHY survives fewer failures than the threshold",
    verdicts: ["success", "failure", "failure", "success", "failure", "failure"],
    h: 1,
    u: 3,
    statuses: "HHHHHH",
  },
  {
    name: "HEALTHY turns UNHEALTHY on the threshold-th failure",
    verdicts: ["success", "failure", "failure", "failure"],
    h: 1,
    u: 3,
    statuses: "HHHU",
  },
  {
    name: "UNHEALTHY needs healthyThreshold consecutive successes",
    verdicts: ["failure", "success", "failure", "success", "success"],
    h: 2,
    u: 1,
    statuses: "UUUUH",
  },
  {
    name: "draining is immediate, whatever the thresholds",
    verdicts: ["success", "draining"],
    h: 1,
    u: 5,
    statuses: "HD",
  },
  { name: "draining from UNKNOWN", verdicts: ["draining"], h: 3, u: 3, statuses: "D" },
  {
    name: "DRAINING stays while the node keeps draining",
    verdicts: ["draining", "draining", "draining"],
    h: 1,
    u: 1,
    statuses: "DDD",
  },
  {
    name: "DRAINING turns UNHEALTHY once the node is gone for the threshold",
    verdicts: ["draining", "failure", "failure"],
    h: 1,
    u: 2,
    statuses: "DDU",
  },
  {
    name: "DRAINING turns HEALTHY after healthyThreshold successes",
    verdicts: ["draining", "success", "success"],
    h: 2,
    u: 2,
    statuses: "DDH",
  },
];

const letter: Record<string, string> = { HEALTHY: "H", UNHEALTHY: "U", DRAINING: "D", UNKNOWN: "?" };

for (const c of cases) {
  test(c.name, () => {
    assert.equal(
      run(c.verdicts, c.h, c.u)
        .map((s) => letter[s.status])
        .join(""),
      c.statuses,
    );
  });
}

test("counters: a success resets failures, a failure resets successes, draining resets both", () => {
  const t = { healthyThreshold: 5, unhealthyThreshold: 5 };
  let s = nextEntryState(initialEntryState, "failure", t);
  s = nextEntryState(s, "failure", t);
  assert.deepEqual(s, { status: "UNKNOWN", consecutiveFailures: 2, consecutiveSuccesses: 0 });
  s = nextEntryState(s, "success", t);
  assert.deepEqual(s, { status: "UNKNOWN", consecutiveFailures: 0, consecutiveSuccesses: 1 });
  s = nextEntryState(s, "draining", t);
  assert.deepEqual(s, { status: "DRAINING", consecutiveFailures: 0, consecutiveSuccesses: 0 });
});
