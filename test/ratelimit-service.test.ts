/**
 * Envoy's global rate limit service (envoyproxy/ratelimit, issue #16) as real processes on a real
 * Redis, called over gRPC as Envoy's ratelimit filter calls it
 * (`envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`), with the config that
 * xds-server/src/ratelimit generates from inferencehub.yaml:
 * - a tenant limited to 3 calls per window: 3 OK, the 4th OVER_LIMIT with the time to the
 *   window's end; another tenant is unaffected; the (tenant, model) descriptor has no limit;
 * - two service processes on one Redis share the count: calls spread over both are held to 3;
 * - writeConfig() changes a limit in a running service, no restart;
 * - Redis killed: the service answers with an error status (recorded below), never OK;
 *   Redis restarted on its port: OK again, counting from zero.
 *
 * Skips, saying why, when redis-server or the service is missing (scripts/setup.sh installs both),
 * unless INFERENCEHUB_REQUIRE_RATELIMIT=1, which turns the skip into a failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Metadata, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import {
  RateLimitResponse_Code,
  RateLimitResponse_RateLimit_Unit,
  RateLimitServiceClient,
  type RateLimitResponse,
} from "../gen/envoy/envoy/service/ratelimit/v3/rls.js";
import {
  ratelimitUnavailableReason,
  startRateLimit,
  type RateLimitProcess,
} from "../scripts/lib/ratelimit-process.js";
import { redisUnavailableReason, startRedis, type RedisProcess } from "../scripts/lib/redis-process.js";
import { rateLimitServiceConfig } from "../xds-server/src/ratelimit/index.js";

const unavailable = redisUnavailableReason() ?? ratelimitUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_RATELIMIT === "1";

/** 0.05 calls/s with a burst of 3: the generator's window is one minute holding 3 calls. */
function configYaml(limits: Record<string, { callsPerSecond: number; burst: number }>): string {
  const tenants = Object.entries(limits).map(
    ([name, { callsPerSecond, burst }]) =>
      `    - { name: ${name}, models: ["*"], rateLimit: { callsPerSecond: ${callsPerSecond}, burst: ${burst} } }`,
  );
  const text = [
    "nodes: [{ name: node-1, address: '127.0.0.1:9001' }]",
    "models: [{ name: scale, versions: [{ version: '1', nodes: [node-1] }] }]",
    "auth:",
    "  extAuthz: { address: '127.0.0.1:19000' }",
    "  keysFile: keys.yaml",
    "  tenants:",
    ...tenants,
    "",
  ].join("\n");
  const parsed = parseConfig(text, "inferencehub.yaml");
  if (!parsed.ok) throw new Error(formatErrors(parsed.errors));
  return rateLimitServiceConfig(parsed.value);
}

const perMinute3 = { callsPerSecond: 0.05, burst: 3 };
const tenants = { acme: perMinute3, other: perMinute3, shared: perMinute3 };

type Answer = RateLimitResponse | ServiceError;

function call(client: RateLimitServiceClient, tenant: string, deadlineMs = 5_000): Promise<Answer> {
  return new Promise((resolve) =>
    client.shouldRateLimit(
      {
        domain: "inferencehub",
        // As Envoy's route actions will send them: (tenant), then (tenant, model).
        descriptors: [
          { entries: [{ key: "tenant", value: tenant }] },
          {
            entries: [
              { key: "tenant", value: tenant },
              { key: "model", value: "scale" },
            ],
          },
        ],
        hitsAddend: 0,
      },
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => resolve(err ?? res!),
    ),
  );
}

function isError(answer: Answer): answer is ServiceError {
  return answer instanceof Error;
}

function code(answer: Answer): string {
  return isError(answer)
    ? `gRPC ${status[answer.code]}: ${answer.details}`
    : RateLimitResponse_Code[answer.overallCode]!;
}

/**
 * The service counts in windows aligned to the clock's minutes: a sequence that must fall in one
 * window starts with at least `roomMs` of it left, waiting for the next minute when less is (at
 * most roomMs, about one run in six).
 */
async function windowWithRoom(roomMs = 10_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < roomMs) await new Promise((r) => setTimeout(r, left + 50));
}

describe("Envoy's rate limit service on Redis", { skip: required ? false : (unavailable ?? false) }, () => {
  let redis: RedisProcess;
  let rl1: RateLimitProcess;
  let rl2: RateLimitProcess;
  let client1: RateLimitServiceClient;
  let client2: RateLimitServiceClient;

  before(async () => {
    if (unavailable) assert.fail(`INFERENCEHUB_REQUIRE_RATELIMIT=1, but ${unavailable}`);
    redis = await startRedis();
    const config = configYaml(tenants);
    [rl1, rl2] = await Promise.all([
      startRateLimit({ name: "ratelimit-1", redisAddress: redis.address, config }),
      startRateLimit({ name: "ratelimit-2", redisAddress: redis.address, config }),
    ]);
    client1 = new RateLimitServiceClient(rl1.address, credentials.createInsecure());
    client2 = new RateLimitServiceClient(rl2.address, credentials.createInsecure());
  });

  after(async () => {
    client1?.close();
    client2?.close();
    await Promise.all([rl1?.stop(), rl2?.stop()]);
    await redis?.stop();
  });

  test("the generated config is what the service serves", async () => {
    const dump = await rl1.rlconfig();
    for (const tenant of Object.keys(tenants)) {
      assert.match(
        dump,
        new RegExp(`^inferencehub\\.tenant_${tenant}: unit=MINUTE requests_per_unit=3,`, "m"),
      );
    }
  });

  test("3 calls OK, the 4th OVER_LIMIT with the time to the window's end; another tenant unaffected", async () => {
    await windowWithRoom();
    const answers: RateLimitResponse[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await call(client1, "acme");
      assert.ok(!isError(answer), code(answer));
      answers.push(answer);
    }
    assert.deepEqual(
      answers.map((a) => RateLimitResponse_Code[a.overallCode]),
      ["OK", "OK", "OK", "OVER_LIMIT"],
    );
    assert.deepEqual(
      answers.map((a) => a.statuses[0]!.limitRemaining),
      [2, 1, 0, 0],
    );
    const over = answers[3]!.statuses[0]!;
    assert.equal(over.code, RateLimitResponse_Code.OVER_LIMIT);
    assert.deepEqual(over.currentLimit, {
      name: "",
      requestsPerUnit: 3,
      unit: RateLimitResponse_RateLimit_Unit.MINUTE,
    });
    const reset = over.durationUntilReset?.seconds ?? 0;
    assert.ok(reset > 0 && reset <= 60, `duration_until_reset ${reset} s, not within the minute`);
    // The (tenant, model) descriptor matches no limit: OK, with no current_limit.
    assert.equal(answers[3]!.statuses[1]!.code, RateLimitResponse_Code.OK);
    assert.equal(answers[3]!.statuses[1]!.currentLimit, undefined);

    const other = await call(client1, "other");
    assert.ok(!isError(other), code(other));
    assert.equal(other.overallCode, RateLimitResponse_Code.OK);
    assert.equal(other.statuses[0]!.limitRemaining, 2);
  });

  test("two service processes on one Redis share the count", async () => {
    await windowWithRoom();
    const byProcess = { "ratelimit-1": [] as string[], "ratelimit-2": [] as string[] };
    for (let i = 0; i < 8; i++) {
      const [name, client] =
        i % 2 === 0 ? (["ratelimit-1", client1] as const) : (["ratelimit-2", client2] as const);
      const answer = await call(client, "shared");
      assert.ok(!isError(answer), code(answer));
      byProcess[name].push(code(answer));
    }
    const ok = [...byProcess["ratelimit-1"], ...byProcess["ratelimit-2"]].filter((c) => c === "OK").length;
    assert.equal(ok, 3, `OK answers: ${JSON.stringify(byProcess)}`);
    // Alternating, calls 1 and 3 went to the first process and call 2 to the second.
    assert.deepEqual(byProcess["ratelimit-1"], ["OK", "OK", "OVER_LIMIT", "OVER_LIMIT"]);
    assert.deepEqual(byProcess["ratelimit-2"], ["OK", "OVER_LIMIT", "OVER_LIMIT", "OVER_LIMIT"]);
  });

  test("writeConfig() changes a limit in the running service", async () => {
    await windowWithRoom();
    // 0.1 calls/s with a burst of 6: 6 per minute.
    await rl1.writeConfig(configYaml({ ...tenants, acme: { callsPerSecond: 0.1, burst: 6 } }));
    const answer = await call(client1, "acme");
    assert.ok(!isError(answer), code(answer));
    assert.equal(answer.statuses[0]!.currentLimit?.requestsPerUnit, 6);
    // acme made 4 calls already (the OVER_LIMIT one counts too) unless a new minute began since.
    assert.equal(answer.overallCode, RateLimitResponse_Code.OK);
    await assert.rejects(
      rl1.writeConfig("domain: inferencehub\ndescriptors:\n  - { key: tenant, bogus: 1 }\n"),
      /refused the config: .*unknown key 'bogus'/,
    );
    assert.match(await rl1.rlconfig(), /tenant_acme: unit=MINUTE requests_per_unit=6,/);
  });

  test("Redis killed: an error status, never OK; restarted on its port: OK again from zero", async (t) => {
    await redis.kill();
    // The pool holds 10 connections (REDIS_POOL_SIZE): calls fail on them, then wait for a
    // connection until their deadline. Each call here has 1 s.
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await call(client1, "other", 1_000));
    const codes = answers.map(code);
    t.diagnostic(`with Redis down: ${codes.join(" | ")}`);
    for (const answer of answers) {
      assert.ok(isError(answer), `an answer with Redis down: ${code(answer)}`);
      assert.ok(
        [status.UNKNOWN, status.DEADLINE_EXCEEDED, status.CANCELLED].includes(answer.code),
        code(answer),
      );
    }
    // Seen here: 10 UNKNOWN "response returned from Conn: EOF", one per pooled connection, then
    // DEADLINE_EXCEEDED: the service waits for a connection as long as the caller lets it.
    assert.ok(answers.filter((a) => isError(a) && a.code === status.UNKNOWN).length <= 10, codes.join(" | "));
    assert.ok(
      codes.some((c) => c.startsWith("gRPC DEADLINE_EXCEEDED")),
      "no call waited out its deadline with Redis down",
    );

    await redis.restart();
    const deadline = Date.now() + 15_000;
    let answer: Answer;
    for (;;) {
      answer = await call(client1, "other", 1_000);
      if (!isError(answer) || Date.now() > deadline) break;
    }
    assert.ok(!isError(answer), `no OK within 15 s of Redis's restart: ${code(answer)}`);
    // Calls that waited out their deadline still ran once Redis was back, and counted: seen here
    // as "other" having fewer than 2 calls left after its first OK.
    t.diagnostic(`"other" after the restart: ${code(answer)}, ${answer.statuses[0]!.limitRemaining} left`);
    // Redis kept nothing: "shared", over its limit before, counts from zero.
    const shared = await call(client1, "shared");
    assert.ok(!isError(shared), code(shared));
    assert.equal(shared.overallCode, RateLimitResponse_Code.OK);
    assert.equal(shared.statuses[0]!.limitRemaining, 2);
  });
});

if (unavailable && !required) console.log(`# skipping rate limit service tests: ${unavailable}`);
