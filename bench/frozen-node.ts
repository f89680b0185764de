/**
 * A frozen node (SIGSTOP: sockets open, calls never end) under 16 calls in flight, two nodes,
 * through a real Envoy steered by the control plane. Two configurations in the same run, each on a
 * fresh gateway: `before`, the settings of issue #10's finding (no expected latency, per-try
 * timeout 10 s, no hedging, probes timing out at 1 s), and `after` (expectedLatency 25 ms, hedging,
 * the default 250 ms probes). Prints, per configuration: calls/s in the 2 s before the freeze, in
 * the first second after it and over the 5 s after it, the longest time with no call completing,
 * failed calls, and when the control plane had the node out; then the ratios of the freeze's
 * throughput to the baseline's.
 *
 *   npx tsx bench/frozen-node.ts
 */
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type NodeEntry } from "../test/lib/gateway-fixture.js";
import { startLoad } from "../test/lib/load.js";
import { machineLine, printTable } from "./lib/xds-bench.js";

const CONCURRENCY = 16;
const BEFORE_MS = 2_000;
const AFTER_MS = 5_000;
const mlpCall = { request: fp32Request("mlp", MLP_SAMPLE_INPUT), metadata: { "inferencehub-model": "mlp" } };

interface Setup {
  name: string;
  model: object;
}

const setups: Setup[] = [
  {
    name: "the finding's settings (per-try 10 s, no hedge, 1 s probes)",
    model: { health: { timeout: "1s" }, retry: { perTryTimeout: "10s" } },
  },
  {
    name: "after (expectedLatency 25 ms, hedge)",
    model: {
      expectedLatency: "25ms",
      retry: { attempts: 4, hedge: true },
      circuitBreaker: { maxRetries: 64 },
    },
  },
];

const config = (setup: Setup) => (nodes: NodeEntry[], port: number) => ({
  listener: { address: "127.0.0.1", port },
  nodes,
  models: [{ name: "mlp", versions: [{ version: "1", nodes: nodes.map((n) => n.name) }], ...setup.model }],
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(setup: Setup): Promise<(string | number)[]> {
  const gw = await startGateway({
    nodes: ["node-a", "node-b"].map((name) => ({ name, models: ["mlp"], args: ["--infer-delay-ms", "5"] })),
    config: config(setup),
  });
  const frozen = gw.nodes.get("node-b")!;
  try {
    const load = startLoad(gw.client(), { concurrency: CONCURRENCY, ...mlpCall });
    await sleep(BEFORE_MS + 500);
    const frozenAt = Date.now();
    process.kill(frozen.process.pid!, "SIGSTOP");
    let outAfter = -1;
    void gw.xds
      .waitFor((s) => s.health?.["node-b"]?.["mlp/1"] === "UNHEALTHY", "node-b out", AFTER_MS + 10_000)
      .then(() => (outAfter = Date.now() - frozenAt))
      .catch(() => undefined);
    await sleep(AFTER_MS);
    process.kill(frozen.process.pid!, "SIGCONT");
    const stats = await load.stop();
    const done = stats.calls.filter((c) => c.ok).map((c) => c.at);
    const rate = (from: number, to: number) =>
      done.filter((at) => at > from && at <= to).length / ((to - from) / 1000);
    const baseline = rate(frozenAt - BEFORE_MS, frozenAt);
    const firstSecond = rate(frozenAt, frozenAt + 1_000);
    const freeze = rate(frozenAt, frozenAt + AFTER_MS);
    // From the freeze to the end of the run: a stall that lasts to the end counts whole.
    const inFreeze = done.filter((at) => at > frozenAt && at <= frozenAt + AFTER_MS).sort((a, b) => a - b);
    const marks = [frozenAt, ...inFreeze, frozenAt + AFTER_MS];
    let longestGap = 0;
    for (let i = 1; i < marks.length; i++) longestGap = Math.max(longestGap, marks[i]! - marks[i - 1]!);
    const failed = stats.failures.filter((c) => c.at > frozenAt - 50).length;
    return [
      setup.name,
      baseline.toFixed(0),
      firstSecond.toFixed(0),
      freeze.toFixed(0),
      (firstSecond / baseline).toFixed(2),
      (freeze / baseline).toFixed(2),
      longestGap,
      failed,
      outAfter < 0 ? "not within the run" : outAfter,
    ];
  } finally {
    process.kill(frozen.process.pid!, "SIGCONT");
    await gw.stop();
  }
}

async function main(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const setup of setups) {
    process.stderr.write(`[frozen-node] ${setup.name} ...\n`);
    rows.push(await measure(setup));
  }
  printTable(
    `A frozen node (SIGSTOP) of 2 under ${CONCURRENCY} calls in flight, mlp with 5 ms per call; ${machineLine()}`,
    [
      "settings",
      "calls/s before",
      "calls/s 1st s of freeze",
      `calls/s ${AFTER_MS / 1000} s of freeze`,
      "ratio 1st s",
      `ratio ${AFTER_MS / 1000} s`,
      "longest stall (ms)",
      "failed calls",
      "node out after (ms)",
    ],
    rows,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
