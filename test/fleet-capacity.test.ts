/**
 * The reconciler (xds-server/src/fleet/) and the fleet changing under it, with reference nodes
 * that start empty, a real control plane and a real Envoy (issue #18):
 *
 * - a node that joins pool p gets what the pool should hold (`replicas: all`), and calls reach it;
 * - `placement.labels` puts a version only on the nodes carrying the labels;
 * - capacity: nodes with `--max-models 1` take one version each; a third version has no room, is
 *   never routed (pinned calls UNAVAILABLE) and never tried (no load error), while the two others
 *   keep serving;
 * - a control plane restarted on the same config adopts what the nodes already hold: ready on the
 *   same nodes, with no RepositoryModelLoad from the new process.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import type { ModelInferRequest } from "../gen/inference/inference/grpc_service.js";
import type { FleetStatus } from "../xds-server/src/fleet/index.js";
import { metricValue, startNode } from "../scripts/lib/node-process.js";
import { fp32Request, mixedRequest } from "../scripts/lib/requests.js";
import { MIXED_SAMPLE_INPUTS, MLP_SAMPLE_INPUT, SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startXdsServer, type XdsProcess, type XdsStatus } from "../scripts/lib/xds-process.js";
import { placedVersion, readyOn, TEST_FLEET } from "./lib/fleet.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";
import { callMany } from "./lib/load.js";

const TOKEN = "fleet-capacity-repository-token";
/** Quick probe rounds: the test's clock for "some time passed" (each round is an event in /status). */
const HEALTH = { interval: "300ms", timeout: "250ms", jitter: 0 };

/** Where each node sits: pool p (node-c joins later), pool q (full-*, one version each). */
const LAYOUT: Record<string, { pool: string; labels: Record<string, string> }> = {
  "node-a": { pool: "p", labels: { zone: "a" } },
  "node-b": { pool: "p", labels: { zone: "b" } },
  "node-c": { pool: "p", labels: { zone: "c" } },
  "full-1": { pool: "q", labels: {} },
  "full-2": { pool: "q", labels: {} },
};

type Version = Record<string, unknown>;
interface Models {
  mlp?: Version[];
  mixed?: Version[];
  scale?: Version[];
}

const MLP_ALL_P = [{ version: "1", placement: { pool: "p", replicas: "all" } }];
const MIXED_ZONE_B = [{ version: "1", placement: { labels: { zone: "b" }, replicas: "all" } }];
const scaleOnQ = (versions: string[]) =>
  versions.map((version, i) => ({
    version,
    // Two versions share the unpinned calls; a third takes pinned calls only.
    weight: i < 2 ? (versions.length === 1 ? 100 : 50) : 0,
    placement: { pool: "q", replicas: 1 },
  }));

const nodeOf = (fleet: FleetStatus | undefined, node: string) => fleet?.nodes.find((n) => n.node === node);

type ProbeSnapshot = Record<string, { lastProbeAt: string | null }>;
const probesOf = (s: XdsStatus) => (s as XdsStatus & { probes?: ProbeSnapshot }).probes ?? {};

const REQUESTS: Record<string, ModelInferRequest> = {
  mlp: fp32Request("mlp", MLP_SAMPLE_INPUT),
  scale: fp32Request("scale", SCALE_SAMPLE_INPUT),
  mixed: mixedRequest(MIXED_SAMPLE_INPUTS),
};

describe("placement as the fleet changes", () => {
  let gw: GatewayFixture;
  let models: Models = { mlp: MLP_ALL_P };
  let restarted: XdsProcess | undefined;

  const entries = () =>
    [...gw.nodes.values()].map((n) => ({
      name: n.name,
      address: n.address,
      pool: LAYOUT[n.name]!.pool,
      labels: LAYOUT[n.name]!.labels,
    }));
  const configOf = (nodes: object[], port: number) => ({
    listener: { address: "127.0.0.1", port },
    fleet: TEST_FLEET,
    defaults: { health: HEALTH },
    nodes,
    models: Object.entries(models).map(([name, versions]) => ({ name, versions })),
  });
  const apply = (next: Models) => {
    models = next;
    return gw.applyConfig(configOf(entries(), gw.listenPort));
  };
  /** `total` calls pinned to model/version through Envoy: the nodes that answered, and the failures. */
  const pinned = async (model: string, version: string, total = 40) => {
    const stats = await callMany(gw.client(), {
      total,
      concurrency: 4,
      request: REQUESTS[model]!,
      metadata: { "inferencehub-model": model, "inferencehub-model-version": version },
    });
    return {
      nodes: [...new Set(stats.calls.filter((c) => c.ok).map((c) => c.node))].sort(),
      failures: stats.failures,
    };
  };
  /** Waits until `rounds` more probe rounds of `node` are recorded: time passing, as events. */
  const probeRounds = async (xds: XdsProcess, node: string, rounds: number) => {
    const seen = new Set<string>();
    await xds.waitFor((s) => {
      const at = probesOf(s)[node]?.lastProbeAt;
      if (at) seen.add(at);
      return seen.size > rounds;
    }, `${rounds} probe rounds of ${node}`);
  };

  /**
   * /status says ready as soon as ModelReady does; the snapshot that routes to the node follows
   * with the next index read, and the prober learns of the node in that same publish: its
   * verdict, then Envoy's ACK, mean calls can reach the node.
   */
  const routed = async (node: string, key: string) => {
    await gw.xds.waitFor((s) => s.health?.[node]?.[key] === "HEALTHY", `${node} ${key} probed HEALTHY`);
    await gw.xds.waitForSync("envoy-1");
  };

  before(async () => {
    const node = (name: string, args: string[] = []) => ({ name, models: [], repositoryToken: TOKEN, args });
    gw = await startGateway({
      nodes: [
        node("node-a"),
        node("node-b"),
        node("full-1", ["--max-models", "1"]),
        node("full-2", ["--max-models", "1"]),
      ],
      config: (nodes, port) =>
        configOf(
          nodes.map((n) => ({ ...n, pool: LAYOUT[n.name]!.pool, labels: LAYOUT[n.name]!.labels })),
          port,
        ),
      xdsEnv: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await restarted?.stop();
    await gw?.stop();
  });

  test("a node that joins the pool gets what the pool holds (replicas: all), and calls reach it", async () => {
    await gw.xds.waitFor(
      (s) => readyOn(s.fleet, "mlp", "1").join() === "node-a,node-b",
      "mlp/1 ready on both nodes of pool p",
      30_000,
    );
    const joined = await startNode({ name: "node-c", models: [], repositoryToken: TOKEN });
    gw.nodes.set(joined.name, joined);
    await apply(models);
    const status = await gw.xds.waitFor(
      (s) => readyOn(s.fleet, "mlp", "1").join() === "node-a,node-b,node-c",
      "mlp/1 ready on node-c too",
      30_000,
    );
    assert.deepEqual(placedVersion(status.fleet, "mlp", "1")?.assigned.sort(), [
      "node-a",
      "node-b",
      "node-c",
    ]);
    await routed("node-c", "mlp/1");
    const calls = await pinned("mlp", "1", 60);
    assert.deepEqual(calls.failures, []);
    assert.ok(calls.nodes.includes("node-c"), `answered by ${calls.nodes.join(", ")}`);
    // Nothing of pool p went to pool q.
    for (const name of ["full-1", "full-2"]) assert.deepEqual(nodeOf(status.fleet, name)?.loaded, []);
  });

  test("placement.labels: a version lands only on the node with the label", async () => {
    await apply({ ...models, mixed: MIXED_ZONE_B });
    const status = await gw.xds.waitFor(
      (s) => readyOn(s.fleet, "mixed", "1").length > 0,
      "mixed/1 ready",
      30_000,
    );
    assert.deepEqual(readyOn(status.fleet, "mixed", "1"), ["node-b"]);
    assert.deepEqual(placedVersion(status.fleet, "mixed", "1")?.assigned, ["node-b"]);
    for (const name of ["node-a", "node-c", "full-1", "full-2"])
      assert.ok(!nodeOf(status.fleet, name)?.loaded.includes("mixed/1"), name);
    await routed("node-b", "mixed/1");
    const calls = await pinned("mixed", "1", 20);
    assert.deepEqual(calls.failures, []);
    assert.deepEqual(calls.nodes, ["node-b"]);
  });

  test("capacity: one version per node with --max-models 1; a third finds no room and is never routed", async () => {
    await apply({ ...models, scale: scaleOnQ(["1", "2"]) });
    const spread = await gw.xds.waitFor(
      (s) =>
        readyOn(s.fleet, "scale", "1").length === 1 &&
        readyOn(s.fleet, "scale", "2").length === 1 &&
        // The nodes' own count, read after the loads: both full.
        nodeOf(s.fleet, "full-1")?.capacity?.models === 1 &&
        nodeOf(s.fleet, "full-2")?.capacity?.models === 1,
      "scale/1 and scale/2 ready, the nodes full",
      30_000,
    );
    const where = [...readyOn(spread.fleet, "scale", "1"), ...readyOn(spread.fleet, "scale", "2")];
    assert.deepEqual([...where].sort(), ["full-1", "full-2"], "one per node");
    assert.equal(nodeOf(spread.fleet, "full-1")?.capacity?.maxModels, 1);

    await apply({ ...models, scale: scaleOnQ(["1", "2", "3"]) });
    await gw.xds.waitForSync("envoy-1");
    // Several reconcile passes later (syncInterval 300 ms; probe rounds every 300 ms), still nowhere.
    await probeRounds(gw.xds, "full-1", 4);
    const status = await gw.xds.status();
    const third = placedVersion(status.fleet, "scale", "3");
    assert.ok(third, "scale/3 is listed");
    assert.deepEqual(third.assigned, [], "no node has room");
    assert.deepEqual(readyOn(status.fleet, "scale", "3"), []);
    assert.ok(
      third.nodes.every((n) => n.state === "waiting" || n.state === "failed"),
      JSON.stringify(third),
    );
    // Never tried: the reconciler reads the nodes' capacity and sends no load that cannot fit.
    const metrics = await gw.xds.metrics();
    assert.equal(
      metricValue(metrics, "inferencehub_fleet_operations_total", { operation: "load", result: "error" }),
      0,
    );
    for (const name of ["full-1", "full-2"]) assert.equal(nodeOf(status.fleet, name)?.capacity?.models, 1);

    await assert.rejects(
      gw.client().infer(REQUESTS.scale!, {
        metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "3" },
      }),
      (err: ServiceError) => err.code === 14,
    );
    // The two placed before keep serving, each from its node.
    for (const version of ["1", "2"]) {
      const calls = await pinned("scale", version, 20);
      assert.deepEqual(calls.failures, [], `scale/${version}`);
      assert.deepEqual(calls.nodes, readyOn(status.fleet, "scale", version));
    }
  });

  test("a control plane restarted on the same config adopts what the nodes hold, loading nothing", async () => {
    const before = await gw.xds.status();
    const placedBefore: Record<string, string[]> = {};
    for (const [model, version] of [
      ["mlp", "1"],
      ["mixed", "1"],
      ["scale", "1"],
      ["scale", "2"],
    ] as const)
      placedBefore[`${model}/${version}`] = readyOn(before.fleet, model, version);
    assert.equal(placedBefore["mlp/1"]!.length, 3);
    const loadsBefore = metricValue(await gw.xds.metrics(), "inferencehub_fleet_operations_total", {
      operation: "load",
    });
    assert.ok(loadsBefore >= 5, `the first process loaded them (${loadsBefore} loads)`);

    await gw.xds.stop();
    restarted = await startXdsServer({
      configPath: gw.configPath,
      adsPort: gw.xds.adsPort,
      env: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN },
    });
    const xds = restarted;
    const adopted = await xds.waitFor(
      (s) =>
        Object.entries(placedBefore).every(([key, nodes]) => {
          const [model, version] = key.split("/") as [string, string];
          return readyOn(s.fleet, model, version).join() === nodes.join();
        }),
      "every placed version ready again on the same nodes",
      30_000,
    );
    assert.deepEqual(readyOn(adopted.fleet, "scale", "3"), []);
    await xds.waitForLine(/adopted: already loaded on the node/);
    await xds.waitForSync("envoy-1");
    // A few more passes, then: the new process never asked a node to load anything.
    await probeRounds(xds, "full-1", 3);
    const metrics = await xds.metrics();
    assert.equal(metricValue(metrics, "inferencehub_fleet_operations_total", { operation: "load" }), 0);
    assert.equal(metricValue(metrics, "inferencehub_fleet_operations_total", { operation: "unload" }), 0);
    const adoptions = xds.logs.filter((l) => l.includes("adopted: already loaded on the node")).length;
    assert.equal(adoptions, 3 + 1 + 1 + 1, "one adoption per (node, version)");
    // And Envoy, back on the new process, still reaches each of them.
    for (const [key, nodes] of Object.entries(placedBefore)) {
      const [model, version] = key.split("/") as [string, string];
      const calls = await pinned(model, version, 12);
      assert.deepEqual(calls.failures, [], key);
      assert.ok(
        calls.nodes.every((n) => nodes.includes(n)),
        `${key}: ${calls.nodes.join()} ⊆ ${nodes.join()}`,
      );
    }
  });
});
