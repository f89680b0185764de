/**
 * The unauthenticated health-stream flood of issue #10 (finding 1): 12 connections × 100
 * grpc.health.v1 Watch streams with the header `inferencehub-model: mlp` and no credentials,
 * each re-opened a second after it ends, against a real Envoy with ext-authz in front of one node. Prints
 * authenticated ModelInfer calls/s in the 3 s before the flood (the baseline) and during 3 s of it,
 * their ratio, failed authenticated calls, and how the Watch streams ended.
 *
 *   npx tsx bench/health-flood.ts
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { stringify } from "yaml";
import { HealthClient } from "../gen/inference/grpc/health/v1/health.js";
import { hashApiKey } from "../ext-authz/src/index.js";
import { startExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { toMetadata } from "../scripts/lib/infer-client.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway } from "../test/lib/gateway-fixture.js";
import { startLoad } from "../test/lib/load.js";
import { machineLine, printTable } from "./lib/xds-bench.js";

const CONNECTIONS = 12;
const STREAMS_PER_CONNECTION = 100;
const WINDOW_MS = 3_000;
const REOPEN_MS = 1_000;
const apiKey = "ihk_bench";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const extAuthzPort = await freePort();
  const gw = await startGateway({
    nodes: [{ name: "node-a", models: ["mlp"] }],
    config: (nodes, port) => ({
      listener: { address: "127.0.0.1", port },
      nodes,
      models: [{ name: "mlp", versions: [{ version: "1", nodes: ["node-a"] }] }],
      auth: {
        extAuthz: { address: `127.0.0.1:${extAuthzPort}` },
        keysFile: "keys.yaml",
        tenants: [{ name: "bench", models: ["mlp"] }],
      },
    }),
  });
  await writeFile(
    join(gw.dir, "keys.yaml"),
    stringify({ keys: [{ id: "bench", tenant: "bench", sha256: hashApiKey(apiKey) }] }),
  );
  const authz = await startExtAuthzProcess({ configPath: gw.configPath, port: extAuthzPort });
  const flooders: HealthClient[] = [];
  const endings = new Map<string, number>();
  let flooding = true;
  try {
    const load = startLoad(gw.client(), {
      concurrency: 8,
      request: fp32Request("mlp", MLP_SAMPLE_INPUT),
      metadata: { "inferencehub-model": "mlp", authorization: `Bearer ${apiKey}` },
    });
    await sleep(500);
    const baselineFrom = Date.now();
    await sleep(WINDOW_MS);
    const floodFrom = Date.now();
    const watch = (client: HealthClient): void => {
      if (!flooding) return;
      const stream = client.watch({ service: "" }, toMetadata({ "inferencehub-model": "mlp" }));
      let done = false;
      // Each slot opens its stream again a second after it ends, as a prober that retries would:
      // 1,200 streams a second, held as long as the gateway lets them be held.
      const ended = (how: string) => {
        if (done) return;
        done = true;
        endings.set(how, (endings.get(how) ?? 0) + 1);
        setTimeout(() => watch(client), REOPEN_MS);
      };
      stream.on("data", () => undefined);
      stream.on("error", (err: ServiceError) => ended(`error ${status[err.code]}`));
      stream.on("end", () => ended("end"));
    };
    for (let c = 0; c < CONNECTIONS; c++) {
      // Distinct channel options give each client its own connection.
      const client = new HealthClient(`127.0.0.1:${gw.listenPort}`, credentials.createInsecure(), {
        "grpc.inferencehub.flooder": c,
      });
      flooders.push(client);
      for (let s = 0; s < STREAMS_PER_CONNECTION; s++) watch(client);
    }
    await sleep(WINDOW_MS);
    const floodTo = Date.now();
    flooding = false;
    const stats = await load.stop();
    const ok = (from: number, to: number) =>
      stats.calls.filter((c) => c.ok && c.at > from && c.at <= to).length / ((to - from) / 1000);
    const before = ok(baselineFrom, floodFrom);
    const during = ok(floodFrom, floodTo);
    const failed = stats.failures.filter((c) => c.at > floodFrom).length;
    printTable(
      `Authenticated ModelInfer (8 in flight) under ${CONNECTIONS} × ${STREAMS_PER_CONNECTION} unauthenticated Watch streams; ${machineLine()}`,
      [
        "calls/s before",
        "calls/s during the flood",
        "ratio",
        "failed authenticated calls",
        "Watch streams ended",
      ],
      [
        [
          before.toFixed(0),
          during.toFixed(0),
          (during / before).toFixed(2),
          failed,
          [...endings].map(([how, n]) => `${n} × ${how}`).join(", "),
        ],
      ],
    );
  } finally {
    flooding = false;
    for (const client of flooders) client.close();
    await authz.stop();
    await gw.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
