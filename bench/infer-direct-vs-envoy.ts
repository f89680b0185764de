/**
 * ModelInfer latency and throughput on one reference node, called directly and through a real
 * Envoy, in the same run, with ghz. Prints p50, p99 and calls/s for both and their ratios
 * (gateway / direct); the ratios are what to compare across machines.
 *
 *   npm run bench:infer                  # defaults: 4 rounds of 3000 calls, 16 in flight
 *   BENCH_CALLS=10000 BENCH_CONCURRENCY=32 npm run bench:infer
 */
import { renderBootstrap, startEnvoy } from "../scripts/lib/envoy-process.js";
import { startNode } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { ensureGhz, runGhz, type GhzResult } from "./lib/ghz.js";

const calls = Number(process.env.BENCH_CALLS ?? 3000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);

const data = {
  model_name: "mlp",
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }],
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const ghz = await ensureGhz();
  const node = await startNode({ name: "bench-node", models: ["mlp"], args: ["--max-queue", "1024"] });
  const listenPort = await freePort();
  const envoy = await startEnvoy({
    name: "bench",
    bootstrap: renderBootstrap("static-two-nodes.template.yaml", {
      ADMIN_PORT: 0,
      LISTEN_PORT: listenPort,
      NODE1_PORT: node.port,
      NODE2_PORT: node.port,
    }),
  });
  const targets = { direct: node.address, envoy: `127.0.0.1:${listenPort}` } as const;
  const results: Record<keyof typeof targets, GhzResult[]> = { direct: [], envoy: [] };
  try {
    for (const target of Object.values(targets)) {
      await runGhz(ghz, { target, total: 500, concurrency, data, metadata: { "inferencehub-model": "mlp" } });
    }
    // Interleaved rounds, so drift on a shared machine hits both paths alike.
    for (let r = 0; r < rounds; r++) {
      for (const [name, target] of Object.entries(targets) as [keyof typeof targets, string][]) {
        const res = await runGhz(ghz, {
          target,
          total: calls,
          concurrency,
          data,
          metadata: { "inferencehub-model": "mlp" },
        });
        results[name].push(res);
        console.error(
          `round ${r + 1}/${rounds} ${name.padEnd(6)} p50 ${res.p50Ms.toFixed(3)} ms  p99 ${res.p99Ms.toFixed(3)} ms  ${res.rps.toFixed(0)} calls/s  errors ${res.errors}`,
        );
      }
    }
  } finally {
    await envoy.stop();
    await node.stop();
  }
  const summary = (name: keyof typeof targets) => ({
    p50: median(results[name].map((r) => r.p50Ms)),
    p99: median(results[name].map((r) => r.p99Ms)),
    rps: median(results[name].map((r) => r.rps)),
    errors: results[name].reduce((n, r) => n + r.errors, 0),
  });
  const d = summary("direct");
  const e = summary("envoy");
  console.log(
    `\nModelInfer mlp [1,4] FP32, ${rounds} rounds x ${calls} calls, ${concurrency} in flight, medians of rounds`,
  );
  console.log("| path | p50 ms | p99 ms | calls/s | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(`| direct | ${d.p50.toFixed(3)} | ${d.p99.toFixed(3)} | ${d.rps.toFixed(0)} | ${d.errors} |`);
  console.log(`| envoy | ${e.p50.toFixed(3)} | ${e.p99.toFixed(3)} | ${e.rps.toFixed(0)} | ${e.errors} |`);
  console.log(
    `| ratio envoy/direct | ${(e.p50 / d.p50).toFixed(2)} | ${(e.p99 / d.p99).toFixed(2)} | ${(e.rps / d.rps).toFixed(2)} | |`,
  );
  if (d.errors + e.errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
