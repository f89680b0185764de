/**
 * ghz, the gRPC load generator, installed with `go install` into the project's .tools/ folder
 * (the Go module proxy is a package registry, so a fresh machine can get it).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot, toolsDir } from "../../scripts/lib/paths.js";

const run = promisify(execFile);
const GHZ_MODULE = "github.com/bojand/ghz/cmd/ghz@v0.120.0";

export async function ensureGhz(log: (msg: string) => void = console.error): Promise<string> {
  const bin = join(toolsDir, "go/bin/ghz");
  if (existsSync(bin)) return bin;
  log(`installing ghz (go install ${GHZ_MODULE}) into ${bin}; this takes a minute the first time`);
  try {
    await run("go", ["install", GHZ_MODULE], { env: { ...process.env, GOBIN: join(toolsDir, "go/bin") } });
  } catch (err) {
    throw new Error(
      `could not install ghz: ${(err as Error).message}\nInstall Go 1.21+ (https://go.dev/dl) and run again.`,
    );
  }
  return bin;
}

export interface GhzRun {
  target: string;
  /** Calls in total, after the warm-up. */
  total: number;
  concurrency: number;
  /** JSON request body for ModelInfer (proto3 JSON). */
  data: unknown;
  metadata?: Record<string, string>;
}

export interface GhzResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  count: number;
}

interface GhzReport {
  rps: number;
  count: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution?: Record<string, number>;
}

export async function runGhz(bin: string, spec: GhzRun): Promise<GhzResult> {
  const args = [
    "--insecure",
    "--proto",
    join(repoRoot, "proto/inference/grpc_service.proto"),
    "--import-paths",
    join(repoRoot, "proto"),
    "--call",
    "inference.GRPCInferenceService.ModelInfer",
    "--data",
    JSON.stringify(spec.data),
    "--total",
    String(spec.total),
    "--concurrency",
    String(spec.concurrency),
    "--connections",
    "1",
    "--format",
    "json",
    ...(spec.metadata ? ["--metadata", JSON.stringify(spec.metadata)] : []),
    spec.target,
  ];
  const { stdout } = await run(bin, args, { maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout) as GhzReport;
  const pct = (p: number) =>
    (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  const codes = report.statusCodeDistribution ?? {};
  return {
    rps: report.rps,
    p50Ms: pct(50),
    p99Ms: pct(99),
    errors: Object.entries(codes)
      .filter(([code]) => code !== "OK")
      .reduce((n, [, c]) => n + c, 0),
    count: report.count,
  };
}
