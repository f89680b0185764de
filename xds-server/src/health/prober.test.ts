/**
 * The prober on a fake clock with fake nodes: thresholds, draining, model-level isolation, hangs,
 * coalescing, config changes, status and metrics. Every time below is exact fake time.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { Config } from "@inferencehub/contracts/config";
import type { HealthStatus } from "../ir/index.js";
import { createHealthProber, modelProbesInFlight, type HealthProber } from "./prober.js";
import {
  createFakeClock,
  createFakeTransport,
  testConfig,
  type FakeClock,
  type FakeTransport,
  type RawHealth,
} from "./testing/index.js";
import type { HealthChangeEvent } from "./types.js";

const A = "127.0.0.1:9001";
const B = "127.0.0.1:9002";

interface Harness {
  prober: HealthProber;
  clock: FakeClock;
  transport: FakeTransport;
  registry: Registry;
  events: { at: number; event: HealthChangeEvent }[];
  /** "health status changed" log lines: every transition, before coalescing. */
  transitions: () => number;
  /** Every log line (pino JSON). */
  logs: string[];
  status: (node: string, model: string, version: string) => HealthStatus;
}

function config(health: RawHealth, models: Record<string, Record<string, string[]>> = twoModels): Config {
  return testConfig({ nodes: { a: A, b: B }, models, health });
}

const twoModels = { scale: { "1": ["a", "b"], "2": ["a"] }, mlp: { "1": ["a"] } };
const base: RawHealth = {
  interval: "1s",
  timeout: "400ms",
  healthyThreshold: 1,
  unhealthyThreshold: 2,
  jitter: 0,
};

function setup(cfg: Config, opts: { windowMs?: number; random?: () => number } = {}): Harness {
  const clock = createFakeClock();
  const transport = createFakeTransport({ clock });
  const up = { mode: "up" as const, health: "SERVING" as const, serverReady: true };
  transport.set(A, { ...up, models: { "scale/1": true, "scale/2": true, "mlp/1": true } });
  transport.set(B, { ...up, models: { "scale/1": true } });
  let transitions = 0;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      if (chunk.toString().includes("health status changed")) transitions++;
      done();
    },
  });
  const registry = new Registry();
  const prober = createHealthProber({
    config: cfg,
    log: pino({ level: "info" }, sink),
    registry,
    transport,
    clock,
    random: opts.random ?? (() => 0),
    coalesceWindowMs: opts.windowMs ?? 200,
  });
  const events: Harness["events"] = [];
  prober.subscribe((event) => events.push({ at: clock.now(), event }));
  return {
    prober,
    clock,
    transport,
    registry,
    events,
    transitions: () => transitions,
    logs,
    status: (n, m, v) => prober.view()(n, m, v),
  };
}

/** Statuses of node a's three versions, in a fixed order: scale/1 scale/2 mlp/1. */
const nodeA = (h: Harness) =>
  ["scale/1", "scale/2", "mlp/1"].map((k) => h.status("a", ...split(k))).join(" ");
const split = (key: string): [string, string] => key.split("/") as [string, string];

describe("health prober", () => {
  test("everything is UNKNOWN before the first probe; one success makes it HEALTHY", async () => {
    const h = setup(config(base));
    assert.equal(nodeA(h), "UNKNOWN UNKNOWN UNKNOWN");
    assert.equal(h.prober.snapshot().a?.reachable, null);
    h.prober.start();
    await h.clock.advance(0);
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    assert.equal(h.status("b", "scale", "1"), "HEALTHY");
    assert.equal(h.status("b", "mlp", "1"), "UNKNOWN", "not placed there, never probed");
    assert.equal(h.events.length, 1);
    assert.deepEqual(
      h.events[0]?.event.changes.map((c) => `${c.node} ${c.model}/${c.version} ${c.from}->${c.to}`),
      [
        "a mlp/1 UNKNOWN->HEALTHY",
        "a scale/1 UNKNOWN->HEALTHY",
        "a scale/2 UNKNOWN->HEALTHY",
        "b scale/1 UNKNOWN->HEALTHY",
      ],
    );
    await h.prober.stop();
  });

  test("thresholds: HEALTHY after healthyThreshold successes, UNHEALTHY after unhealthyThreshold failures", async () => {
    const h = setup(config({ ...base, healthyThreshold: 2, unhealthyThreshold: 3 }));
    h.prober.start();
    await h.clock.advance(0);
    assert.equal(nodeA(h), "UNKNOWN UNKNOWN UNKNOWN", "1 success of 2");
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");

    // A round that finds the node down is confirmed 100 ms later, not an interval later.
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(500); // t=1500
    await h.clock.advance(500); // round at 2000: 1 failure
    await h.clock.advance(100); // 2100: 2 failures
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    assert.equal(h.prober.snapshot().a?.models["scale/1"]?.consecutiveFailures, 2);
    h.transport.set(A, { mode: "up" });
    await h.clock.advance(100); // 2200: success resets the count, and the interval applies again
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(900); // 3100: no round since 2200
    assert.equal(h.prober.snapshot().a?.models["scale/1"]?.consecutiveFailures, 0);
    await h.clock.advance(200); // 3200, 3300: 2 failures again
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    await h.clock.advance(100); // 3400: the third
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY");
    assert.equal(h.events.at(-1)?.at, 3_400, "emitted in the same instant: the window was quiet");
    assert.equal(h.status("b", "scale", "1"), "HEALTHY", "the other node is untouched");

    const snap = h.prober.snapshot().a;
    assert.equal(snap?.reachable, false);
    assert.equal(snap?.serving, null);
    assert.match(snap?.lastError ?? "", /UNAVAILABLE/);

    // Out: the interval applies again (no probing a dead node every 100 ms).
    h.transport.set(A, { mode: "up" });
    await h.clock.advance(900); // 4300
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY", "no round since 3400");
    await h.clock.advance(100); // 4400
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY", "1 success of 2");
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    await h.prober.stop();
  });

  test("NOT_SERVING drains every version of the node at once, whatever the threshold", async () => {
    const h = setup(config({ ...base, unhealthyThreshold: 5 }));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { health: "NOT_SERVING", serverReady: false, models: {} });
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "DRAINING DRAINING DRAINING", "one round, not five");
    assert.equal(h.events.at(-1)?.at, 1_000);
    assert.equal(h.prober.snapshot().a?.serving, false);
    assert.equal(h.prober.snapshot().a?.reachable, true);

    // The port closes: DRAINING holds until the node has been gone unhealthyThreshold rounds
    // (the first at the interval, the rest 100 ms apart).
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(1_300);
    assert.equal(nodeA(h), "DRAINING DRAINING DRAINING");
    await h.clock.advance(100);
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY");
    await h.prober.stop();
  });

  test("ServerReady false alone drains too; serving again makes it HEALTHY", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { serverReady: false });
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "DRAINING DRAINING DRAINING");
    h.transport.set(A, { serverReady: true });
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    await h.prober.stop();
  });

  test("ModelReady false (model unloaded) fails that version only", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { models: { "scale/1": false, "scale/2": true, "mlp/1": true } });
    await h.clock.advance(2_000);
    assert.equal(nodeA(h), "UNHEALTHY HEALTHY HEALTHY");
    assert.equal(h.status("b", "scale", "1"), "HEALTHY", "the same version on another node is untouched");
    const snap = h.prober.snapshot().a;
    assert.equal(snap?.reachable, true);
    assert.equal(snap?.serving, true);
    assert.equal(snap?.lastError, null);
    assert.equal(snap?.models["scale/1"]?.lastError, "ModelReady: false");
    assert.deepEqual(
      h.events
        .slice(1)
        .flatMap((e) => e.event.changes.map((c) => `${c.node} ${c.model}/${c.version} ${c.to}`)),
      ["a scale/1 UNHEALTHY"],
    );
    await h.prober.stop();
  });

  test("a hung node (SIGSTOP) turns UNHEALTHY within interval + unhealthyThreshold × (timeout + 100 ms)", async () => {
    const h = setup(config(base)); // interval 1 s, timeout 400 ms, unhealthyThreshold 2
    h.prober.start();
    await h.clock.advance(2_500);
    const hungAt = h.clock.now();
    h.transport.set(A, { mode: "hung" });
    await h.clock.advance(2_900); // 5400: no round in flight at the end

    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY");
    const turned = h.events.find((e) => e.event.changes.some((c) => c.node === "a" && c.to === "UNHEALTHY"));
    assert.equal(turned?.at, 3_900, "the round at 3000 times out at 3400, the one at 3500 at 3900");
    assert.ok(turned.at - hungAt <= 1_000 + 2 * (400 + 100));
    assert.match(h.prober.snapshot().a?.lastError ?? "", /DEADLINE_EXCEEDED/);
    // Rounds never overlap: one health check per started round.
    const starts = h.transport.calls
      .filter((c) => c.node === "a" && c.probe === "health_check")
      .map((c) => c.at);
    assert.deepEqual(starts, [0, 1_000, 2_000, 3_000, 3_500, 4_500]);
    await h.prober.stop();
  });

  test("a node with many versions: at most modelProbesInFlight ModelReady probes at once, none once the node is silent", async () => {
    // issue #16's review: 3,000 ModelReady probes at once on one node timed out its node-level
    // probes, and every version turned UNHEALTHY.
    const versions = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [String(i + 1), ["a"]]));
    const h = setup(config(base, { big: versions }));
    h.transport.set(A, {
      mode: "up",
      models: Object.fromEntries(Object.keys(versions).map((v) => [`big/${v}`, true])),
    });
    h.prober.start();
    await h.clock.advance(0);
    const modelCalls = () => h.transport.calls.filter((c) => c.node === "a" && c.probe === "model_ready");
    assert.equal(modelCalls().length, 40, "a node that answers gets every version probed");
    assert.equal(h.status("a", "big", "40"), "HEALTHY");
    // Hung: the round's first calls hang until their timeout.
    h.transport.set(A, { mode: "hung" });
    const before = modelCalls().length;
    await h.clock.advance(1_000);
    const round = h.transport.calls.filter((c) => c.node === "a" && c.at === 1_000);
    assert.deepEqual(
      round.slice(0, 2).map((c) => c.probe),
      ["health_check", "server_ready"],
      "the node-level probes go out first",
    );
    assert.equal(modelCalls().length - before, modelProbesInFlight, "no more than that many at once");
    // The node answered neither node-level probe: the other versions are not probed at all.
    await h.clock.advance(400);
    assert.equal(modelCalls().length - before, modelProbesInFlight);
    await h.prober.stop();
  });

  test("a node without grpc.health.v1 is judged by ServerReady and ModelReady", async () => {
    const h = setup(config(base));
    h.transport.set(A, { health: { code: status.UNIMPLEMENTED } });
    h.prober.start();
    await h.clock.advance(0);
    assert.equal(nodeA(h), "HEALTHY HEALTHY HEALTHY");
    h.transport.set(A, { serverReady: false });
    await h.clock.advance(1_000);
    assert.equal(nodeA(h), "DRAINING DRAINING DRAINING");
    await h.prober.stop();
  });

  test("no grpc.health.v1 (UNIMPLEMENTED) counts no failure and logs nothing, round after round; a kill still counts", async () => {
    const h = setup(config(base, { scale: { "1": ["a"] } }));
    h.transport.set(A, { health: { code: status.UNIMPLEMENTED } });
    h.transport.set(B, { health: { code: status.NOT_FOUND }, serverReady: { code: status.UNIMPLEMENTED } });
    h.prober.start();
    await h.clock.advance(0);
    await h.clock.advance(5_000);
    assert.equal(h.status("a", "scale", "1"), "HEALTHY");
    const rounds = h.transport.calls.filter((c) => c.node === "a" && c.probe === "health_check").length;
    assert.equal(rounds, 6);
    const failures = (text: string) =>
      text.split("\n").filter((l) => l.startsWith("inferencehub_health_probe_failures_total{"));
    assert.deepEqual(failures(await h.registry.metrics()), [], "no failure series at all");
    assert.deepEqual(
      h.logs.filter((l) => /"level":(40|50)/.test(l)),
      [],
      "no warning or error in the log",
    );
    assert.equal(h.prober.snapshot().a?.lastError, null);

    // The same node killed: its failures count, and it goes out as fast as any node.
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(1_000);
    await h.clock.advance(100);
    assert.equal(h.status("a", "scale", "1"), "UNHEALTHY");
    assert.match(
      (await h.registry.metrics()).split("\n").join("\n"),
      /inferencehub_health_probe_failures_total\{node="a",probe="health_check",reason="UNAVAILABLE"\} 2/,
    );
    await h.prober.stop();
  });

  test("every probe has the timeout as deadline; ModelReady uses its own model's timeout", async () => {
    const cfg = testConfig({
      nodes: { a: A },
      models: { scale: { "1": ["a"] }, mlp: { "1": ["a"] } },
      health: base,
      modelHealth: { mlp: { timeout: "900ms" } },
    });
    const h = setup(cfg);
    h.prober.start();
    await h.clock.advance(0);
    assert.deepEqual(h.transport.calls.map((c) => `${c.probe}:${c.timeoutMs}`).sort(), [
      "health_check:400",
      "model_ready:400",
      "model_ready:900",
      "server_ready:400",
    ]);
    await h.prober.stop();
  });

  test("jitter: each round starts interval × (1 + jitter × random) after the last", async () => {
    const h = setup(config({ ...base, jitter: 0.2 }), { random: () => 0.5 });
    h.prober.start();
    await h.clock.advance(3_500);
    const starts = h.transport.calls
      .filter((c) => c.node === "a" && c.probe === "health_check")
      .map((c) => c.at);
    assert.deepEqual(starts, [0, 1_100, 2_200, 3_300]);
    await h.prober.stop();
  });

  test("coalescing: a node flapping every 100 ms for 10 s emits at most duration / window + 1 times", async () => {
    const windowMs = 200;
    const durationMs = 10_000;
    const h = setup(
      config({ interval: "50ms", timeout: "20ms", healthyThreshold: 1, unhealthyThreshold: 1, jitter: 0 }),
      { windowMs },
    );
    h.prober.start();
    await h.clock.advance(0);
    const before = h.events.length;
    const startAt = h.clock.now();
    for (let t = 0; t < durationMs; t += 100) {
      h.transport.set(A, { mode: t % 200 === 0 ? "down" : "up" });
      await h.clock.advance(100);
    }
    const emitted = h.events.length - before;
    assert.ok(h.transitions() >= 3 * 90, `${h.transitions()} transitions: the node really flapped`);
    assert.ok(emitted <= durationMs / windowMs + 1, `${emitted} emissions in ${durationMs} ms`);
    assert.ok(emitted > 0);
    const times = h.events.slice(before).map((e) => e.at);
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i]! - times[i - 1]! >= windowMs, "one emission per window");
    assert.ok(times.every((t) => t >= startAt && t <= startAt + durationMs + windowMs));

    // Nothing is lost: once it settles, the last emission matches the table.
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(1_000);
    const last = h.events.at(-1)?.event.view;
    assert.equal(last?.("a", "scale", "1"), "UNHEALTHY");
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY");
    const counter = await h.registry.getSingleMetric("inferencehub_health_changes_emitted_total")?.get();
    assert.equal(counter?.values[0]?.value, h.events.length);
    await h.prober.stop();
  });

  test("a flap that goes back within the window is not emitted", async () => {
    const h = setup(
      config({ interval: "50ms", timeout: "20ms", healthyThreshold: 1, unhealthyThreshold: 1, jitter: 0 }),
      { windowMs: 200 },
    );
    h.prober.start();
    await h.clock.advance(1_000); // quiet since the first emission at 0
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(50); // UNHEALTHY at 1050: emitted at once
    h.transport.set(A, { mode: "up" });
    await h.clock.advance(50); // HEALTHY at 1100: waits for the window (1250)
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(900); // UNHEALTHY again at 1150: nothing to send at 1250
    h.transport.set(A, { mode: "up" });
    await h.clock.advance(50); // HEALTHY at 2050: emitted at once
    const mlp = h.events.map((e) => [
      e.at,
      e.event.changes.filter((c) => c.node === "a" && c.model === "mlp").map((c) => c.to),
    ]);
    assert.deepEqual(mlp, [
      [0, ["HEALTHY"]],
      [1_050, ["UNHEALTHY"]],
      [2_050, ["HEALTHY"]],
    ]);
    assert.equal(h.transitions(), 4 * 3 + 4, "the table saw every transition");
    await h.prober.stop();
  });

  test("update(config): adds and removes nodes and versions, keeps the state of the rest", async () => {
    const h = setup(config({ ...base, unhealthyThreshold: 3 }));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { models: { "scale/1": false, "scale/2": true, "mlp/1": true } });
    await h.clock.advance(1_000);
    assert.equal(h.prober.snapshot().a?.models["scale/1"]?.consecutiveFailures, 1);

    // b leaves; c arrives; a loses scale/2 and gains mlp/2.
    const C = "127.0.0.1:9003";
    h.transport.set(C, { mode: "up", models: { "scale/1": true } });
    h.prober.update(
      testConfig({
        nodes: { a: A, c: C },
        models: { scale: { "1": ["a", "c"] }, mlp: { "1": ["a"], "2": ["a"] } },
        health: { ...base, unhealthyThreshold: 3 },
      }),
    );
    assert.deepEqual(Object.keys(h.prober.snapshot()), ["a", "c"]);
    assert.deepEqual(Object.keys(h.prober.snapshot().a?.models ?? {}), ["mlp/1", "mlp/2", "scale/1"]);
    assert.equal(h.prober.snapshot().a?.models["scale/1"]?.consecutiveFailures, 1, "kept");
    assert.equal(h.status("a", "mlp", "1"), "HEALTHY", "kept");
    assert.equal(h.status("a", "mlp", "2"), "UNKNOWN", "new: not probed yet");
    assert.equal(h.status("a", "scale", "2"), "UNKNOWN", "removed");
    assert.equal(h.status("b", "scale", "1"), "UNKNOWN", "removed");
    assert.deepEqual(h.transport.open().sort(), [A, C], "b's connection is closed; a's is kept");
    await h.clock.advance(0);
    assert.equal(h.status("c", "scale", "1"), "HEALTHY", "a new node is probed at once");
    h.transport.set(A, { models: { "scale/1": false, "mlp/1": true, "mlp/2": true } });
    await h.clock.advance(2_000);
    assert.equal(h.status("a", "scale", "1"), "UNHEALTHY", "third failure, counted across the update");
    assert.equal(h.status("a", "mlp", "2"), "HEALTHY");
    assert.equal(
      h.transport.connects.filter((c) => c.node === "a").length,
      1,
      "one channel per node, reused",
    );
    await h.prober.stop();
  });

  test("update(config): a node whose address changed starts over on a new connection", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    const A2 = "127.0.0.1:9011";
    h.prober.update(testConfig({ nodes: { a: A2, b: B }, models: twoModels, health: base }));
    assert.equal(nodeA(h), "UNKNOWN UNKNOWN UNKNOWN");
    assert.deepEqual(h.transport.open().sort(), [A2, B].sort());
    await h.clock.advance(1_000);
    assert.equal(h.prober.snapshot().a?.address, A2);
    assert.equal(nodeA(h), "UNHEALTHY UNHEALTHY UNHEALTHY", "nothing answers at the new address");
    await h.prober.stop();
  });

  test("update(config): a shorter interval applies to the round already waiting", async () => {
    const h = setup(config({ ...base, interval: "60s" }));
    h.prober.start();
    await h.clock.advance(0);
    h.prober.update(config({ ...base, interval: "1s" }));
    await h.clock.advance(1_000);
    const starts = h.transport.calls
      .filter((c) => c.node === "a" && c.probe === "health_check")
      .map((c) => c.at);
    assert.deepEqual(starts, [0, 1_000]);
    assert.deepEqual(
      h.transport.connects.filter((c) => c.node === "a").map((c) => c.intervalMs),
      [60_000, 1_000],
      "reconnected for the new interval (the channel's backoff follows it)",
    );
    await h.prober.stop();
  });

  test("snapshot() is JSON with the node and version state", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(B, { mode: "down" });
    await h.clock.advance(1_000);
    const snap = h.prober.snapshot();
    assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
    assert.deepEqual(snap.b, {
      address: B,
      reachable: false,
      serving: null,
      lastProbeAt: new Date(1_000).toISOString(),
      lastError: "health: UNAVAILABLE: connect ECONNREFUSED, ServerReady: UNAVAILABLE: connect ECONNREFUSED",
      models: {
        "scale/1": {
          status: "HEALTHY",
          consecutiveFailures: 1,
          consecutiveSuccesses: 0,
          lastError:
            "health: UNAVAILABLE: connect ECONNREFUSED, ServerReady: UNAVAILABLE: connect ECONNREFUSED",
        },
      },
    });
    await h.prober.stop();
  });

  test("metrics: status gauge, probe latency, failures, emissions", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { models: { "scale/1": false, "scale/2": true, "mlp/1": true } });
    await h.clock.advance(2_000);
    const text = await h.registry.metrics();
    const line = (s: string) => text.split("\n").find((l) => l.startsWith(s));
    assert.equal(
      line('inferencehub_health_status{node="a",model="scale",version="1",status="UNHEALTHY"}'),
      'inferencehub_health_status{node="a",model="scale",version="1",status="UNHEALTHY"} 1',
    );
    assert.equal(
      line('inferencehub_health_status{node="a",model="scale",version="1",status="HEALTHY"}'),
      'inferencehub_health_status{node="a",model="scale",version="1",status="HEALTHY"} 0',
    );
    assert.match(text, /inferencehub_health_status\{node="a",model="mlp",version="1",status="HEALTHY"\} 1/);
    assert.match(
      text,
      /inferencehub_health_probe_failures_total\{node="a",probe="model_ready",reason="NOT_READY"\} 2/,
    );
    assert.match(text, /inferencehub_health_probe_duration_seconds_count\{probe="health_check"\} 6/);
    assert.match(text, /inferencehub_health_changes_emitted_total 2/);

    h.prober.update(testConfig({ nodes: { a: A }, models: { mlp: { "1": ["a"] } }, health: base }));
    const after = await h.registry.metrics();
    assert.doesNotMatch(after, /node="b"/, "series of removed versions go away");
    assert.doesNotMatch(after, /inferencehub_health_status\{node="a",model="scale"/);
    await h.prober.stop();
  });

  test("a listener that throws does not stop the others; unsubscribe works", async () => {
    const h = setup(config(base));
    h.prober.subscribe(() => {
      throw new Error("bug in a subscriber");
    });
    let calls = 0;
    const off = h.prober.subscribe(() => calls++);
    h.prober.start();
    await h.clock.advance(0);
    assert.equal(calls, 1);
    assert.equal(h.events.length, 1);
    off();
    h.transport.set(A, { mode: "down" });
    await h.clock.advance(2_000);
    assert.equal(calls, 1);
    await h.prober.stop();
  });

  test("stop() closes every connection and leaves no timer", async () => {
    const h = setup(config(base));
    h.prober.start();
    await h.clock.advance(0);
    h.transport.set(A, { mode: "hung" });
    await h.clock.advance(1_000); // a round in flight
    const stopped = h.prober.stop();
    await h.clock.advance(400);
    await stopped;
    assert.deepEqual(h.transport.open(), []);
    assert.equal(h.clock.pendingTimers(), 0);
    const events = h.events.length;
    await h.clock.advance(10_000);
    assert.equal(h.events.length, events, "nothing after stop");
  });
});
