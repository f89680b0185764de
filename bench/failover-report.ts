/**
 * Failover report: each fault, under a steady load from a real client through a real Envoy
 * steered by the control plane, on a fresh set of three nodes. Prints, per fault: calls that
 * failed, time until the node was out (as the control plane saw it), Envoy's retries, and the
 * throughput in the 2 s after the fault against the 2 s before it (the baseline).
 *
 *   npx tsx bench/failover-report.ts
 */
import { credentials, Metadata } from "@grpc/grpc-js";
import { GRPCInferenceServiceClient } from "../gen/inference/inference/grpc_service.js";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "../test/lib/gateway-fixture.js";
import { startLoad } from "../test/lib/load.js";
import { machineLine, printTable } from "./lib/xds-bench.js";

const CONCURRENCY = 12;
const NODE_ARGS = ["--infer-delay-ms", "2", "--drain-delay-ms", "1500"];
/** Repository calls on a node need the operator token. */
const REPOSITORY_TOKEN = "failover-report-repository-token";
const mlpCall = { request: fp32Request("mlp", MLP_SAMPLE_INPUT), metadata: { "inferencehub-model": "mlp" } };

interface Fault {
  name: string;
  /** Applies the fault to node-c; resolves once it is applied. */
  apply(gw: GatewayFixture): Promise<void>;
  /** The control plane's view of node-c's mlp once the node is out. */
  out: (health: string | undefined) => boolean;
}

const config = (nodes: NodeEntry[], port: number) => ({
  listener: { address: "127.0.0.1", port },
  nodes,
  defaults: {
    health: { interval: "250ms", timeout: "250ms", healthyThreshold: 1, unhealthyThreshold: 2, jitter: 0.1 },
    retry: {
      attempts: 3,
      perTryTimeout: "1s",
      on: ["connect-failure", "refused-stream", "reset-before-request"],
    },
  },
  models: [{ name: "mlp", versions: [{ version: "1", nodes: nodes.map((n) => n.name) }] }],
});

const faults: Fault[] = [
  { name: "kill -9", apply: (gw) => gw.nodes.get("node-c")!.stop("SIGKILL"), out: (h) => h === "UNHEALTHY" },
  {
    name: "SIGSTOP (hang)",
    apply: async (gw) => void process.kill(gw.nodes.get("node-c")!.process.pid!, "SIGSTOP"),
    out: (h) => h === "UNHEALTHY",
  },
  {
    name: "graceful shutdown",
    apply: async (gw) => void gw.nodes.get("node-c")!.stop("SIGTERM"),
    out: (h) => h === "DRAINING" || h === "UNHEALTHY",
  },
  {
    name: "model unload",
    apply: async (gw) => {
      const client = new GRPCInferenceServiceClient(
        gw.nodes.get("node-c")!.address,
        credentials.createInsecure(),
      );
      const operator = new Metadata();
      operator.set("x-inferencehub-repository-token", REPOSITORY_TOKEN);
      client.repositoryModelUnload({ repositoryName: "", modelName: "mlp", parameters: {} }, operator, () =>
        client.close(),
      );
    },
    out: (h) => h === "UNHEALTHY",
  },
  {
    name: "drain (config edit)",
    apply: async (gw) => {
      const entries = gw.nodeEntries().map((n) => (n.name === "node-c" ? { ...n, drain: true } : n));
      await gw.applyConfig(config(entries, gw.listenPort));
    },
    // Drained by the config, not by probes: out once published (the sync is awaited below).
    out: () => true,
  },
];

async function measure(fault: Fault): Promise<(string | number)[]> {
  const gw = await startGateway({
    nodes: ["node-a", "node-b", "node-c"].map((name) => ({
      name,
      models: ["mlp"],
      args: NODE_ARGS,
      repositoryToken: REPOSITORY_TOKEN,
    })),
    config,
  });
  try {
    await gw.xds.waitFor((s) => s.health?.["node-c"]?.["mlp/1"] === "HEALTHY", "node-c healthy");
    const envoy = gw.envoys[0]!;
    const retries = async () => (await envoy.stats())["cluster.mlp~1.upstream_rq_retry"] ?? 0;
    const load = startLoad(gw.client(), { concurrency: CONCURRENCY, ...mlpCall });
    await new Promise((r) => setTimeout(r, 2000));
    const retriesBefore = await retries();
    const faultAt = Date.now();
    await fault.apply(gw);
    await gw.xds.waitFor((s) => fault.out(s.health?.["node-c"]?.["mlp/1"]), "node-c out");
    await gw.xds.waitForSync("envoy-1");
    const outAfter = Date.now() - faultAt;
    await new Promise((r) => setTimeout(r, 2000));
    const stats = await load.stop();
    if (fault.name.startsWith("SIGSTOP")) process.kill(gw.nodes.get("node-c")!.process.pid!, "SIGCONT");
    const rate = (from: number, to: number) =>
      stats.calls.filter((c) => c.ok && c.at > from && c.at <= to).length / ((to - from) / 1000);
    const before = rate(faultAt - 2000, faultAt);
    const afterRate = rate(faultAt, faultAt + 2000);
    return [
      fault.name,
      stats.failures.length,
      outAfter,
      (await retries()) - retriesBefore,
      before.toFixed(0),
      afterRate.toFixed(0),
      (afterRate / before).toFixed(2),
    ];
  } finally {
    await gw.stop();
  }
}

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const fault of faults) {
    process.stderr.write(`[failover] ${fault.name} ...\n`);
    rows.push(await measure(fault));
  }
  printTable(
    `Failover under load: 3 nodes, ${CONCURRENCY} calls in flight, mlp with 2 ms added per call; ${machineLine()}`,
    [
      "fault on 1 of 3 nodes",
      "failed calls",
      "out of Envoy's rotation after (ms)",
      "Envoy retries",
      "calls/s before",
      "calls/s 2 s after",
      "ratio",
    ],
    rows,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
