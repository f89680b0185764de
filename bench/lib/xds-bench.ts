/**
 * Shared pieces of the control-plane benchmarks (bench/xds-*.ts): statistics, Markdown tables,
 * generated N-model configs, config files replaced by rename as editors save them, and what
 * /proc and the control plane's Prometheus text say about a process.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { formatErrors, parseConfig, type Config } from "@inferencehub/contracts/config";
import type { EnvoyProcess } from "../../scripts/lib/envoy-process.js";
import { metricValue } from "../../scripts/lib/node-process.js";
import { ingressRouteConfigName } from "../../xds-server/src/translate/index.js";

// ---------------------------------------------------------------------------------------------
// Statistics

/** The p-th percentile (0..100) by linear interpolation between the closest ranks. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

export const now = (): number => performance.now();

/** Wall-clock and CPU time (this process, all threads: GC helpers included) of one call, in ms. */
export function timed<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const value = fn();
  const wallMs = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Output

export const ms = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
export const ratio = (a: number, b: number, digits = 2): string =>
  Number.isFinite(a / b) ? (a / b).toFixed(digits) : "n/a";

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/**
 * A Markdown table, ready to paste into bench/README.md. The first column is left-aligned, the
 * others right-aligned (numbers).
 */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const lines = [
    `| ${headers.join(" | ")} |`,
    `| ${headers.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(String).join(" | ")} |`),
  ];
  return lines.join("\n");
}

export function printTable(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): void {
  console.log(`\n${title}\n\n${table(headers, rows)}`);
}

/** "K=V K2=V2" (e.g. BENCH_XDS_ENV) as an environment to add to a process's. */
export function envFromText(text: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (text ?? "")
      .split(/\s+/)
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

/** Progress goes to stderr, so stdout holds only the figures. */
export const progress = (msg: string): void => {
  console.error(`[${new Date().toISOString().slice(11, 23)}] ${msg}`);
};

/** The date and machine line every benchmark prints above its tables. */
export function machineLine(): string {
  let cpu = "unknown CPU";
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // not Linux: the CPU name is only informative
  }
  const cores = execFileSync("nproc", { encoding: "utf8" }).trim();
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
  return `${new Date().toISOString().slice(0, 10)}, ${cores} cores (${cpu}), Node ${process.version}, load average at the end ${load}`;
}

// ---------------------------------------------------------------------------------------------
// Configs

export interface BenchNode {
  name: string;
  address: string;
}

export interface ModelsConfigOptions {
  /** Models in all, `scale` included: `scale` plus models - 1 generated ones (m0000, m0001, ...). */
  models: number;
  nodes: readonly BenchNode[];
  /** Weights of scale's versions 1 and 2 (version 3 always has weight 0). */
  scaleWeights: readonly [number, number];
  /** How many of the nodes serve scale's version 3 (default: all). */
  scaleV3Nodes?: number;
  listener?: { address: string; port: number };
  /**
   * defaults.health.interval: the control plane's prober. Process benchmarks set it long, so no
   * probe round lands in a measurement and no health change publishes a snapshot of its own. (The
   * first round probes 3,000 versions at the one node at 1,000 models, 16 at a time, behind the
   * node-level probes: within the default timeout.)
   */
  probeInterval?: string;
}

/** The name of the i-th generated model. */
export const modelName = (i: number): string => `m${String(i).padStart(4, "0")}`;

/**
 * An inferencehub.yaml as an object: the real `scale` model (versions 1, 2, 3) and generated
 * models with three versions each (34/33/33), every version on every node given. Envoy does not
 * care that the nodes serve none of the generated models.
 */
export function modelsConfig(opts: ModelsConfigOptions): object {
  const nodes = opts.nodes.map((n) => n.name);
  const [w1, w2] = opts.scaleWeights;
  const models: object[] = [
    {
      name: "scale",
      versions: [
        { version: "1", weight: w1, nodes },
        { version: "2", weight: w2, nodes },
        { version: "3", weight: 0, nodes: nodes.slice(0, opts.scaleV3Nodes ?? nodes.length) },
      ],
    },
  ];
  for (let i = 0; i < opts.models - 1; i++) {
    models.push({
      name: modelName(i),
      versions: [
        { version: "1", weight: 34, nodes },
        { version: "2", weight: 33, nodes },
        { version: "3", weight: 33, nodes },
      ],
    });
  }
  return {
    ...(opts.listener ? { listener: opts.listener } : {}),
    ...(opts.probeInterval ? { defaults: { health: { interval: opts.probeInterval } } } : {}),
    nodes: opts.nodes.map((n) => ({ name: n.name, address: n.address })),
    models,
  };
}

// No aliases: every version shares one node list, and the yaml package would write it once as an
// anchor and then as aliases, which the config parser refuses beyond a few (an alias bomb guard).
export const modelsYaml = (opts: ModelsConfigOptions): string =>
  stringify(modelsConfig(opts), { aliasDuplicateObjects: false });

/** parseConfig, throwing with every error when the text is not a valid config. */
export function parseOrThrow(text: string): Config {
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(`generated config is invalid:\n${formatErrors(parsed.errors)}`);
  return parsed.value;
}

/** Loopback addresses for a config whose nodes nobody calls. */
export const fakeNodes = (n: number): BenchNode[] =>
  Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, address: `127.0.0.1:${9001 + i}` }));

// ---------------------------------------------------------------------------------------------
// Config files

export interface TempConfig {
  dir: string;
  path: string;
  /** Writes the text to a temp file beside the config; the returned function renames it over. */
  stage(text: string): Promise<() => Promise<void>>;
  /** Replaces the config by rename, as editors save. */
  write(text: string): Promise<void>;
  remove(): Promise<void>;
}

export async function tempConfig(text: string, prefix = "inferencehub-bench-"): Promise<TempConfig> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const path = join(dir, "inferencehub.yaml");
  await writeFile(path, text);
  let n = 0;
  const stage = async (next: string) => {
    const tmp = join(dir, `.inferencehub.yaml.${process.pid}.${++n}`);
    await writeFile(tmp, next);
    return () => rename(tmp, path);
  };
  return {
    dir,
    path,
    stage,
    write: async (next) => (await stage(next))(),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks;
}

/** Resident memory now and at its peak, in bytes, from /proc/<pid>/status. */
export function processMemory(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peakRss: kb("VmHWM") };
}

// ---------------------------------------------------------------------------------------------
// Prometheus text (the control plane's /metrics)

export interface HistogramReading {
  count: number;
  /** Seconds. */
  sum: number;
  /** Upper bound (seconds) → cumulative count. */
  buckets: Map<number, number>;
}

export function readHistogram(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): HistogramReading {
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, "gm"))) {
    const labelText = m[1] ?? "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    const le = /le="([^"]+)"/.exec(labelText)?.[1] ?? "+Inf";
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  return {
    count: metricValue(text, `${name}_count`, labels),
    sum: metricValue(text, `${name}_sum`, labels),
    buckets,
  };
}

/** What was observed between two readings of one histogram. */
export function histogramDelta(
  before: HistogramReading,
  after: HistogramReading,
): HistogramReading & {
  /** The bucket bound (seconds) that holds the largest observation: an upper bound for it. */
  maxBound: number;
} {
  const buckets = new Map<number, number>();
  let maxBound = 0;
  const count = after.count - before.count;
  for (const [bound, n] of [...after.buckets].sort((a, b) => a[0] - b[0])) {
    const d = n - (before.buckets.get(bound) ?? 0);
    buckets.set(bound, d);
    if (maxBound === 0 && d >= count && count > 0) maxBound = bound;
  }
  return { count, sum: after.sum - before.sum, buckets, maxBound };
}

/** Envoy's own record: when it last applied the model's route configuration (epoch ms). */
export async function envoyRouteReloadTime(envoy: EnvoyProcess, model: string): Promise<number> {
  const name = ingressRouteConfigName(model);
  const stats = await envoy.stats(`rds\\.${name}\\.config_reload_time_ms`);
  return Object.entries(stats).find(([stat]) => stat.endsWith("config_reload_time_ms"))?.[1] ?? NaN;
}

// ---------------------------------------------------------------------------------------------
// The control plane's log (pino JSON lines, as startXdsServer keeps them)

export interface LogEntry {
  /** Epoch ms (pino's clock). */
  time: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The entries whose message is `msg`, logged at or after `sinceEpochMs`: e.g. "snapshot
 * published" (with its group, version and the build's built/reused counts) or "xDS client
 * connected" (with its node). Lines that are not JSON are skipped.
 */
export function logEntries(logs: readonly string[], msg: string, sinceEpochMs = 0): LogEntry[] {
  const out: LogEntry[] = [];
  const needle = JSON.stringify(msg);
  for (const line of logs) {
    if (!line.includes(needle)) continue;
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      continue;
    }
    if (entry.msg === msg && entry.time >= sinceEpochMs) out.push(entry);
  }
  return out;
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined. */
export async function pollFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 5,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
