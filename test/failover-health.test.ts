/**
 * Failover driven by the control plane's health probes, with real nodes under a steady load:
 * a model unloaded from one node, a node drained by an operator, a node shut down gracefully, a
 * whole preferred pool lost and regained, and a flapping node that must not cause a push storm.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { credentials, Metadata } from "@grpc/grpc-js";
import { GRPCInferenceServiceClient } from "../gen/inference/inference/grpc_service.js";
import { MLP_SAMPLE_INPUT, SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { metricValue, startNode } from "../scripts/lib/node-process.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { grpcCall } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { startLoad, type LoadStats } from "./lib/load.js";

const run = promisify(execFile);
const TOKEN = "failover-admin-token";
/** Repository calls on a node need the operator token (issue #10 finding 1). */
const REPOSITORY_TOKEN = "failover-repository-token";
const operator = () => {
  const md = new Metadata();
  md.set("x-inferencehub-repository-token", REPOSITORY_TOKEN);
  return md;
};
const NODE_ARGS = ["--infer-delay-ms", "2", "--drain-delay-ms", "1500"];
const pools: Record<string, string> = { "gpu-1": "gpu", "gpu-2": "gpu", "cpu-1": "cpu" };
const scaleCall = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};
const mlpCall = { request: fp32Request("mlp", MLP_SAMPLE_INPUT), metadata: { "inferencehub-model": "mlp" } };

function config(nodes: NodeEntry[], listenPort: number) {
  const all = nodes.map((n) => n.name);
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    pools: ["gpu", "cpu"],
    nodes: nodes.map((n) => ({ ...n, pool: pools[n.name] })),
    defaults: {
      health: {
        interval: "250ms",
        timeout: "250ms",
        healthyThreshold: 1,
        unhealthyThreshold: 2,
        jitter: 0.1,
      },
      outlierDetection: { baseEjectionTime: "2s" },
    },
    models: [
      { name: "scale", versions: [{ version: "1", nodes: all }] },
      { name: "mlp", versions: [{ version: "1", nodes: all }] },
    ],
  };
}

const byNode = (stats: LoadStats, after: number) => {
  const m = new Map<string, number>();
  for (const c of stats.calls) if (c.ok && c.startedAt > after) m.set(c.node, (m.get(c.node) ?? 0) + 1);
  return m;
};

describe("failover driven by health probes", () => {
  let gw: GatewayFixture;

  before(async () => {
    gw = await startGateway({
      nodes: Object.keys(pools).map((name) => ({ name, args: NODE_ARGS, repositoryToken: REPOSITORY_TOKEN })),
      config: (nodes, port) => config(nodes, port),
      xdsEnv: { INFERENCEHUB_ADMIN_TOKEN: TOKEN },
    });
    await gw.xds.waitFor(
      (s) => Object.values(s.health ?? {}).every((m) => Object.values(m).every((h) => h === "HEALTHY")),
      "every node healthy",
    );
    await gw.xds.waitForSync("envoy-1");
  });
  after(() => gw?.stop());

  const healthOf = async (node: string, key: string) => (await gw.xds.status()).health?.[node]?.[key];

  test("a node unloads a model: its calls move away with zero failures; its other models stay", async () => {
    const scale = startLoad(gw.client(), { concurrency: 6, ...scaleCall });
    const mlp = startLoad(gw.client(), { concurrency: 3, ...mlpCall });
    await scale.more(200);
    const node = gw.nodes.get("gpu-1")!;
    const client = new GRPCInferenceServiceClient(node.address, credentials.createInsecure());
    const unloaded = grpcCall(
      client,
      "repositoryModelUnload",
      { repositoryName: "", modelName: "scale", parameters: {} },
      operator(),
    );
    await gw.xds.waitFor(
      (s) => s.health?.["gpu-1"]?.["scale/1"] === "UNHEALTHY",
      "scale/1 on gpu-1 to be UNHEALTHY",
    );
    await gw.xds.waitForSync("envoy-1");
    const moved = Date.now() + 200;
    await unloaded;
    client.close();
    await scale.more(300);
    const [s, m] = await Promise.all([scale.stop(), mlp.stop()]);
    assert.deepEqual(s.failures, [], "no scale call failed");
    assert.deepEqual(m.failures, [], "no mlp call failed");
    assert.equal(byNode(s, moved).get("gpu-1"), undefined, "scale left gpu-1");
    assert.ok((byNode(m, 0).get("gpu-1") ?? 0) > 0, "mlp still reaches gpu-1");
    assert.equal(await healthOf("gpu-1", "mlp/1"), "HEALTHY");
    // Load it back for the next tests.
    const again = new GRPCInferenceServiceClient(node.address, credentials.createInsecure());
    await grpcCall(
      again,
      "repositoryModelLoad",
      { repositoryName: "", modelName: "scale", parameters: {} },
      operator(),
    );
    again.close();
    await gw.xds.waitFor((st) => st.health?.["gpu-1"]?.["scale/1"] === "HEALTHY", "scale/1 back on gpu-1");
  });

  test("hubctl drain moves a node's traffic away with zero failures; undrain brings it back", async () => {
    const env = {
      ...process.env,
      INFERENCEHUB_ADMIN_TOKEN: TOKEN,
      INFERENCEHUB_SERVER: `http://127.0.0.1:${gw.xds.adminPort}`,
    };
    const hubctl = (...args: string[]) => run(`${repoRoot}/hubctl/bin/hubctl`, args, { env });
    const load = startLoad(gw.client(), { concurrency: 6, ...mlpCall });
    await load.more(150);
    await hubctl("drain", "gpu-2");
    await gw.xds.waitForSync("envoy-1");
    // Envoy's workers pick up an ACKed update a moment after its main thread: allow for that.
    const drained = Date.now() + 200;
    await load.more(600);
    const undraining = Date.now();
    await hubctl("undrain", "gpu-2");
    await gw.xds.waitForSync("envoy-1");
    const back = Date.now();
    await load.more(300);
    const stats = await load.stop();
    assert.deepEqual(stats.failures, []);
    const during = stats.calls.filter((c) => c.startedAt > drained && c.at < undraining);
    assert.ok(during.length > 100, `${during.length} calls while drained`);
    assert.deepEqual(
      during.filter((c) => c.node === "gpu-2").map((c) => c.startedAt - drained),
      [],
      "no call reached the drained node (ms after its drain was ACKed, plus the grace)",
    );
    assert.ok((byNode(stats, back).get("gpu-2") ?? 0) > 0, "undrained, it serves again");
    const { stdout } = await hubctl("status");
    assert.match(stdout, /OK: 1 client\(s\) in sync/);
  });

  test("a node shuts down gracefully under load: zero failed calls", async () => {
    const load = startLoad(gw.client(), { concurrency: 6, ...mlpCall });
    await load.more(200);
    const stopped = gw.nodes.get("gpu-2")!.stop("SIGTERM");
    await gw.xds.waitFor((s) => s.health?.["gpu-2"]?.["mlp/1"] === "DRAINING", "gpu-2 to be DRAINING");
    await stopped;
    await load.more(300);
    const stats = await load.stop();
    assert.deepEqual(stats.failures, [], "the node said it was going, and the gateway listened");
  });

  test("the whole preferred pool goes down: the next pool serves; traffic returns when it recovers", async (t) => {
    // gpu-2 is down since the previous test (stopping is idempotent, for a run of this test alone).
    await gw.nodes.get("gpu-2")!.stop();
    const load = startLoad(gw.client(), { concurrency: 6, ...mlpCall });
    t.after(() => load.stop());
    await load.more(100);
    const gpu1 = gw.nodes.get("gpu-1")!;
    const ports = { "gpu-1": gpu1.port, "gpu-2": gw.nodes.get("gpu-2")!.port };
    await gpu1.stop("SIGKILL");
    const downAt = Date.now();
    await gw.xds.waitFor((s) => s.health?.["gpu-1"]?.["mlp/1"] === "UNHEALTHY", "gpu-1 UNHEALTHY");
    await gw.xds.waitForSync("envoy-1");
    const failedOver = Date.now() + 200;
    await load.more(600);
    const restarting = Date.now();
    for (const [name, port] of Object.entries(ports))
      gw.nodes.set(name, await startNode({ name, port, args: NODE_ARGS, repositoryToken: REPOSITORY_TOKEN }));
    await gw.xds.waitFor(
      (s) => ["gpu-1", "gpu-2"].every((n) => s.health?.[n]?.["mlp/1"] === "HEALTHY"),
      "the gpu pool back",
    );
    await gw.xds.waitForSync("envoy-1");
    // A node just restarted may still be ejected by outlier detection for its base ejection time;
    // until then Envoy spills part of the pool's share over to cpu. Wait for traffic to settle.
    const deadline = Date.now() + 20_000;
    let settledAt = 0;
    while (Date.now() < deadline) {
      const mark = Date.now();
      await load.more(150);
      if (!load.calls.some((c) => c.startedAt > mark && c.node === "cpu-1")) {
        settledAt = mark;
        break;
      }
    }
    assert.ok(settledAt > 0, "traffic came back to the gpu pool");
    const stats = await load.stop();
    const during = stats.calls.filter((c) => c.startedAt > failedOver && c.at < restarting && c.ok);
    assert.ok(during.length > 100 && during.every((c) => c.node === "cpu-1"), "only the cpu pool served");
    const afterRecovery = byNode(stats, settledAt);
    assert.equal(afterRecovery.get("cpu-1"), undefined, "with the gpu pool healthy, cpu gets nothing");
    assert.ok((afterRecovery.get("gpu-1") ?? 0) + (afterRecovery.get("gpu-2") ?? 0) > 100);
    assert.ok(
      stats.failures.every((c) => c.startedAt <= downAt + 50),
      `failures only at the kill: ${JSON.stringify(stats.failures.slice(0, 2))}`,
    );
  });

  test("a node flapping every half second does not make the control plane push more often than its coalescing window", async () => {
    const pushes = async () =>
      metricValue(await gw.xds.metrics(), "inferencehub_xds_pushes_total", { kind: "endpoint" });
    const before = await pushes();
    const started = Date.now();
    const pid = gw.nodes.get("cpu-1")!.process.pid!;
    try {
      for (let i = 0; i < 8; i++) {
        process.kill(pid, i % 2 === 0 ? "SIGSTOP" : "SIGCONT");
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const elapsed = Date.now() - started;
    const pushed = (await pushes()) - before;
    // One Envoy: at most one endpoint push per 200 ms window, plus the one in flight.
    assert.ok(pushed <= Math.ceil(elapsed / 200) + 1, `${pushed} endpoint pushes in ${elapsed} ms`);
    await gw.xds.waitFor((s) => s.health?.["cpu-1"]?.["mlp/1"] === "HEALTHY", "cpu-1 healthy again");
  });
});
