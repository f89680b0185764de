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
import { latencyRounds } from "./lib/latency-rounds.js";
import { machineLine, printTable } from "./lib/xds-bench.js";

const calls = Number(process.env.BENCH_CALLS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

const sizes = [
  { name: "1 row (16 B of data)", rows: 1 },
  { name: "4,096 rows (64 KiB)", rows: 4096 },
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
    const requests = new Map(
      sizes.map((size) => [
        size,
        fp32Request(
          "scale",
          Array.from({ length: size.rows }, (_, i) => [i, i + 1, i + 2, i + 3]),
        ),
      ]),
    );
    const pinned = (name: string, version: string) => ({
      name,
      call: async (size: (typeof sizes)[number]) => {
        const metadata = { "inferencehub-model": "scale", "inferencehub-model-version": version };
        const { response } = await client.infer(requests.get(size)!, { metadata });
        if (response.modelVersion !== version) throw new Error(`version ${response.modelVersion} answered`);
      },
    });
    const rows = await latencyRounds({
      label: "body-rewrite",
      sizes,
      paths: [pinned("header (no rewrite)", "1"), pinned("body rewrite (Lua)", "2")],
      calls,
      rounds,
      concurrency,
    });
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
