/**
 * What the REST index's gRPC-JSON transcoder (#19, translate/filters/rest-index.ts) costs the calls
 * it does not transcode: one gateway (a real Envoy, the control plane, one reference node), the
 * same ModelInfer on `scale` version 1 (one row, the model header set) one call at a time, with the
 * config alternating between no `controlPlane.address` (no transcoder in Envoy's chain) and one
 * (the transcoder in the chain), in alternating rounds after 50 warm-up calls each. Prints p50
 * and p99 of each and the ratio with / without.
 *
 *   npx tsx bench/rest-index-transcoder.ts          # 6 rounds x 500 calls; about 30 s
 *   BENCH_ROUNDS=10 BENCH_CALLS=1000 npx tsx bench/rest-index-transcoder.ts
 */
import { Metadata, credentials } from "@grpc/grpc-js";
import { modelHeader } from "@inferencehub/contracts/headers";
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
} from "../gen/inference/inference/grpc_service.js";
import { gatewayConfig } from "../test/lib/configs.js";
import { startGateway, type NodeEntry } from "../test/lib/gateway-fixture.js";
import { machineLine, percentile, printTable, progress } from "./lib/xds-bench.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 6);
const calls = Number(process.env.BENCH_CALLS ?? 500);

const models = [{ name: "scale", versions: [{ version: "1", nodes: ["node-a"] }] }];
const config = (nodes: NodeEntry[], port: number, controlPlane?: string) =>
  gatewayConfig(nodes, port, models, controlPlane ? { controlPlane: { address: controlPlane } } : {});

const request: ModelInferRequest = {
  modelName: "scale",
  modelVersion: "1",
  id: "",
  parameters: {},
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: {} }],
  outputs: [],
  rawInputContents: [Buffer.from(Float32Array.of(1, 2, 3, 4).buffer)],
};

async function main(): Promise<void> {
  progress("starting a gateway (Envoy, control plane, one node)");
  const gw = await startGateway({ nodes: [{ name: "node-a", models: ["scale"] }], config });
  const client = new GRPCInferenceServiceClient(`127.0.0.1:${gw.listenPort}`, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set(modelHeader, "scale");
  const call = () =>
    new Promise<void>((resolve, reject) =>
      client.modelInfer(request, metadata, (err) => (err ? reject(err) : resolve())),
    );
  const paths = [
    { name: "no controlPlane (no transcoder)", controlPlane: undefined, latencies: [] as number[] },
    {
      name: "controlPlane set (transcoder in the chain)",
      controlPlane: `127.0.0.1:${gw.xds.adsPort}`,
      latencies: [] as number[],
    },
  ];
  try {
    for (let r = 0; r < rounds; r++) {
      progress(`round ${r + 1}/${rounds}`);
      for (const path of r % 2 === 0 ? paths : [...paths].reverse()) {
        await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, path.controlPlane));
        for (let i = 0; i < 50; i++) await call();
        for (let i = 0; i < calls; i++) {
          const started = performance.now();
          await call();
          path.latencies.push(performance.now() - started);
        }
      }
    }
  } finally {
    client.close();
    await gw.stop();
  }
  const [without, withIt] = paths.map((p) => p.latencies) as [number[], number[]];
  console.log(machineLine());
  printTable(
    `ModelInfer through Envoy with and without the REST index's transcoder, ${rounds} rounds x ${calls} calls`,
    ["chain", "p50 ms", "p99 ms"],
    [
      ...paths.map((p) => [
        p.name,
        percentile(p.latencies, 50).toFixed(3),
        percentile(p.latencies, 99).toFixed(3),
      ]),
      [
        "ratio with / without",
        (percentile(withIt, 50) / percentile(without, 50)).toFixed(2),
        (percentile(withIt, 99) / percentile(without, 99)).toFixed(2),
      ],
    ],
  );
}

await main();
