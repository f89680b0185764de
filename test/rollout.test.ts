/**
 * Rollouts driven by the control plane, with a real Envoy under continuous load and real nodes:
 * hubctl starts one and exits; the control plane steps it on Envoy's metrics, holds when a gate
 * has no metric, rolls back by itself when the new version's node dies, and resumes after a
 * restart. Every wait is on an event (the admin API's rollout state, polled with a deadline).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { AdminApiRollout } from "@inferencehub/contracts/admin-api";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { AdminServiceClient } from "../gen/inference/inferencehub/admin/v1/admin.js";
import { PROMETHEUS_METRICS } from "../xds-server/src/rollout/index.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { grpcCall } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { startLoad, type CallRecord, type RunningLoad } from "./lib/load.js";

const run = promisify(execFile);
const TOKEN = "rollout-admin-token";

/** Version 1 on node-a, version 2 on node-b alone (so that killing node-b leaves 2 with no node). */
function config(nodes: NodeEntry[], port: number) {
  return {
    listener: { address: "127.0.0.1", port },
    nodes,
    defaults: {
      health: {
        interval: "250ms",
        timeout: "250ms",
        healthyThreshold: 1,
        unhealthyThreshold: 2,
        jitter: 0.1,
      },
    },
    models: [
      {
        name: "scale",
        versions: [
          { version: "1", weight: 100, nodes: ["node-a"] },
          { version: "2", weight: 0, nodes: ["node-b"] },
        ],
      },
    ],
  };
}

describe("rollouts driven by the control plane", () => {
  let gw: GatewayFixture;
  let load: RunningLoad;

  before(async () => {
    gw = await startGateway({
      nodes: [{ name: "node-a" }, { name: "node-b" }],
      config,
      envoyAdminMetadata: true,
      xdsEnv: { INFERENCEHUB_ADMIN_TOKEN: TOKEN },
    });
    load = startLoad(gw.client(), {
      concurrency: 4,
      request: fp32Request("scale", SCALE_SAMPLE_INPUT),
      metadata: { "inferencehub-model": "scale" },
    });
  });
  after(async () => {
    await load?.stop();
    await gw?.stop();
  });

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${gw.xds.adminPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw Object.assign(new Error(`${res.status}: ${json.error}`), { status: res.status });
    return json;
  };
  const rollout = async () =>
    (await admin<{ rollout: AdminApiRollout }>("GET", "/v1/rollouts/scale")).rollout;
  const waitRollout = async (check: (r: AdminApiRollout) => boolean, what: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: AdminApiRollout | undefined;
    for (;;) {
      last = await rollout();
      if (check(last)) return last;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; last rollout: ${JSON.stringify(last, null, 2)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const weights = async () =>
    Object.fromEntries(
      (
        await admin<{ model: { versions: { version: string; weight?: number }[] } }>(
          "GET",
          "/v1/models/scale",
        )
      ).model.versions.map((v) => [v.version, v.weight ?? 0]),
    );
  const hubctl = (...args: string[]) =>
    run(`${repoRoot}/hubctl/bin/hubctl`, args, {
      env: {
        ...process.env,
        INFERENCEHUB_ADMIN_TOKEN: TOKEN,
        INFERENCEHUB_SERVER: `http://127.0.0.1:${gw.xds.adminPort}`,
      },
    });
  /** Back to the starting config, every Envoy in sync, and the nodes healthy. */
  const reset = async () => {
    // A test that failed may have left its rollout live.
    await admin("POST", "/v1/rollouts/scale/abort").catch(() => undefined);
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort));
    await gw.xds.waitFor(
      (s) => s.health?.["node-b"]?.["scale/2"] === "HEALTHY" && s.health["node-a"]?.["scale/1"] === "HEALTHY",
      "both versions healthy",
    );
  };
  const failuresSince = (t: number): CallRecord[] => load.calls.filter((c) => c.startedAt >= t && !c.ok);

  test("requests are checked by admin.proto's rules over HTTP; gRPC starts, reads, refuses and aborts", async () => {
    await reset();
    const refused = (body: object) =>
      admin("POST", "/v1/rollouts", {
        model: "scale",
        to_version: "2",
        steps: [50, 100],
        interval_ms: 1000,
        ...body,
      }).then(
        () => assert.fail("not refused"),
        (err: Error & { status: number }) => `${err.status} ${err.message}`,
      );
    assert.match(await refused({ steps: [50, 25, 100] }), /^400 .*steps must increase/);
    assert.match(await refused({ steps: [50] }), /^400 .*must end at 100/);
    assert.match(await refused({ interval_ms: 10 }), /^400 .*interval_ms must be >= 100/);
    assert.match(await refused({ max_error_rate: 2 }), /^400 .*max_error_rate must be <= 1/);
    assert.match(await refused({ to_version: "7" }), /^412 .*has no version '7'/);
    assert.match(await refused({ model: "nope" }), /^404 /);

    const client = new AdminServiceClient(`127.0.0.1:${gw.xds.adsPort}`, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    const start = {
      model: "scale",
      toVersion: "2",
      steps: [10, 100],
      intervalMs: 60_000,
      maxErrorRate: 0.05,
      maxP99Ms: 0,
      minCalls: 1,
      removeOld: false,
      readyTimeoutMs: 0,
      maxHoldMs: 0,
    };
    try {
      const started = await grpcCall(client, "startRollout", start, md);
      assert.deepEqual([started.rollout?.state, started.rollout?.step], ["running", 1]);
      await assert.rejects(
        grpcCall(client, "startRollout", start, md),
        (err: ServiceError) =>
          err.code === status.FAILED_PRECONDITION && /already has a rollout running/.test(err.details),
      );
      const listed = await grpcCall(client, "listRollouts", {}, md);
      assert.deepEqual(
        listed.rollouts.map((r) => [r.model, r.state]),
        [["scale", "running"]],
      );
      const aborted = await grpcCall(client, "abortRollout", { model: "scale" }, md);
      assert.equal(aborted.rollout?.state, "aborted");
      assert.equal((await grpcCall(client, "getRollout", { model: "scale" }, md)).rollout?.state, "aborted");
      assert.deepEqual(await weights(), { "1": 100, "2": 0 });
      // /status shows it, and the metrics say where it is.
      const st = await gw.xds.status();
      assert.deepEqual(
        st.rollouts?.map((r) => [r.model, r.state]),
        [["scale", "aborted"]],
      );
      assert.match(await gw.xds.metrics(), /inferencehub_rollout_state\{model="scale",state="aborted"\} 1/);
    } finally {
      client.close();
    }
  });

  test("hubctl starts a rollout and exits; the control plane takes it to 100% and removes the old version", async () => {
    await reset();
    const t0 = Date.now();
    const { stdout } = await hubctl(
      "rollout",
      "start",
      "scale",
      "--to",
      "2",
      "--steps",
      "20,50,100",
      "--interval",
      "1s",
      "--min-calls",
      "5",
      "--max-error-rate",
      "0",
      "--max-p99-ms",
      "5000",
      "--remove-old",
    );
    assert.match(stdout, /the control plane drives it/);
    const done = await waitRollout(
      (r) => r.state !== "running" && r.state !== "waiting-ready" && r.state !== "holding",
      "the rollout to end",
    );
    assert.equal(done.state, "completed", JSON.stringify(done.events, null, 2));
    assert.deepEqual(
      done.events?.filter((e) => e.kind === "step").map((e) => /at (\d+)%/.exec(e.message)?.[1]),
      ["20", "50", "100"],
    );
    assert.ok(done.events?.some((e) => e.kind === "remove" && /version 1/.test(e.message)));
    assert.deepEqual(await weights(), { "2": 100 });
    await gw.xds.waitForSync("envoy-1");
    await load.more(50);
    assert.deepEqual(failuresSince(t0), [], "no call failed during the rollout");
    const last = load.calls.slice(-20);
    assert.ok(last.every((c) => c.ok && c.version === "2"));
    // The state file beside the config says the same.
    const file = JSON.parse(await readFile(join(gw.dir, "inferencehub.rollouts.json"), "utf8")) as {
      rollouts: Record<string, AdminApiRollout>;
    };
    assert.equal(file.rollouts.scale?.state, "completed");
    // The names the Prometheus source queries are those this Envoy exports (failures: none yet).
    const exported = await (await fetch(`${gw.envoys[0]!.adminUrl}/stats/prometheus`)).text();
    for (const name of [PROMETHEUS_METRICS.total, PROMETHEUS_METRICS.latencyBucket])
      assert.match(exported, new RegExp(`^${name}\\{[^}]*envoy_cluster_name="scale~2"`, "m"), name);
    // hubctl rollout status reads it back.
    const status = await hubctl("rollout", "status", "scale");
    assert.match(status.stdout, /completed/);
  });

  test("a gate without its metric holds: an Envoy without an admin port, then abort puts the weights back", async () => {
    await reset();
    const bare = await gw.startEnvoy({ id: "envoy-bare", adminMetadata: false });
    try {
      await admin("POST", "/v1/rollouts", {
        model: "scale",
        to_version: "2",
        steps: [10, 100],
        interval_ms: 500,
        max_error_rate: 0.05,
        max_p99_ms: 1000,
        min_calls: 1,
        max_hold_ms: 600_000,
      });
      const held = await waitRollout((r) => r.state === "holding", "the rollout to hold");
      assert.match(held.reason ?? "", /Envoy envoy-bare declares no admin port/);
      assert.equal(held.step, 1);
      assert.deepEqual(await weights(), { "1": 90, "2": 10 });
      // A second rollout of the model is refused, naming the one under way.
      await assert.rejects(
        admin("POST", "/v1/rollouts", { model: "scale", to_version: "2", steps: [100], interval_ms: 500 }),
        (err: Error & { status: number }) =>
          err.status === 412 && /already has a rollout holding: to version 2/.test(err.message),
      );
      // Still holding, at the first step, after three intervals.
      const still = await waitRollout(
        (r) => r.state !== "holding" || Date.now() - Date.parse(r.stepStartedAt ?? "") > 1500,
        "1.5 s of the step",
      );
      assert.equal(still.state, "holding");
      assert.deepEqual(await weights(), { "1": 90, "2": 10 });

      const { stdout } = await hubctl("--json", "rollout", "abort", "scale");
      assert.equal((JSON.parse(stdout) as AdminApiRollout).state, "aborted");
      assert.deepEqual(await weights(), { "1": 100, "2": 0 });
    } finally {
      await bare.stop();
      gw.envoys.splice(gw.envoys.indexOf(bare), 1);
    }
  });

  test("the control plane restarted mid-rollout resumes it from its step and completes it", async () => {
    await reset();
    await admin("POST", "/v1/rollouts", {
      model: "scale",
      to_version: "2",
      steps: [20, 50, 100],
      interval_ms: 1500,
      max_error_rate: 0.05,
      min_calls: 5,
    });
    // hubctl rollout watch follows it through the restart (same admin port) to its end.
    const watching = hubctl("rollout", "watch", "scale");
    await waitRollout((r) => r.step === 2, "the second step");
    await gw.restartXds();
    const resumed = await waitRollout(
      (r) => r.events?.some((e) => e.kind === "resume") ?? false,
      "the resume",
    );
    assert.ok((resumed.step ?? 0) >= 2, "resumed at the step recorded, not from the start");
    const done = await waitRollout((r) => r.state === "completed" || r.state === "rolled-back", "the end");
    assert.equal(done.state, "completed", JSON.stringify(done.events, null, 2));
    assert.deepEqual(await weights(), { "1": 0, "2": 100 });
    const { stdout } = await watching; // exit status 0: completed
    assert.match(stdout, /step: step 2\/3: 2 at 50%/);
    assert.match(stdout, /resume: resumed by this control plane at step 2\/3/);
    assert.match(stdout, /complete: completed: step 3\/3 passed/);
  });

  test("the new version's node killed mid-step, no CLI connected: the control plane rolls back", async () => {
    await reset();
    await admin("POST", "/v1/rollouts", {
      model: "scale",
      to_version: "2",
      steps: [50, 100],
      interval_ms: 60_000,
      max_error_rate: 0.5,
      min_calls: 1_000_000,
    });
    await waitRollout((r) => r.state === "running" && r.step === 1, "the first step");
    await gw.xds.waitForSync("envoy-1");
    await load.more(20);
    const killedAt = Date.now();
    await gw.nodes.get("node-b")!.stop("SIGKILL");
    const back = await waitRollout((r) => r.state === "rolled-back", "the rollback");
    const rolledBackAt = Date.now();
    assert.match(back.reason ?? "", /no healthy node/);
    assert.deepEqual(await weights(), { "1": 100, "2": 0 });
    assert.deepEqual(back.weights, { "1": 100, "2": 0 });
    await gw.xds.waitForSync("envoy-1");
    const synced = Date.now();
    await load.more(100);
    const lost = failuresSince(killedAt);
    console.log(
      `node-b killed: ${lost.length} call(s) failed between the kill and the rollback (${rolledBackAt - killedAt} ms)`,
    );
    assert.deepEqual(failuresSince(synced), [], "no call fails once the rollback is served");
    assert.ok(load.calls.filter((c) => c.startedAt >= synced).every((c) => c.version === "1"));
  });
});
