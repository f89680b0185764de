/**
 * The reconciler (xds-server/src/fleet/) against real nodes, a real control plane and a real Envoy
 * under continuous load: a placed version is loaded on as many nodes as it asks for and routed
 * only once ready there; removing it drains and unloads it; a node killed has its version placed
 * again elsewhere; a version whose model file is broken is reported and never routed.
 */
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRepositoryClient, type FleetStatus } from "../xds-server/src/fleet/index.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { modelsDir } from "../scripts/lib/paths.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { placedVersion, readyOn, TEST_FLEET } from "./lib/fleet.js";
import { hubctlOnAdmin } from "./lib/hubctl.js";
import { startLoad } from "./lib/load.js";

const TOKEN = "fleet-test-repository-token";
const ADMIN_TOKEN = "fleet-test-admin-token";
/** Every node takes this long to load a version: long enough for calls to hit it if routed early. */
const LOAD_DELAY_MS = 1500;

type Version = Record<string, unknown>;

function config(nodes: NodeEntry[], port: number, scaleVersions: Version[]) {
  return {
    listener: { address: "127.0.0.1", port },
    fleet: TEST_FLEET,
    nodes,
    models: [{ name: "scale", versions: scaleVersions }],
  };
}

const versionOf = (fleet: FleetStatus | undefined, version: string) => placedVersion(fleet, "scale", version);
const readyOnScale = (fleet: FleetStatus | undefined, version: string) => readyOn(fleet, "scale", version);

describe("placement by the control plane", () => {
  let gw: GatewayFixture;
  let dir: string;
  const request = fp32Request("scale", SCALE_SAMPLE_INPUT);
  const repo = createRepositoryClient();

  before(async () => {
    // Model repositories of the test's own. node-a holds only version 1 of scale, loaded at
    // start; the others have versions 1 to 3 and a version 9 whose file onnxruntime cannot read,
    // and start with nothing loaded.
    dir = await mkdtemp(join(tmpdir(), "inferencehub-fleet-"));
    await cp(modelsDir, join(dir, "models"), { recursive: true });
    await mkdir(join(dir, "models/scale/9"), { recursive: true });
    await writeFile(join(dir, "models/scale/9/model.onnx"), "not an onnx model");
    await mkdir(join(dir, "models-a/scale"), { recursive: true });
    await cp(join(modelsDir, "scale/1"), join(dir, "models-a/scale/1"), { recursive: true });
    const node = (name: string) => ({
      name,
      modelsDir: join(dir, name === "node-a" ? "models-a" : "models"),
      models: name === "node-a" ? ["scale"] : [],
      repositoryToken: TOKEN,
      args: ["--load-delay-ms", String(LOAD_DELAY_MS)],
    });
    gw = await startGateway({
      nodes: [node("node-a"), node("node-b"), node("node-c")],
      // Version 1 is on node-a by hand, as before placement existed: the reconciler leaves it be.
      config: (nodes, port) =>
        config(nodes, port, [{ version: "1", weight: 100, serverVersion: "1", nodes: ["node-a"] }]),
      xdsEnv: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN, INFERENCEHUB_ADMIN_TOKEN: ADMIN_TOKEN },
    });
  });
  after(async () => {
    repo.close();
    await gw?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const target = (name: string) => ({ name, address: gw.nodes.get(name)!.address, token: TOKEN });
  const apply = (versions: Version[]) => gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, versions));
  const v1 = { version: "1", nodes: ["node-a"] };
  const placed2 = (replicas: number | "all", weight: number) => ({
    version: "2",
    weight,
    placement: { replicas, pools: ["default"] },
  });

  test("a version added is loaded on as many nodes as asked and served only once ready there", async () => {
    const load = startLoad(gw.client(), {
      concurrency: 4,
      request,
      metadata: { "inferencehub-model": "scale" },
    });
    await load.more(50);
    await apply([{ ...v1, weight: 50 }, placed2(2, 50)]);
    const status = await gw.xds.waitFor(
      (s) => readyOnScale(s.fleet, "2").length === 2,
      "scale/2 ready on two nodes",
      30_000,
    );
    const nodes = readyOnScale(status.fleet, "2");
    // Placed by spreading: node-a already holds version 1, so the two idle nodes take it.
    assert.deepEqual([...nodes].sort(), ["node-b", "node-c"]);
    await load.more(200);
    const stats = await load.stop();
    assert.equal(stats.failures.length, 0, `failed calls: ${JSON.stringify(stats.failures.slice(0, 3))}`);
    const served = new Set(stats.calls.filter((c) => c.version === "2").map((c) => c.node));
    assert.deepEqual([...served].sort(), ["node-b", "node-c"], "version 2 answered from both nodes");
    // No call reached a node before its load finished: the nodes themselves never answered
    // one with an error (a version not loaded yet is NOT_FOUND there).
    for (const name of nodes)
      assert.equal(
        metricValue(await gw.nodes.get(name)!.metrics(), "inferencehub_node_errors_total", {
          model: "scale",
        }),
        0,
        name,
      );
    const index = await repo.index(target("node-b"));
    assert.ok(index.versions.some((v) => v.model === "scale" && v.version === "2" && v.state === "READY"));
  });

  test("removing the version drains it and unloads it, with no failed call", async () => {
    const load = startLoad(gw.client(), {
      concurrency: 4,
      request,
      metadata: { "inferencehub-model": "scale" },
    });
    await load.more(50);
    await apply([{ ...v1, weight: 100 }]);
    await gw.xds.waitFor((s) => versionOf(s.fleet, "2") === undefined, "scale/2 no longer placed");
    // Unloaded on the nodes themselves once the drain passed.
    for (const name of ["node-b", "node-c"]) {
      for (;;) {
        const index = await repo.index(target(name), { readyOnly: true });
        if (!index.versions.some((v) => v.model === "scale" && v.version === "2")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await load.more(100);
    const stats = await load.stop();
    assert.equal(stats.failures.length, 0, `failed calls: ${JSON.stringify(stats.failures.slice(0, 3))}`);
    // Version 1, listed by hand, was never touched.
    const index = await repo.index(target("node-a"), { readyOnly: true });
    assert.ok(index.versions.some((v) => v.model === "scale" && v.version === "1"));
  });

  test("a node killed has its version placed again on another node", async () => {
    // Added again right after its unload, under load: what the nodes said of it before the unload
    // must not count (adopting it there would route calls to a node without it).
    const load = startLoad(gw.client(), {
      concurrency: 4,
      request,
      metadata: { "inferencehub-model": "scale" },
    });
    await load.more(20);
    await apply([{ ...v1, weight: 50 }, placed2(1, 50)]);
    await gw.xds.waitFor((s) => readyOnScale(s.fleet, "2").length === 1, "scale/2 ready again", 30_000);
    await gw.xds.waitForSync(gw.envoys[0]!.name);
    await load.more(100);
    const again = await load.stop();
    assert.equal(again.failures.length, 0, `failed calls: ${JSON.stringify(again.failures.slice(0, 3))}`);
    const first = readyOnScale(
      (await gw.xds.waitFor((s) => readyOnScale(s.fleet, "2").length === 1, "scale/2 ready")).fleet,
      "2",
    );
    const victim = first[0]!;
    assert.notEqual(victim, "node-a", "the least loaded node takes it");
    await gw.nodes.get(victim)!.stop("SIGKILL");
    const moved = await gw.xds.waitFor(
      (s) => readyOnScale(s.fleet, "2").length === 1 && !readyOnScale(s.fleet, "2").includes(victim),
      "scale/2 ready on another node",
      30_000,
    );
    const now = readyOnScale(moved.fleet, "2")[0]!;
    // Ready is published with the routing to it: once Envoy holds that, calls go there.
    await gw.xds.waitForSync(gw.envoys[0]!.name);
    const stats = await (async () => {
      const load = startLoad(gw.client(), {
        concurrency: 2,
        request,
        metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "2" },
      });
      await load.more(50);
      return load.stop();
    })();
    assert.equal(stats.failures.length, 0);
    assert.ok(stats.calls.every((c) => c.node === now));
  });

  test("a version that fails to load is reported with its reason and never routed", async () => {
    await apply([
      { ...v1, weight: 100 },
      { version: "9", weight: 0, placement: { replicas: "all" } },
    ]);
    const status = await gw.xds.waitFor(
      (s) => (versionOf(s.fleet, "9")?.nodes ?? []).some((n) => n.state === "failed" && n.reason),
      "scale/9 failed",
      30_000,
    );
    const failed = versionOf(status.fleet, "9")!.nodes.find((n) => n.state === "failed")!;
    assert.match(failed.reason ?? "", /RepositoryModelLoad scale/);
    assert.ok(failed.retryAt, "a retry is scheduled");
    assert.deepEqual(readyOnScale(status.fleet, "9"), []);
    // Calls pinned to it find no node (the gateway's answer), not a node without the model.
    const client = gw.client();
    await assert.rejects(
      client.infer(request, {
        metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "9" },
      }),
      (err: { code?: number }) => err.code === 14,
    );
  });

  test("an operator places a version with hubctl and follows it with hubctl fleet and models", async () => {
    const hubctl = hubctlOnAdmin(gw.xds.adminPort, ADMIN_TOKEN);
    await apply([{ ...v1, weight: 100 }]);
    await assert.rejects(
      hubctl("add-version", "scale", "3", "--nodes", "node-b", "--replicas", "1"),
      /one or the other/,
    );
    await hubctl("add-version", "scale", "3", "--replicas", "1", "--pool", "default", "--weight", "0");
    const status = await gw.xds.waitFor(
      (s) => readyOnScale(s.fleet, "3").length === 1,
      "scale/3 ready",
      30_000,
    );
    const node = readyOnScale(status.fleet, "3")[0]!;
    await gw.xds.waitForSync(gw.envoys[0]!.name);
    const fleet = JSON.parse((await hubctl("--json", "fleet")).stdout) as {
      versions: {
        model: string;
        version: string;
        replicas: string;
        nodes: { node: string; state: string }[];
      }[];
    };
    assert.deepEqual(
      fleet.versions.find((v) => v.version === "3"),
      { ...fleet.versions.find((v) => v.version === "3"), model: "scale", replicas: "1" },
    );
    assert.ok(
      fleet.versions
        .find((v) => v.version === "3")!
        .nodes.some((n) => n.node === node && n.state === "ready"),
    );
    const summary = await hubctl("status").catch((err: { stdout?: string }) => ({
      stdout: err.stdout ?? "",
    }));
    assert.match(summary.stdout, /placed versions: 1 \(1 ready somewhere\)/);
    const models = (await hubctl("models")).stdout;
    assert.match(models, new RegExp(`placed \\(1 node\\(s\\) pools default\\) ${node}:ready`));
    const answer = await gw.client().infer(request, {
      metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "3" },
    });
    assert.equal(answer.headers["x-inferencehub-node"], node);
    assert.equal(answer.response.modelVersion, "3");
  });
});
