/**
 * What routing by the first message costs a call that comes without the model header (stock
 * clients): Envoy's gRPC field extraction holds the call until its first message is whole, and a
 * Lua filter sets the model header and has the route chosen again (model-from-first-message). The
 * baseline is the same call with the `inferencehub-model` header. One Envoy (ext-authz off, so the
 * unary calls take this path too), one reference node serving `scale`; the two kinds of call
 * alternate in rounds of the same run, for a one-row request, a 64 KiB one and a 512 KiB one.
 *
 *   npx tsx bench/first-message-routing.ts      # 4 rounds x 1,000 calls per path and size, 8 in flight
 *   BENCH_CALLS=3000 BENCH_ROUNDS=6 npx tsx bench/first-message-routing.ts
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
  { name: "32,768 rows (512 KiB)", rows: 32768 },
].map((size) => ({
  ...size,
  request: fp32Request(
    "scale",
    Array.from({ length: size.rows }, (_, i) => [i, i + 1, i + 2, i + 3]),
  ),
}));

async function main(): Promise<void> {
  const gw = await startGateway({
    nodes: [{ name: "node-1", models: ["scale"] }],
    config: (nodes, port) => ({
      listener: { address: "127.0.0.1", port },
      nodes,
      models: [{ name: "scale", versions: [{ version: "1", nodes: ["node-1"] }] }],
    }),
  });
  try {
    const client = gw.client();
    const path = (name: string, metadata: Record<string, string>) => ({
      name,
      call: async (size: (typeof sizes)[number]) => {
        const { response } = await client.infer(size.request, { metadata });
        if (response.modelVersion !== "1") throw new Error(`version ${response.modelVersion} answered`);
      },
    });
    const rows = await latencyRounds({
      label: "first-message-routing",
      sizes,
      paths: [path("model header", { "inferencehub-model": "scale" }), path("first message", {})],
      calls,
      rounds,
      concurrency,
    });
    printTable(
      `ModelInfer through Envoy, routed by the model header or by the first message, ${concurrency} in flight, ${rounds} rounds; ${machineLine()}`,
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
