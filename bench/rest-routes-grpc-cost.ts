/**
 * What the REST routes cost gRPC calls (#15). A model whose nodes serve REST has its REST routes
 * (a dozen regex matches on the path) before its gRPC routes in its route configuration, so
 * every gRPC call of that model passes them first. Baseline: the same gRPC calls (with the model
 * header, one row, 8 in flight) to the same node when no node of the model declares a restPort
 * (two REST routes then). The two configs alternate in rounds of one run, each applied and ACKed
 * by Envoy before its round.
 *
 *   npx tsx bench/rest-routes-grpc-cost.ts
 *   BENCH_CALLS=4000 BENCH_ROUNDS=6 npx tsx bench/rest-routes-grpc-cost.ts
 */
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type NodeEntry } from "../test/lib/gateway-fixture.js";
import { machineLine, percentile, printTable } from "./lib/xds-bench.js";

const calls = Number(process.env.BENCH_CALLS ?? 2000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

const config = (nodes: NodeEntry[], port: number, rest: boolean) => ({
  listener: { address: "127.0.0.1", port },
  nodes: nodes.map(({ restPort, ...node }) => (rest ? { ...node, restPort } : node)),
  models: [
    {
      name: "scale",
      versions: [
        { version: "1", weight: 50, nodes: ["node-1"] },
        { version: "2", weight: 50, nodes: ["node-1"] },
      ],
    },
  ],
});

const gw = await startGateway({
  nodes: [{ name: "node-1", models: ["scale"], httpPort: 0 }],
  config: (nodes, port) => config(nodes, port, false),
});
try {
  const client = gw.client();
  const request = fp32Request("scale", [[1, 2, 3, 4]]);
  const metadata = { "inferencehub-model": "scale" };
  const variants = [
    { name: "gRPC, model without REST routes", rest: false },
    { name: "gRPC, model with REST routes", rest: true },
  ];
  const latencies = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const run = async (n: number, out?: number[]) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (sent < n) {
          sent++;
          const start = performance.now();
          await client.infer(request, { metadata });
          out?.push(performance.now() - start);
        }
      }),
    );
  };
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`[rest-routes-grpc-cost] round ${r + 1}/${rounds}\n`);
    for (const variant of r % 2 === 0 ? variants : [...variants].reverse()) {
      await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, variant.rest));
      await run(200);
      await run(calls, latencies.get(variant.name));
    }
  }
  const [base, other] = variants.map((v) => latencies.get(v.name) ?? []);
  const row = (name: string, xs: number[]) => [
    name,
    percentile(xs, 50).toFixed(3),
    percentile(xs, 99).toFixed(3),
  ];
  printTable(
    `REST routes before a model's gRPC routes: gRPC calls, ${concurrency} in flight, ${rounds} rounds x ${calls} calls (${machineLine()})`,
    ["path", "p50 ms", "p99 ms"],
    [
      row(variants[0]!.name, base!),
      row(variants[1]!.name, other!),
      [
        "ratio with / without",
        (percentile(other!, 50) / percentile(base!, 50)).toFixed(2),
        (percentile(other!, 99) / percentile(base!, 99)).toFixed(2),
      ],
    ],
  );
} finally {
  await gw.stop();
}
