/**
 * Each SDK (#19) through the gateway against the stock client of its language, in the same run and
 * on the same stack (test/lib/sdk-stack.ts: real Envoy, ext-authz, reference nodes): ModelInfer on
 * `scale` version 1, one row and many rows, calls one after another (concurrency 1, the way a
 * script calls a model). Per language, the two clients alternate rounds so that a noisy machine
 * slows both alike; printed: p50, p99 and calls/s of each, and the SDK's ratio to its baseline.
 *
 * - TypeScript: @inferencehub/client against the generated grpc-js client (`gen/`) with the same
 *   raw request and headers, in this process.
 * - Python: `inferencehub.Client` against `tritonclient.grpc` (bench/sdk/python_bench.py, in
 *   .tools/sdk-python-venv).
 * - C#: `InferenceHubClient` (REST, binary tensors) against a hand-built HttpClient request of the
 *   same bytes (bench/sdk/CsharpBench.cs, built with mono's mcs): C# has no stock KServe client.
 *
 *   npx tsx bench/sdk-clients.ts          # 4 rounds x 300 calls per client and size
 *   BENCH_CALLS=1000 BENCH_ROUNDS=6 BENCH_ROWS=4096 BENCH_LANGS=ts,python npx tsx bench/sdk-clients.ts
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Metadata, credentials } from "@grpc/grpc-js";
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelInferResponse,
} from "../gen/inference/inference/grpc_service.js";
import { repoRoot, toolsDir } from "../scripts/lib/paths.js";
import { Client } from "../sdk/typescript/src/index.js";
import { startSdkStack } from "../test/lib/sdk-stack.js";
import { machineLine, percentile, printTable, progress } from "./lib/xds-bench.js";

const calls = Number(process.env.BENCH_CALLS ?? 300);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const bigRows = Number(process.env.BENCH_ROWS ?? 1024);
const langs = new Set((process.env.BENCH_LANGS ?? "ts,python,csharp").split(","));
const WIDTH = 4;

/** What every language's bench reports: one entry per client and size. */
export interface ClientFigures {
  size: string;
  client: string;
  baseline: boolean;
  latenciesMs: number[];
  wallMs: number;
}

const rowsOf = (n: number) => Float32Array.from({ length: n * WIDTH }, (_, i) => (i % 64) / 8);

async function measure(
  size: string,
  clients: { name: string; baseline: boolean; call: () => Promise<void> }[],
): Promise<ClientFigures[]> {
  const figures = new Map(
    clients.map((c) => [
      c.name,
      { size, client: c.name, baseline: c.baseline, latenciesMs: [] as number[], wallMs: 0 },
    ]),
  );
  for (const c of clients) for (let i = 0; i < 20; i++) await c.call(); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const c of r % 2 === 0 ? clients : [...clients].reverse()) {
      const f = figures.get(c.name)!;
      const started = performance.now();
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await c.call();
        f.latenciesMs.push(performance.now() - t);
      }
      f.wallMs += performance.now() - started;
    }
  }
  return [...figures.values()];
}

async function typescriptFigures(env: Record<string, string>): Promise<ClientFigures[]> {
  const target = env.INFERENCEHUB_TARGET ?? "";
  const sdk = new Client(target, { apiKey: env.INFERENCEHUB_API_KEY });
  const stock = new GRPCInferenceServiceClient(target, credentials.createInsecure());
  const out: ClientFigures[] = [];
  try {
    for (const [size, rows] of [
      ["1 row", 1],
      [`${bigRows} rows`, bigRows],
    ] as const) {
      const data = rowsOf(rows);
      const request: ModelInferRequest = {
        modelName: "scale",
        modelVersion: "1",
        id: "",
        parameters: {},
        inputs: [{ name: "input", datatype: "FP32", shape: [rows, WIDTH], parameters: {} }],
        outputs: [],
        rawInputContents: [Buffer.from(data.buffer, data.byteOffset, data.byteLength)],
      };
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${env.INFERENCEHUB_API_KEY}`);
      metadata.set("inferencehub-model", "scale");
      metadata.set("inferencehub-model-version", "1");
      progress(`TypeScript, ${size}`);
      out.push(
        ...(await measure(size, [
          {
            name: "grpc-js (generated client)",
            baseline: true,
            call: () =>
              new Promise<void>((resolve, reject) =>
                stock.modelInfer(request, metadata, (err: Error | null, res?: ModelInferResponse) =>
                  err
                    ? reject(err)
                    : res?.rawOutputContents.length === 1
                      ? resolve()
                      : reject(new Error("no output")),
                ),
              ),
          },
          {
            name: "@inferencehub/client",
            baseline: false,
            call: async () => {
              const r = await sdk.infer("scale", { input: { data, shape: [rows, WIDTH] } }, { version: "1" });
              if (r.output("output", "FP32").data.length !== data.length) throw new Error("wrong output");
            },
          },
        ])),
      );
    }
  } finally {
    sdk.close();
    stock.close();
  }
  return out;
}

/** Runs another language's bench, which prints its figures as JSON on stdout. */
async function childFigures(
  lang: string,
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<ClientFigures[]> {
  progress(`${lang}: ${command} ${args.join(" ")}`);
  const { stdout } = await promisify(execFile)(command, args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...env,
      BENCH_CALLS: String(calls),
      BENCH_ROUNDS: String(rounds),
      BENCH_ROWS: String(bigRows),
    },
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(stdout) as ClientFigures[];
}

function rows(lang: string, figures: ClientFigures[]): (string | number)[][] {
  const out: (string | number)[][] = [];
  for (const size of [...new Set(figures.map((f) => f.size))]) {
    const here = figures.filter((f) => f.size === size);
    const base = here.find((f) => f.baseline);
    for (const f of here) {
      const p50 = percentile(f.latenciesMs, 50);
      const p99 = percentile(f.latenciesMs, 99);
      const perSec = (f.latenciesMs.length / f.wallMs) * 1000;
      const vs = (x: number, y: number) => (base && base !== f ? (x / y).toFixed(2) : "");
      out.push([
        lang,
        size,
        f.client,
        p50.toFixed(3),
        p99.toFixed(3),
        perSec.toFixed(0),
        vs(p50, percentile(base?.latenciesMs ?? [], 50)),
        vs(p99, percentile(base?.latenciesMs ?? [], 99)),
        vs(perSec, ((base?.latenciesMs.length ?? 0) / (base?.wallMs ?? 1)) * 1000),
      ]);
    }
  }
  return out;
}

async function main(): Promise<void> {
  progress("starting the SDK stack (Envoy, ext-authz, control plane, nodes)");
  const stack = await startSdkStack();
  const table: (string | number)[][] = [];
  try {
    if (langs.has("ts")) table.push(...rows("TypeScript", await typescriptFigures(stack.env)));
    const python = join(toolsDir, "sdk-python-venv", "bin", "python");
    if (langs.has("python")) {
      if (!existsSync(python)) throw new Error(`${python} is missing: run bash scripts/setup.sh`);
      table.push(
        ...rows("Python", await childFigures("Python", python, ["bench/sdk/python_bench.py"], stack.env)),
      );
    }
    if (langs.has("csharp")) {
      const exe = await buildCsharpBench();
      table.push(...rows("C#", await childFigures("C#", "mono", [exe], stack.env)));
    }
  } finally {
    await stack.stop();
  }
  console.log(machineLine());
  printTable(
    `ModelInfer on scale v1 through the gateway, one call at a time, ${rounds} rounds x ${calls} calls per client and size`,
    [
      "SDK",
      "size",
      "client",
      "p50 ms",
      "p99 ms",
      "calls/s",
      "p50 / baseline",
      "p99 / baseline",
      "calls/s / baseline",
    ],
    table,
  );
}

/** Compiles bench/sdk/CsharpBench.cs against the built SDK (sdk/csharp/build.sh). */
async function buildCsharpBench(): Promise<string> {
  const run = promisify(execFile);
  progress("C#: building the SDK and the bench (mcs)");
  await run("bash", ["sdk/csharp/build.sh"], { cwd: repoRoot });
  const dll = join(repoRoot, "sdk", "csharp", "build", "InferenceHub.Client.dll");
  const exe = join(repoRoot, "sdk", "csharp", "build", "CsharpBench.exe");
  await run(
    "mcs",
    [
      "-nologo",
      "-optimize+",
      `-out:${exe}`,
      `-r:${dll}`,
      "-r:System.Net.Http",
      join(repoRoot, "bench", "sdk", "CsharpBench.cs"),
    ],
    { cwd: repoRoot },
  );
  return exe;
}

await main();
