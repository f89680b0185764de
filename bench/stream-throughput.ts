/**
 * ModelStreamInfer through the gateway against straight to the node, in alternating rounds of the
 * same run: one reference node serving `mlp`, one real Envoy steered by the control plane. Each
 * round opens STREAMS streams and sends MESSAGES requests on each, WINDOW in flight per stream;
 * it prints messages per second and the p50/p99 time from a request to its answer, and the ratios.
 *
 *   npx tsx bench/stream-throughput.ts
 *   BENCH_STREAMS=8 BENCH_MESSAGES=2000 BENCH_ROUNDS=6 npx tsx bench/stream-throughput.ts
 */
import { createInferClient, type InferClient } from "../scripts/lib/infer-client.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway } from "../test/lib/gateway-fixture.js";
import { openStream } from "../test/lib/stream-client.js";
import { machineLine, percentile, printTable } from "./lib/xds-bench.js";

const streams = Number(process.env.BENCH_STREAMS ?? 4);
const messages = Number(process.env.BENCH_MESSAGES ?? 1000);
const window = Number(process.env.BENCH_WINDOW ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const request = fp32Request("mlp", MLP_SAMPLE_INPUT);

interface Sample {
  seconds: number;
  latencies: number[];
}

/** One round on one path: every stream sends `messages`, keeping `window` unanswered. */
async function round(client: InferClient, metadata: Record<string, string>): Promise<Sample> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      const stream = openStream(client.raw, { metadata, deadlineMs: 120_000 });
      const sentAt: number[] = [];
      const send = () => {
        sentAt.push(performance.now());
        stream.send(request);
      };
      for (let i = 0; i < Math.min(window, messages); i++) send();
      for (let answered = 0; answered < messages; answered++) {
        const answer = await stream.next();
        if (answer.errorMessage) throw new Error(`stream error: ${answer.errorMessage}`);
        latencies.push(performance.now() - (sentAt[answered] ?? 0));
        if (sentAt.length < messages) send();
      }
      stream.end();
      await stream.status;
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies };
}

async function main(): Promise<void> {
  const gw = await startGateway({
    nodes: [{ name: "node-a", models: ["mlp"] }],
    config: (nodes, port) => ({
      listener: { address: "127.0.0.1", port },
      nodes,
      models: [{ name: "mlp", versions: [{ version: "1", nodes: ["node-a"] }] }],
    }),
  });
  const direct = createInferClient(gw.nodes.get("node-a")!.address);
  const viaEnvoy = gw.client();
  const paths: { name: string; client: InferClient; metadata: Record<string, string> }[] = [
    { name: "direct to the node", client: direct, metadata: {} },
    { name: "through Envoy", client: viaEnvoy, metadata: { "inferencehub-model": "mlp" } },
  ];
  try {
    for (const p of paths) await round(p.client, p.metadata); // warm-up
    const samples = new Map<string, Sample[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`[stream-throughput] round ${r + 1}/${rounds}\n`);
      for (const p of r % 2 === 0 ? paths : [...paths].reverse())
        samples.get(p.name)!.push(await round(p.client, p.metadata));
    }
    const summary = paths.map((p) => {
      const s = samples.get(p.name)!;
      const total = s.reduce((a, x) => a + x.latencies.length, 0);
      const seconds = s.reduce((a, x) => a + x.seconds, 0);
      const all = s.flatMap((x) => x.latencies);
      return {
        name: p.name,
        rate: total / seconds,
        p50: percentile(all, 50),
        p99: percentile(all, 99),
        total,
      };
    });
    const [d, e] = summary;
    printTable(
      `ModelStreamInfer, ${streams} streams × ${messages} messages, ${window} in flight per stream, ${rounds} rounds; ${machineLine()}`,
      ["path", "messages/s", "p50 ms", "p99 ms", "messages"],
      [
        ...summary.map((x) => [x.name, x.rate.toFixed(0), x.p50.toFixed(3), x.p99.toFixed(3), x.total]),
        [
          "ratio Envoy/direct",
          (e!.rate / d!.rate).toFixed(2),
          (e!.p50 / d!.p50).toFixed(2),
          (e!.p99 / d!.p99).toFixed(2),
          "",
        ],
      ],
    );
  } finally {
    direct.close();
    await gw.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
