/**
 * Hot reload and restarts with real processes: an invalid edit is refused and the last good
 * config keeps serving; an in-place save applies; a restarted Envoy gets the same versions; a
 * killed control plane costs no call, and a restarted one takes its Envoys back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { writeFile } from "node:fs/promises";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { stringify } from "yaml";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { contentHash } from "../xds-server/src/snapshot/index.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany, startLoad } from "./lib/load.js";

const scaleCall = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};

function config(nodes: NodeEntry[], listenPort: number, weights: [number, number]) {
  return gatewayConfig(nodes, listenPort, [
    scaleModel(
      weights,
      nodes.map((n) => n.name),
    ),
  ]);
}

describe("control plane lifecycle", () => {
  let gw: GatewayFixture;
  let listenPort = 0;
  let xds: XdsProcess;
  const restarted: XdsProcess[] = [];

  before(async () => {
    gw = await startGateway({
      nodes: [{ name: "node-a" }],
      config: (nodes, port) => ((listenPort = port), config(nodes, port, [100, 0])),
    });
    xds = gw.xds;
  });
  after(async () => {
    await Promise.all(restarted.map((x) => x.stop()));
    await gw?.stop();
  });

  const versionsServed = async (total = 100) => {
    const stats = await callMany(gw.client(), { total, concurrency: 8, ...scaleCall });
    assert.deepEqual(stats.failures, []);
    return [...stats.byVersion().keys()].sort();
  };

  test("an invalid edit is refused with the field named, and the last good config keeps serving", async () => {
    const before = await xds.status();
    const bad = config(gw.nodeEntries(), listenPort, [70, 20]);
    await gw.writeConfig(bad);
    const refused = await xds.waitFor((s) => s.refusedEdit.length > 0, "the edit to be refused");
    assert.ok(
      refused.refusedEdit.some((e) => /^models\[0\]\.versions/.test(e.path) && /100/.test(e.message)),
      JSON.stringify(refused.refusedEdit),
    );
    assert.equal(refused.snapshots.envoy, before.snapshots.envoy, "nothing was published");
    const line = await xds.waitForLine(/config refused/);
    assert.match(line, /models\[0\]\.versions/, "the log names the field");
    assert.deepEqual(await versionsServed(), ["1"]);
  });

  test("an in-place save of a valid file is applied", async () => {
    await gw.applyConfig(config(gw.nodeEntries(), listenPort, [0, 100]), { inPlace: true });
    assert.deepEqual((await xds.status()).refusedEdit, []);
    assert.deepEqual(await versionsServed(), ["2"]);
  });

  test("a garbled file (YAML syntax) is refused too", async () => {
    const before = (await xds.status()).snapshots.envoy;
    try {
      // writeFile is not atomic: the watcher may first see the file empty (refused without a line).
      await writeFile(gw.configPath, "nodes: [\n  - {name: oops\n");
      const refused = await xds.waitFor(
        (s) => s.refusedEdit.some((e) => e.line !== undefined),
        "the syntax error to be refused, saying where",
      );
      assert.equal(refused.snapshots.envoy, before);
      assert.deepEqual(await versionsServed(), ["2"]);
    } finally {
      await gw.writeConfig(config(gw.nodeEntries(), listenPort, [0, 100]));
      await xds.waitFor((s) => s.refusedEdit.length === 0, "the good file to be back");
    }
  });

  test("a restarted Envoy reconnects and gets the same versions: no churn", async () => {
    const acked = (s: Awaited<ReturnType<XdsProcess["status"]>>) => {
      const c = s.clients.find((c) => c.nodeId === "envoy-1");
      return c && Object.fromEntries(Object.entries(c.kinds).map(([k, v]) => [k, v.ackedVersion]));
    };
    const before = acked(await xds.status());
    await gw.envoys[0]!.stop();
    gw.envoys.splice(0, 1);
    await xds.waitFor((s) => !s.clients.some((c) => c.nodeId === "envoy-1"), "the old stream to close");
    const envoy = await gw.startEnvoy({ id: "envoy-1" });
    const after = acked(await xds.status());
    assert.deepEqual(after, before, "the same content gives the same versions");
    const stats = await envoy.stats();
    assert.equal(stats["cluster_manager.cds.update_rejected"] ?? 0, 0);
    assert.equal(stats["listener_manager.lds.update_rejected"] ?? 0, 0);
    assert.deepEqual(await versionsServed(), ["2"]);
  });

  test("the control plane killed under load costs no call; restarted, it takes Envoy back", async () => {
    const load = startLoad(gw.client(), { concurrency: 8, ...scaleCall });
    await load.more(100);
    const versionBefore = (await xds.status()).snapshots.envoy;
    await xds.stop("SIGKILL");
    await load.more(300);
    const replacement = await startXdsServer({ configPath: gw.configPath, adsPort: xds.adsPort });
    restarted.push(replacement);
    await replacement.waitForSync("envoy-1");
    assert.equal(
      (await replacement.status()).snapshots.envoy,
      versionBefore,
      "a new process computes the same versions",
    );
    await load.more(100);
    // The new process serves edits: traffic follows one.
    const edited = config(gw.nodeEntries(), listenPort, [100, 0]);
    await gw.writeConfig(edited);
    const version = contentHash(stringify(edited));
    await replacement.waitFor((s) => s.configVersion === version, "the edit to serve");
    await replacement.waitForSync("envoy-1");
    // Envoy's workers pick up an ACKed route a moment after its main thread: allow for that.
    const switched = Date.now() + 200;
    await load.more(200);
    const stats = await load.stop();
    assert.deepEqual(stats.failures, [], "no call failed while the control plane was down or back");
    assert.ok(stats.calls.filter((c) => c.startedAt > switched).every((c) => c.version === "1"));
  });
});
