import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { interpretRound, type RoundAnswers } from "./round.js";
import type { ProbeResult, ServingStatus } from "./types.js";

const ok = <T>(value: T): ProbeResult<T> => ({ ok: true, value });
const err = (code: number): ProbeResult<never> => ({ ok: false, code, message: "x" });

function answers(
  healthCheck: ProbeResult<ServingStatus>,
  serverReady: ProbeResult<boolean>,
  models: Record<string, ProbeResult<boolean>> = { "a/1": ok(true), "b/1": ok(false) },
): RoundAnswers {
  return { healthCheck, serverReady, models: new Map(Object.entries(models)) };
}

const cases: {
  name: string;
  in: RoundAnswers;
  reachable: boolean;
  serving: boolean | null;
  verdicts: string;
}[] = [
  {
    name: "serving: each version by its ModelReady",
    in: answers(ok("SERVING"), ok(true)),
    reachable: true,
    serving: true,
    verdicts: "a/1=success b/1=failure",
  },
  {
    name: "health NOT_SERVING drains every version",
    in: answers(ok("NOT_SERVING"), ok(true)),
    reachable: true,
    serving: false,
    verdicts: "a/1=draining b/1=draining",
  },
  {
    name: "ServerReady false drains every version",
    in: answers(ok("SERVING"), ok(false)),
    reachable: true,
    serving: false,
    verdicts: "a/1=draining b/1=draining",
  },
  {
    name: "draining wins over a timed-out probe",
    in: answers(ok("NOT_SERVING"), err(status.DEADLINE_EXCEEDED)),
    reachable: true,
    serving: false,
    verdicts: "a/1=draining b/1=draining",
  },
  {
    name: "unreachable: every version fails",
    in: answers(err(status.UNAVAILABLE), err(status.UNAVAILABLE), { "a/1": err(status.UNAVAILABLE) }),
    reachable: false,
    serving: null,
    verdicts: "a/1=failure",
  },
  {
    name: "timed out: every version fails",
    in: answers(err(status.DEADLINE_EXCEEDED), err(status.DEADLINE_EXCEEDED), {
      "a/1": err(status.DEADLINE_EXCEEDED),
    }),
    reachable: false,
    serving: null,
    verdicts: "a/1=failure",
  },
  {
    name: "one node probe failing fails every version, even if ModelReady answered",
    in: answers(ok("SERVING"), err(status.DEADLINE_EXCEEDED), { "a/1": ok(true) }),
    reachable: true,
    serving: null,
    verdicts: "a/1=failure",
  },
  {
    name: "health UNKNOWN status fails every version",
    in: answers(ok("UNKNOWN"), ok(true), { "a/1": ok(true) }),
    reachable: true,
    serving: null,
    verdicts: "a/1=failure",
  },
  {
    name: "no grpc.health.v1 (UNIMPLEMENTED): ServerReady and ModelReady decide",
    in: answers(err(status.UNIMPLEMENTED), ok(true)),
    reachable: true,
    serving: true,
    verdicts: "a/1=success b/1=failure",
  },
  {
    name: "ModelReady NOT_FOUND fails that version only",
    in: answers(ok("SERVING"), ok(true), { "a/1": ok(true), "b/1": err(status.NOT_FOUND) }),
    reachable: true,
    serving: true,
    verdicts: "a/1=success b/1=failure",
  },
];

for (const c of cases) {
  test(c.name, () => {
    const v = interpretRound(c.in);
    assert.equal(v.reachable, c.reachable, "reachable");
    assert.equal(v.serving, c.serving, "serving");
    assert.equal([...v.models].map(([k, m]) => `${k}=${m.verdict}`).join(" "), c.verdicts);
    const failed = [...v.models.values()].filter((m) => m.verdict !== "success");
    assert.ok(
      failed.every((m) => m.error),
      "every failure says why",
    );
  });
}

test("errors name the probe and the gRPC status", () => {
  const v = interpretRound(answers(err(status.UNAVAILABLE), err(status.UNAVAILABLE), { "a/1": ok(true) }));
  assert.equal(v.nodeError, "health: UNAVAILABLE: x, ServerReady: UNAVAILABLE: x");
  const m = interpretRound(answers(ok("SERVING"), ok(true)));
  assert.equal(m.nodeError, null);
  assert.equal(m.models.get("b/1")?.error, "ModelReady: false");
});
