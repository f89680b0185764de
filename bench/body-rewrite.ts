/**
 * What the body rewrite for stock servers costs a ModelInfer call. One Envoy, two reference nodes
 * serving `scale`: version 1 on a node that reads the gateway's header (no rewrite, the baseline),
 * version 2 on a node started with `--version-from body` and configured `versionFrom: body` (Envoy's
 * Lua upstream filter buffers the request and writes model_version). Calls pinned to each version
 * alternate in rounds of the same run, for a small request (1 row) and a 64 KiB one (4,096 rows).
 *
 *   npx tsx bench/body-rewrite.ts                 # 4 rounds x 1,000 calls per path and size, 8 in flight
 *   BENCH_CALLS=3000 BENCH_ROUNDS=6 npx tsx bench/body-rewrite.ts
 */
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway } from "../test/lib/gateway-fixture.js";
import { machineLine, percentile, printTable } from "./lib/xds-bench.js";

const calls = Number(process.env.BENCH_CALLS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

const sizes = [
  { name: "1 row (16 B of data)", rows: 1 },
  { name: "4,096 rows (64 KiB)", rows: 4096 },
];
const paths = [
  { name: "header (no rewrite)", version: "1" },
  { name: "body rewrite (Lua)", version: "2" },
];

async function main(): Promise<void> {
  const gw = await startGateway({
    nodes: [
      { name: "reads-header", models: ["scale"] },
      { name: "reads-body", models: ["scale"], args: ["--version-from", "body"] },
    ],
    config: (nodes, port) => ({
      listener: { address: "127.0.0.1", port },
      nodes: nodes.map((n) => (n.name === "reads-body" ? { ...n, versionFrom: "body" } : n)),
      models: [
        {
          name: "scale",
          versions: [
            { version: "1", weight: 100, nodes: ["reads-header"] },
            { version: "2", weight: 0, nodes: ["reads-body"] },
          ],
        },
      ],
    }),
  });
  try {
    const client = gw.client();
    const latencies = new Map<string, number[]>();
    const run = async (size: (typeof sizes)[number], path: (typeof paths)[number]) => {
      const input = Array.from({ length: size.rows }, (_, i) => [i, i + 1, i + 2, i + 3]);
      const request = fp32Request("scale", input);
      const metadata = { "inferencehub-model": "scale", "inferencehub-model-version": path.version };
      const key = `${size.name}|${path.name}`;
      const out = latencies.get(key) ?? [];
      latencies.set(key, out);
      let sent = 0;
      const worker = async () => {
        while (sent < calls) {
          sent++;
          const start = performance.now();
          const { response } = await client.infer(request, { metadata });
          out.push(performance.now() - start);
          if (response.modelVersion !== path.version)
            throw new Error(`version ${response.modelVersion} answered`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    };
    for (const size of sizes) for (const path of paths) await run(size, path); // warm-up
    latencies.clear();
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`[body-rewrite] round ${r + 1}/${rounds}\n`);
      for (const size of sizes)
        for (const path of r % 2 === 0 ? paths : [...paths].reverse()) await run(size, path);
    }
    const rows: (string | number)[][] = [];
    for (const size of sizes) {
      const [base, rewrite] = paths.map((p) => latencies.get(`${size.name}|${p.name}`) ?? []);
      for (const [path, xs] of [
        [paths[0]!.name, base!],
        [paths[1]!.name, rewrite!],
      ] as const) {
        rows.push([size.name, path, percentile(xs, 50).toFixed(3), percentile(xs, 99).toFixed(3), xs.length]);
      }
      rows.push([
        size.name,
        "ratio rewrite/header",
        (percentile(rewrite!, 50) / percentile(base!, 50)).toFixed(2),
        (percentile(rewrite!, 99) / percentile(base!, 99)).toFixed(2),
        "",
      ]);
    }
    printTable(
      `ModelInfer pinned through Envoy, with and without the body rewrite, ${concurrency} in flight, ${rounds} rounds; ${machineLine()}`,
      ["request", "path", "p50 ms", "p99 ms", "calls"],
      rows,
    );
  } finally {
    await gw.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
