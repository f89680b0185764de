/**
 * The prober against real reference nodes (separate processes, real grpc-js channels): kill -9,
 * model unload, graceful shutdown with a drain delay, SIGSTOP. Every wait is on the prober's own
 * emissions, with a deadline derived from the probe settings.
 */
import assert from "node:assert/strict";
import { after, describe, test, type TestContext } from "node:test";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { Registry } from "prom-client";
import { GRPCInferenceServiceClient } from "../../../gen/inference/inference/grpc_service.js";
import { startNode } from "../../../scripts/lib/node-process.js";
import type { HealthStatus, HealthView } from "../ir/index.js";
import { createHealthProber, type HealthProber } from "./prober.js";
import { testConfig } from "./testing/index.js";

const intervalMs = 250;
const timeoutMs = 250;
const jitter = 0.2;
const unhealthyThreshold = 2;
const healthyThreshold = 1;
const windowMs = 100;
/** Scheduling noise on a busy 2-core machine: three processes and the test share it. */
const slackMs = 750;
const health = {
  interval: `${intervalMs}ms`,
  timeout: `${timeoutMs}ms`,
  jitter,
  unhealthyThreshold,
  healthyThreshold,
};

/** Repository calls on a node need the operator token (issue #10 finding 1). */
const repositoryToken = "prober-repository-token";

const versions: [string, string][] = [
  ["scale", "1"],
  ["scale", "2"],
  ["mlp", "1"],
];

const running: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const r of running.reverse()) await r.stop();
});

async function nodeWithProber(name: string, args: string[] = [], port?: number) {
  const node = await startNode({
    name,
    models: ["scale", "mlp"],
    args,
    repositoryToken,
    ...(port ? { port } : {}),
  });
  running.push({
    stop: async () => {
      node.process.kill("SIGCONT");
      await node.stop("SIGKILL");
    },
  });
  const prober = createHealthProber({
    config: testConfig({
      nodes: { [name]: node.address },
      models: { scale: { "1": [name], "2": [name] }, mlp: { "1": [name] } },
      health,
    }),
    log: pino({ level: process.env.LOG_LEVEL ?? "silent" }),
    registry: new Registry(),
    coalesceWindowMs: windowMs,
  });
  running.push(prober);
  prober.start();
  await waitFor(prober, "all HEALTHY at start", allAre(name, "HEALTHY"), 15_000);
  return { node, prober };
}

const allAre =
  (node: string, s: HealthStatus) =>
  (view: HealthView): boolean =>
    versions.every(([m, v]) => view(node, m, v) === s);

/** Resolves with the time (performance.now) of the first emission whose view satisfies `done`. */
function waitFor(
  prober: HealthProber,
  what: string,
  done: (view: HealthView) => boolean,
  deadlineMs: number,
) {
  return new Promise<number>((resolve, reject) => {
    if (done(prober.view())) return resolve(performance.now());
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(
          `${what}: not within ${deadlineMs} ms; status: ${JSON.stringify(prober.snapshot(), null, 1)}`,
        ),
      );
    }, deadlineMs);
    const off = prober.subscribe(({ view }) => {
      if (!done(view)) return;
      clearTimeout(timer);
      off();
      resolve(performance.now());
    });
  });
}

function report(t: TestContext, what: string, ms: number, bound: number) {
  t.diagnostic(`${what}: ${ms.toFixed(0)} ms (bound ${bound} ms + ${slackMs} ms slack)`);
  assert.ok(
    ms <= bound + slackMs,
    `${what} took ${ms.toFixed(0)} ms; bound ${bound} ms + ${slackMs} ms slack`,
  );
}

/** A probe round starts at most interval × (1 + jitter) after the previous one. */
const roundMs = intervalMs * (1 + jitter);

describe("health prober against real nodes", () => {
  test("kill -9: UNHEALTHY within unhealthyThreshold × interval + timeout; a restart on the same port is seen despite grpc-js backoff", async (t) => {
    const { node, prober } = await nodeWithProber("kill-node");
    const killedAt = performance.now();
    node.process.kill("SIGKILL");
    const bound = unhealthyThreshold * roundMs + timeoutMs + windowMs;
    const unhealthyAt = await waitFor(
      prober,
      "UNHEALTHY after kill -9",
      allAre("kill-node", "UNHEALTHY"),
      10_000,
    );
    report(t, "kill -9 → UNHEALTHY", unhealthyAt - killedAt, bound);
    const snap = prober.snapshot()["kill-node"];
    assert.equal(snap?.reachable, false);
    assert.match(snap?.lastError ?? "", /UNAVAILABLE/);

    // Down for several rounds so grpc-js has backed off a few times (uncapped: 1 s, 1.6 s, 2.6 s ...).
    await new Promise((r) => setTimeout(r, 3_000));
    const again = await startNode({ name: "kill-node", models: ["scale", "mlp"], port: node.port });
    running.push({ stop: () => again.stop("SIGKILL") });
    const restartedAt = performance.now();
    const healthyAt = await waitFor(prober, "HEALTHY after restart", allAre("kill-node", "HEALTHY"), 10_000);
    // The reconnect backoff is capped at the interval (plus grpc-js's 20% jitter).
    const recoverBound = healthyThreshold * roundMs + 1.2 * intervalMs + timeoutMs + windowMs;
    report(t, "restart → HEALTHY", healthyAt - restartedAt, recoverBound);
  });

  test("a model unload makes only that model's versions UNHEALTHY; the node's other model stays HEALTHY", async (t) => {
    const { node, prober } = await nodeWithProber("unload-node");
    const mlpChanges: string[] = [];
    prober.subscribe(({ changes }) => {
      for (const c of changes) if (c.model === "mlp") mlpChanges.push(`${c.from}->${c.to}`);
    });
    const client = new GRPCInferenceServiceClient(node.address, credentials.createInsecure());
    try {
      const unloadedAt = performance.now();
      const operator = new Metadata();
      operator.set("x-inferencehub-repository-token", repositoryToken);
      await new Promise<void>((resolve, reject) =>
        client.repositoryModelUnload(
          { repositoryName: "", modelName: "scale", parameters: {} },
          operator,
          { deadline: Date.now() + 5_000 },
          (err: ServiceError | null) => (err ? reject(err) : resolve()),
        ),
      );
      const scaleDown = (view: HealthView) =>
        view("unload-node", "scale", "1") === "UNHEALTHY" &&
        view("unload-node", "scale", "2") === "UNHEALTHY";
      const at = await waitFor(prober, "scale UNHEALTHY after unload", scaleDown, 10_000);
      report(t, "unload → UNHEALTHY", at - unloadedAt, unhealthyThreshold * roundMs + timeoutMs + windowMs);
      // Two more rounds: mlp must not have moved at all.
      await new Promise((r) => setTimeout(r, 2 * roundMs + timeoutMs));
      assert.equal(prober.view()("unload-node", "mlp", "1"), "HEALTHY");
      assert.deepEqual(mlpChanges, []);
      const snap = prober.snapshot()["unload-node"];
      assert.equal(snap?.reachable, true);
      assert.equal(snap?.serving, true);
      assert.equal(snap?.lastError, null);
      assert.equal(snap?.models["scale/1"]?.lastError, "ModelReady: false");
    } finally {
      client.close();
    }
  });

  test("SIGTERM with a drain delay: DRAINING before the node closes its port, UNHEALTHY once it is gone", async (t) => {
    const drainDelayMs = 2_000;
    const { node, prober } = await nodeWithProber("drain-node", ["--drain-delay-ms", String(drainDelayMs)]);
    let exitedAt: number | undefined;
    node.process.once("exit", () => (exitedAt = performance.now()));
    const sigtermAt = performance.now();
    node.process.kill("SIGTERM");
    const drainingAt = await waitFor(
      prober,
      "DRAINING after SIGTERM",
      allAre("drain-node", "DRAINING"),
      10_000,
    );
    assert.equal(exitedAt, undefined, "the node is still running");
    assert.ok(
      drainingAt - sigtermAt < drainDelayMs,
      "DRAINING before the drain delay ended (the port closes after it)",
    );
    report(t, "SIGTERM → DRAINING", drainingAt - sigtermAt, roundMs + timeoutMs + windowMs);
    assert.equal(prober.snapshot()["drain-node"]?.serving, false);
    assert.equal(prober.snapshot()["drain-node"]?.reachable, true);

    await waitFor(prober, "UNHEALTHY once gone", allAre("drain-node", "UNHEALTHY"), drainDelayMs + 10_000);
    assert.ok(
      exitedAt !== undefined || node.process.exitCode !== null,
      "only after the process stopped serving",
    );
  });

  test("SIGSTOP: probes time out and the node turns UNHEALTHY; SIGCONT brings it back", async (t) => {
    const { node, prober } = await nodeWithProber("stop-node");
    const stoppedAt = performance.now();
    node.process.kill("SIGSTOP");
    try {
      const at = await waitFor(prober, "UNHEALTHY after SIGSTOP", allAre("stop-node", "UNHEALTHY"), 10_000);
      report(t, "SIGSTOP → UNHEALTHY", at - stoppedAt, unhealthyThreshold * roundMs + timeoutMs + windowMs);
      const snap = prober.snapshot()["stop-node"];
      assert.match(snap?.lastError ?? "", /DEADLINE_EXCEEDED/);
      assert.equal(snap?.reachable, false);
    } finally {
      node.process.kill("SIGCONT");
    }
    const contAt = performance.now();
    const back = await waitFor(prober, "HEALTHY after SIGCONT", allAre("stop-node", "HEALTHY"), 10_000);
    // The TCP connection survived the stop: no reconnect, no backoff.
    report(t, "SIGCONT → HEALTHY", back - contAt, healthyThreshold * roundMs + timeoutMs + windowMs);
  });
});
