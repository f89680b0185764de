/**
 * A rollout's state in etcd (`<prefix>rollouts/<model>`), with a real etcd: the driver edits the
 * config through the admin core on the etcd store, another control plane on the same prefix (a
 * restart, or the next leader) resumes it from its recorded step, and the rollout's key is not
 * part of the config. Metrics and health are given by the test; test/rollout.test.ts runs the
 * processes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import type { RawConfig } from "@inferencehub/contracts/config";
import { etcdClient, writeConfig, etcdLayout } from "@inferencehub/contracts/etcd-config";
import { etcdUnavailableReason, startEtcdCluster, type EtcdCluster } from "../scripts/lib/etcd-process.js";
import { AdminCore, type AdminStatus } from "../xds-server/src/admin/index.js";
import { EtcdRolloutStore, RolloutDriver } from "../xds-server/src/rollout/index.js";
import { EtcdConfigStore } from "../xds-server/src/source/index.js";

const unavailable = etcdUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";
const log = pino({ level: process.env.STORE_TEST_LOG ?? "silent" });
const prefix = `/rollout-test-${process.pid}/`;

const seed: RawConfig = {
  listener: { port: 8080 },
  nodes: [
    { name: "node-a", address: "127.0.0.1:9001" },
    { name: "node-b", address: "127.0.0.1:9002" },
  ],
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

describe("a rollout kept in etcd", { skip: required ? false : (unavailable ?? false) }, () => {
  let etcd: EtcdCluster;
  const closers: (() => Promise<void> | void)[] = [];
  before(async () => {
    etcd = await startEtcdCluster();
    const client = etcdClient(etcd.endpoints);
    await writeConfig(client, etcdLayout(prefix), seed);
    client.close();
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
    await etcd?.stop();
  });

  let calls = 0;
  /** A control plane's config store and rollout driver on the prefix; its clock moved by hand. */
  const controlPlane = async () => {
    let configsSeen = 0;
    const config = new EtcdConfigStore({
      endpoints: etcd.endpoints,
      prefix,
      log,
      onConfig: () => configsSeen++,
    });
    await config.start();
    closers.push(() => config.close());
    const core = new AdminCore({ config, log, status: () => ({}) as AdminStatus });
    let now = Date.now();
    const driver = new RolloutDriver({
      core,
      config,
      store: new EtcdRolloutStore({ endpoints: etcd.endpoints, prefix }),
      sample: () =>
        Promise.resolve({
          byEnvoy: new Map([["envoy-1#1", { total: calls, failures: 0, p99Ms: 2 }]]),
          missing: [],
        }),
      health: () => ({ healthy: 1, unknown: 0, total: 1 }),
      versionReady: () => ({ ready: true, detail: "1/1 node(s) HEALTHY" }),
      envoysSynced: () => true,
      log,
      now: () => now,
      tickMs: 3_600_000,
    });
    await driver.open();
    closers.push(() => driver.stop());
    core.attachRollouts(driver);
    const weights = () =>
      Object.fromEntries(config.current!.models[0]!.versions.map((v) => [v.version, v.weight]));
    /** The step's interval passes with enough calls. */
    const pass = async () => {
      await driver.tick();
      now += 1_000;
      calls += 20;
      await driver.tick();
    };
    return { config, core, driver, weights, pass, configsSeen: () => configsSeen };
  };

  test("steps edit the config in etcd; a second control plane resumes from the recorded step", async () => {
    const first = await controlPlane();
    const started = await first.core.startRollout(
      {
        model: "scale",
        toVersion: "2",
        steps: [10, 50, 100],
        intervalMs: 1_000,
        maxErrorRate: 0.05,
        maxP99Ms: 0,
        minCalls: 5,
        removeOld: false,
        readyTimeoutMs: 0,
        maxHoldMs: 0,
      },
      "alice",
    );
    assert.equal(started.rollout?.step, 1);
    assert.deepEqual(first.weights(), { "1": 90, "2": 10 });
    const seenBefore = first.configsSeen();
    await first.pass();
    assert.equal(first.driver.get("scale").step, 2);
    assert.deepEqual(first.weights(), { "1": 50, "2": 50 });
    // The rollout's own key changes on every step, and is no config change: one edit, one config.
    assert.equal(first.configsSeen() - seenBefore, 1);

    const client = etcdClient(etcd.endpoints);
    const stored = JSON.parse((await client.get(`${prefix}rollouts/scale`).string()) ?? "{}") as {
      state: string;
      step: number;
    };
    client.close();
    assert.deepEqual([stored.state, stored.step], ["running", 2]);

    // The first one stops (a restart, or another replica becomes leader).
    await first.driver.stop();
    const second = await controlPlane();
    const resumed = second.driver.get("scale");
    assert.equal(resumed.step, 2);
    assert.ok(resumed.events.some((e) => e.kind === "resume"));
    await second.pass();
    assert.deepEqual(second.weights(), { "1": 0, "2": 100 });
    await second.pass();
    assert.equal(second.driver.get("scale").state, "completed");
  });
});
