/**
 * A placed version, from the config file written to the traffic on it (issue #18): the config
 * adds version 2 of `scale` with weight 100 and `placement: { pool: fleet, replicas: 2 }` beside
 * version 1 (weight 0, listed by hand on node-a), under continuous load through a real Envoy
 * steered by the control plane. Three reference nodes in the config: node-a (version 1 only) and
 * node-b, node-c (pool `fleet`, started with nothing loaded), which the reconciler loads version 2
 * on through the repository API. A fourth node, node-direct, not in the config, is the baseline:
 * RepositoryModelLoad of the same version called directly on it, in the same run, under the same
 * load, just before each config write.
 *
 * Per run: the time from the write (the rename that puts the file in place) to (1) the first
 * call answered by version 2 and (2) 100% of the calls on version 2 (the first call after which
 * no call is answered by version 1); beside them the load itself, measured directly and by the
 * control plane's own `inferencehub_fleet_load_seconds` histogram, and the stages from the
 * control plane's log (config published, load started, ready after ModelReady, routing
 * published). Version 2 is then removed and the bench waits until both nodes unloaded it. Then
 * once more on a fresh gateway whose nodes take BENCH_SLOW_DELAY_MS more per load
 * (`--load-delay-ms`, a large model's stand-in): the control plane's overhead should not grow.
 *
 * `fleet` uses the defaults (syncInterval 5s) except `drain: 1s`, which only shortens the wait
 * between runs.
 *
 *   npx tsx bench/fleet-placement.ts
 *   BENCH_RUNS=10 BENCH_SLOW_RUNS=3 BENCH_SLOW_DELAY_MS=5000 npx tsx bench/fleet-placement.ts
 */
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { createRepositoryClient, type FleetStatus } from "../xds-server/src/fleet/index.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { modelsDir } from "../scripts/lib/paths.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "../test/lib/gateway-fixture.js";
import { startLoad, type CallRecord } from "../test/lib/load.js";
import { machineLine, ms, percentile, printTable, progress, ratio } from "./lib/xds-bench.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SLOW_RUNS = Number(process.env.BENCH_SLOW_RUNS ?? 1);
const SLOW_DELAY_MS = Number(process.env.BENCH_SLOW_DELAY_MS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const TOKEN = "fleet-placement-bench-repository-token";
const PLACED_NODES = ["node-b", "node-c"];
const DIRECT = "node-direct";
const call = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};

type Version = Record<string, unknown>;
const v1 = (weight: number): Version => ({ version: "1", weight, nodes: ["node-a"] });
const v2: Version = { version: "2", weight: 100, placement: { pool: "fleet", replicas: 2 } };

interface Run {
  case: string;
  run: number;
  /** RepositoryModelLoad on node-direct, client side. */
  directMs: number;
  /** The reconciler's loads of this run: inferencehub_fleet_load_seconds, sum / count. */
  metricMs: number;
  /** From the write, by the control plane's log (its clock is this machine's). */
  configPublishedMs: number;
  loadStartMs: number;
  readyMs: number;
  routedMs: number;
  /** From the write, by the calls' end times. */
  firstMs: number;
  fullMs: number;
  failed: number;
  calls: number;
  /** From the write: the first and last failed call's end. */
  failFirstMs: number;
  failLastMs: number;
  /** The first failure's status and message. */
  failure?: string;
}

const readyOn = (fleet: FleetStatus | undefined) =>
  (fleet?.versions.find((v) => v.model === "scale" && v.version === "2")?.nodes ?? [])
    .filter((n) => n.state === "ready")
    .map((n) => n.node);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LogLine {
  time: number;
  msg: string;
  why?: string;
  loadMs?: number;
}

function logLines(lines: readonly string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const line of lines) {
    const start = line.indexOf("{");
    if (start < 0) continue;
    try {
      const parsed = JSON.parse(line.slice(start)) as Partial<LogLine>;
      if (typeof parsed.time === "number" && typeof parsed.msg === "string") out.push(parsed as LogLine);
    } catch {
      // Not a JSON log line.
    }
  }
  return out;
}

/** Seconds and count of the reconciler's load histogram on the control plane's /metrics. */
async function loadHistogram(gw: GatewayFixture): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${gw.xds.adminPort}/metrics`)).text();
  return {
    sum: metricValue(text, "inferencehub_fleet_load_seconds_sum"),
    count: metricValue(text, "inferencehub_fleet_load_seconds_count"),
  };
}

/** Time of the first call answered by version 2, and of the first one after the last answered by 1. */
function switchTimes(calls: readonly CallRecord[]): { first: number; full: number } {
  const ok = calls.filter((c) => c.ok).sort((a, b) => a.at - b.at);
  const first = ok.find((c) => c.version === "2")?.at ?? NaN;
  const lastV1 = ok.findLastIndex((c) => c.version === "1");
  const after = ok.slice(lastV1 + 1).find((c) => c.version === "2");
  return { first, full: after?.at ?? NaN };
}

async function measureCase(name: string, delayMs: number, runs: number): Promise<Run[]> {
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-fleet-bench-"));
  // node-a holds only version 1 (listed by hand): the reconciler never touches it.
  await mkdir(join(dir, "models-a/scale"), { recursive: true });
  await cp(join(modelsDir, "scale/1"), join(dir, "models-a/scale/1"), { recursive: true });
  const delayArgs = delayMs > 0 ? ["--load-delay-ms", String(delayMs)] : [];
  // node-direct is no node of the config; node-a is alone in its pool, so the placement takes b and c.
  const shape = (nodes: NodeEntry[]): NodeEntry[] =>
    nodes
      .filter((n) => n.name !== DIRECT)
      .map((n) => ({ ...n, pool: n.name === "node-a" ? "static" : "fleet" }));
  const config = (nodes: NodeEntry[], port: number, versions: Version[]) => ({
    listener: { address: "127.0.0.1", port },
    fleet: { drain: "1s" },
    nodes,
    models: [{ name: "scale", versions }],
  });
  const repo = createRepositoryClient();
  let gw: GatewayFixture | undefined;
  try {
    gw = await startGateway({
      nodes: [
        { name: "node-a", modelsDir: join(dir, "models-a"), models: ["scale"], repositoryToken: TOKEN },
        ...[...PLACED_NODES, DIRECT].map((n) => ({
          name: n,
          models: [],
          repositoryToken: TOKEN,
          args: delayArgs,
        })),
      ],
      config: (nodes, port) => config(shape(nodes), port, [v1(100)]),
      xdsEnv: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN },
    });
    const g = gw;
    const target = (n: string) => ({ name: n, address: g.nodes.get(n)!.address, token: TOKEN });
    // Each node's first load pays onnxruntime's start-up (hundreds of ms): paid here, before the
    // runs, on every node that loads in them. scale has no placed version yet, so the reconciler
    // leaves these alone; the runs wait until it has read the nodes without scale/2.
    await Promise.all(
      [...PLACED_NODES, DIRECT].map(async (n) => {
        await repo.load(target(n), "scale", ["2"]);
        await repo.unload(target(n), "scale");
      }),
    );
    await g.xds.waitFor(
      (s) => (s.fleet?.nodes ?? []).every((n) => !n.loaded.includes("scale/2")),
      "the control plane to read the nodes after the warm-up",
      30_000,
    );
    const out: Run[] = [];
    for (let run = 1; run <= runs; run++) {
      const load = startLoad(g.client(), { concurrency: CONCURRENCY, ...call });
      await load.more(50);
      // The baseline: the same load, called directly on a node of its own, under the same traffic.
      const d0 = performance.now();
      await repo.load(target(DIRECT), "scale", ["2"]);
      const directMs = performance.now() - d0;
      await repo.unload(target(DIRECT), "scale");
      await load.more(20);

      const hist0 = await loadHistogram(g);
      const logMark = g.xds.logs.length;
      // Written as the fixture's writeConfig does (a temp file renamed over the config), the clock
      // read just before the rename: the control plane may see the file before this process runs on.
      const tmp = `${g.configPath}.tmp-${process.pid}`;
      await writeFile(tmp, stringify(config(shape(g.nodeEntries()), g.listenPort, [v1(0), v2])));
      const t0 = Date.now();
      await rename(tmp, g.configPath);
      await g.xds.waitFor((s) => readyOn(s.fleet).length === 2, "scale/2 ready on two nodes", 120_000);
      for (const e of g.envoys) await g.xds.waitForSync(e.name);
      await load.more(100);
      const stats = await load.stop();
      const hist1 = await loadHistogram(g);

      const logs = logLines(g.xds.logs.slice(logMark)).filter((l) => l.time >= t0 - 5);
      const configPub = logs.find((l) => l.msg === "snapshot published" && l.why?.startsWith("config"));
      const ready = logs.filter((l) => l.msg === "loaded and ready: routing to it");
      const readyAt = Math.min(...ready.map((l) => l.time));
      const loadStart = Math.min(...ready.map((l) => l.time - (l.loadMs ?? 0)));
      const routed = logs.find(
        (l) => l.msg === "snapshot published" && l.why === "fleet" && l.time >= readyAt,
      );
      const { first, full } = switchTimes(stats.calls);
      const failures = stats.failures.filter((c) => c.at >= t0).sort((a, b) => a.at - b.at);
      const r: Run = {
        case: name,
        run,
        directMs,
        metricMs: ((hist1.sum - hist0.sum) / Math.max(1, hist1.count - hist0.count)) * 1000,
        configPublishedMs: (configPub?.time ?? NaN) - t0,
        loadStartMs: loadStart - t0,
        readyMs: readyAt - t0,
        routedMs: (routed?.time ?? NaN) - t0,
        firstMs: first - t0,
        fullMs: full - t0,
        failed: failures.length,
        calls: stats.calls.filter((c) => c.at >= t0).length,
        failFirstMs: Math.min(...failures.map((c) => c.at)) - t0,
        failLastMs: Math.max(...failures.map((c) => c.at)) - t0,
        ...(failures[0] ? { failure: `${failures[0].code} ${failures[0].details}` } : {}),
      };
      out.push(r);
      progress(
        `${name} run ${run}: first call on 2 after ${ms(r.firstMs, 0)} ms, 100% after ${ms(r.fullMs, 0)} ms, direct load ${ms(directMs, 0)} ms, ${r.failed} failed calls${r.failure ? ` (first: ${r.failure})` : ""}`,
      );

      // Version 2 out; wait until both nodes unloaded it and the control plane read them since.
      await g.applyConfig(config(shape(g.nodeEntries()), g.listenPort, [v1(100)]));
      for (const n of PLACED_NODES) {
        for (;;) {
          const index = await repo.index(target(n), { readyOnly: true });
          if (!index.versions.some((v) => v.model === "scale" && v.version === "2")) break;
          await sleep(100);
        }
      }
      await g.xds.waitFor(
        (s) => (s.fleet?.nodes ?? []).every((n) => !n.loaded.includes("scale/2")),
        "the control plane to see scale/2 unloaded",
        30_000,
      );
    }
    return out;
  } finally {
    repo.close();
    await gw?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs: Run[] = [];
  progress(`placed version, ${RUNS} runs, nodes load at their own speed ...`);
  runs.push(...(await measureCase("scale", 0, RUNS)));
  if (SLOW_RUNS > 0) {
    progress(`placed version, ${SLOW_RUNS} run(s), --load-delay-ms ${SLOW_DELAY_MS} ...`);
    runs.push(...(await measureCase(`scale + ${SLOW_DELAY_MS} ms load delay`, SLOW_DELAY_MS, SLOW_RUNS)));
  }

  const head = `Placed version 2 of scale (weight 100, 2 of 3 nodes) added to the config, ${CONCURRENCY} calls in flight through Envoy; ms from the config file written; ${machineLine()}`;
  printTable(
    head,
    [
      "case",
      "run",
      "direct load",
      "reconciler load (histogram)",
      "config published",
      "load started",
      "ready (ModelReady)",
      "routing published",
      "first call on 2",
      "100% on 2",
      "first − direct load",
      "first / direct load",
      "failed calls",
      "failures from – to",
    ],
    runs.map((r) => [
      r.case,
      r.run,
      ms(r.directMs),
      ms(r.metricMs),
      ms(r.configPublishedMs, 0),
      ms(r.loadStartMs, 0),
      ms(r.readyMs, 0),
      ms(r.routedMs, 0),
      ms(r.firstMs, 0),
      ms(r.fullMs, 0),
      ms(r.firstMs - r.directMs),
      ratio(r.firstMs, r.directMs),
      `${r.failed} of ${r.calls}`,
      r.failed > 0 ? `${ms(r.failFirstMs, 0)} – ${ms(r.failLastMs, 0)}` : "",
    ]),
  );

  const rows: (string | number)[][] = [];
  for (const name of [...new Set(runs.map((r) => r.case))]) {
    const mine = runs.filter((r) => r.case === name);
    const stat = (f: (r: Run) => number, digits = 1) =>
      `${ms(percentile(mine.map(f), 50), digits)} / ${ms(Math.max(...mine.map(f)), digits)}`;
    rows.push([
      name,
      mine.length,
      stat((r) => r.directMs),
      stat((r) => r.metricMs),
      stat((r) => r.firstMs, 0),
      stat((r) => r.fullMs, 0),
      stat((r) => r.firstMs - r.directMs),
      stat((r) => r.firstMs - r.metricMs),
      stat((r) => r.firstMs / r.directMs, 2),
      mine.reduce((n, r) => n + r.failed, 0),
    ]);
  }
  printTable(
    "p50 / max over the runs, ms",
    [
      "case",
      "runs",
      "direct load",
      "reconciler load (histogram)",
      "first call on 2",
      "100% on 2",
      "overhead: first − direct load",
      "first − histogram load",
      "first / direct load",
      "failed calls",
    ],
    rows,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
