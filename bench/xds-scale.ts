/**
 * The control plane's memory and CPU with 1,000 models of 3 versions and 100 connected clients:
 * real Envoys as far as a 2-core machine allows (4 by default, --concurrency 1) and synthetic
 * Envoy-like ADS clients (bench/lib/ads-client.ts) for the rest, half State of the World and half
 * delta. The control plane is its own process (startXdsServer), so /proc/<pid> gives its RSS and
 * CPU time alone; the synthetic clients live in this process.
 *
 * Measured: RSS at rest with no client and with all clients synced (every one ACKed the current
 * snapshot, from /status); the CPU time and wall time to bring them all up to date; then, for a
 * few weight changes (scale 100/0 ↔ 0/100, saved by rename): the control plane's CPU time from
 * the write until every client has the new routes (+300 ms for the last ACKs to be processed),
 * and the time until the last client ACKed: synthetic clients ACK on receipt (their clock),
 * Envoys from their config_reload_time_ms gauge; the control plane's push-latency histogram
 * confirms the count. Baseline in the same run: the same changes with no client connected
 * (parse, build, publish: what every change costs before any push).
 *
 * BENCH_RUNTIME=tsx,js runs it all twice, the control plane on tsx (as the project runs it) then
 * as compiled JavaScript (bench/lib/xds-runtime.ts), and compares their memory: what tsx costs.
 * BENCH_XDS_ENV adds environment variables to the control plane's (process-level knobs). Memory is
 * read idle, BENCH_REST_WAIT_S (30) later, and after a full GC (a preloaded probe, xds-runtime.ts).
 *
 *   npx tsx bench/xds-scale.ts
 *   BENCH_CLIENTS=50 BENCH_ENVOYS=2 BENCH_FLIPS=5 npx tsx bench/xds-scale.ts
 *   BENCH_RUNTIME=tsx,js npx tsx bench/xds-scale.ts
 *   BENCH_RUNTIME=js BENCH_XDS_ENV="MALLOC_ARENA_MAX=2" npx tsx bench/xds-scale.ts
 */
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { metricValue } from "../scripts/lib/node-process.js";
import type { XdsProcess, XdsStatus } from "../scripts/lib/xds-process.js";
import { envoyLike, type EnvoyLikeClient, type Transport } from "./lib/ads-client.js";
import {
  compileXdsServer,
  memoryProbe,
  startXdsServerAs,
  usedMemory,
  type CompiledXdsServer,
  type MemoryUsage,
  type Runtime,
} from "./lib/xds-runtime.js";
import {
  bytes,
  fakeNodes,
  histogramDelta,
  machineLine,
  median,
  modelsYaml,
  ms,
  now,
  printTable,
  processCpuMs,
  processMemory,
  progress,
  ratio,
  readHistogram,
  tempConfig,
  type TempConfig,
  envoyRouteReloadTime,
} from "./lib/xds-bench.js";

const MODELS = Number(process.env.BENCH_MODELS ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const ENVOYS = Math.min(Number(process.env.BENCH_ENVOYS ?? 4), CLIENTS);
const FLIPS = Number(process.env.BENCH_FLIPS ?? 3);
/** tsx (as the project runs it), js (compiled: what tsx costs), or both in turn: "tsx,js". */
const RUNTIMES = (process.env.BENCH_RUNTIME ?? "tsx").split(",").map((r): Runtime => {
  if (r === "tsx" || r === "js") return r;
  throw new Error(`BENCH_RUNTIME: '${r}' is neither tsx nor js`);
});
/** Extra environment for the control plane, e.g. "MALLOC_ARENA_MAX=2 NODE_OPTIONS=--max-semi-space-size=4". */
const XDS_ENV_TEXT = process.env.BENCH_XDS_ENV ?? "";
const XDS_ENV = Object.fromEntries(
  XDS_ENV_TEXT.split(/\s+/)
    .filter((kv) => kv.includes("="))
    .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
/** How long the idle control plane is left before "RSS later" (BENCH_REST_WAIT_S, default 30). */
const REST_WAIT_MS = Number(process.env.BENCH_REST_WAIT_S ?? 30) * 1000;
const BATCH = 10;
/** After the last client has the change: time for the control plane to process the last ACKs. */
const TAIL_MS = 300;

const transportOf = (i: number): Transport => (i % 2 === 0 ? "sotw" : "delta");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FlipResult {
  cpuMs: number;
  /** CPU time of this process (the synthetic clients receiving and ACKing) over the same window. */
  clientsCpuMs: number;
  /** From the write until the last client had the new routes. */
  allAckedMs: number;
  /** From the control plane's "snapshot published" log line until then. */
  publishedToAllMs: number;
  byTransport: Record<Transport, number[]>;
  /** From the control plane's records. */
  routeAcks: number;
  pushedBytes: number;
  maxLatencyBound: number;
  buildMs: number;
  peakRss: number;
}

/** Polls /status (megabytes at this size: not often) until `n` clients hold the current snapshot. */
async function waitAllSynced(xds: XdsProcess, n: number, timeoutMs = 180_000): Promise<XdsStatus> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const s = await xds.status();
    const synced = s.clients.filter(
      (c) => c.syncedVersion !== "" && c.syncedVersion === s.snapshots[c.group],
    );
    if (synced.length >= n) return s;
    if (now() > deadline) throw new Error(`only ${synced.length} of ${n} clients synced in ${timeoutMs} ms`);
    await sleep(500);
  }
}

/**
 * The time (epoch ms) of the next "snapshot published" line for the envoy group, read from the
 * process's stdout as it comes: at 1,000 models a change logs more lines than the process helper
 * keeps, so looking for it afterwards can miss it.
 */
function nextPublished(xds: XdsProcess, sinceEpochMs: number): Promise<number | undefined> {
  const stdout = xds.process.stdout!;
  return new Promise((resolve) => {
    let partial = "";
    const done = (time: number | undefined) => {
      clearTimeout(timer);
      stdout.off("data", onData);
      resolve(time);
    };
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.includes('"snapshot published"')) continue;
        const entry = JSON.parse(line) as { time: number; group: string };
        if (entry.group === "envoy" && entry.time >= sinceEpochMs) return done(entry.time);
      }
    };
    const timer = setTimeout(() => done(undefined), 120_000);
    stdout.on("data", onData);
  });
}

/** CPU ms the process uses per second of wall time over `windowMs`. */
async function cpuRate(pid: number, windowMs: number): Promise<number> {
  const c0 = processCpuMs(pid);
  const t0 = now();
  await sleep(windowMs);
  return ((processCpuMs(pid) - c0) / (now() - t0)) * 1000;
}

async function flip(
  xds: XdsProcess,
  file: TempConfig,
  text: string,
  clients: { synthetic: EnvoyLikeClient[]; envoys: { envoy: EnvoyProcess; transport: Transport }[] },
): Promise<FlipResult> {
  const pid = xds.process.pid!;
  const commit = await file.stage(text);
  const before = await xds.metrics();
  const reloadsBefore = await Promise.all(clients.envoys.map((e) => envoyRouteReloadTime(e.envoy, "scale")));
  const cpu0 = processCpuMs(pid);
  // Envoy's gauge and pino's times are wall-clock epoch ms: keep Date.now() at the write too.
  const wall0 = Date.now();
  const publishedAt = nextPublished(xds, wall0);
  const here0 = process.cpuUsage();
  const t0 = now();
  await commit();

  // Synthetic clients: the route response's arrival (the ACK goes out at once). Envoys: their
  // reload gauge (epoch ms; the ACK follows on the same thread).
  const byTransport: Record<Transport, number[]> = { sotw: [], delta: [] };
  const deadline = t0 + 120_000;
  const pending = new Set(clients.synthetic);
  let envoyTimes: number[] = [];
  for (;;) {
    for (const c of pending) if (c.counters.route.lastAt > t0) pending.delete(c);
    if (pending.size === 0) {
      const reloads = await Promise.all(clients.envoys.map((e) => envoyRouteReloadTime(e.envoy, "scale")));
      if (reloads.every((r, i) => r !== reloadsBefore[i])) {
        envoyTimes = reloads.map((r) => t0 + (r - wall0));
        break;
      }
    }
    if (now() > deadline) throw new Error(`${pending.size} synthetic clients never got the change`);
    await sleep(pending.size === 0 ? 10 : 5);
  }
  for (const c of clients.synthetic) byTransport[c.transport].push(c.counters.route.lastAt - t0);
  clients.envoys.forEach((e, i) => byTransport[e.transport].push(envoyTimes[i]! - t0));
  const lastAt = Math.max(...clients.synthetic.map((c) => c.counters.route.lastAt), ...envoyTimes);
  await sleep(Math.max(0, lastAt + TAIL_MS - now()));
  const cpuMs = processCpuMs(pid) - cpu0;
  const here = process.cpuUsage(here0);
  const peakRss = processMemory(pid).peakRss;

  const after = await xds.metrics();
  const latency = histogramDelta(
    readHistogram(before, "inferencehub_xds_push_latency_seconds", { kind: "route" }),
    readHistogram(after, "inferencehub_xds_push_latency_seconds", { kind: "route" }),
  );
  const build = histogramDelta(
    readHistogram(before, "inferencehub_xds_snapshot_build_seconds"),
    readHistogram(after, "inferencehub_xds_snapshot_build_seconds"),
  );
  const published = await publishedAt;
  return {
    cpuMs,
    clientsCpuMs: (here.user + here.system) / 1000,
    allAckedMs: lastAt - t0,
    publishedToAllMs: published === undefined ? NaN : lastAt - t0 - (published - wall0),
    byTransport,
    routeAcks: latency.count,
    pushedBytes:
      metricValue(after, "inferencehub_xds_push_bytes_total") -
      metricValue(before, "inferencehub_xds_push_bytes_total"),
    maxLatencyBound: latency.maxBound,
    buildMs: build.sum * 1000,
    peakRss,
  };
}

/** The same change with nobody connected: parse, build, publish. */
async function bareFlip(
  xds: XdsProcess,
  file: TempConfig,
  text: string,
): Promise<{ cpuMs: number; wallMs: number }> {
  const pid = xds.process.pid!;
  const commit = await file.stage(text);
  const cpu0 = processCpuMs(pid);
  const wall0 = Date.now();
  const publishedAt = nextPublished(xds, wall0);
  await commit();
  const published = await publishedAt;
  if (published === undefined) throw new Error("no snapshot published within 120 s");
  const wallMs = published - wall0;
  await sleep(TAIL_MS);
  return { cpuMs: processCpuMs(pid) - cpu0, wallMs };
}

/** What the runtimes are compared on. */
interface MemoryResult {
  rest0: Memory;
  rest1: Memory;
  peakRss: number;
}

/** A difference can be negative (a run where the collector or malloc returned more at the end). */
const signedBytes = (n: number) => (n < 0 ? `-${bytes(-n)}` : bytes(n));

/** At rest: /proc's RSS as found, then process.memoryUsage() after a full collection. */
interface Memory extends MemoryUsage {
  rssBeforeGc: number;
  /** REST_WAIT_MS later, still idle: what V8's memory reducer (idle-time collections) gave back. */
  rssLater: number;
  peakRss: number;
  cpuRate: number;
}

async function memoryOf(xds: XdsProcess, cpuWindowMs: number): Promise<Memory> {
  const pid = xds.process.pid!;
  const rate = await cpuRate(pid, cpuWindowMs);
  const { rss: rssBeforeGc, peakRss } = processMemory(pid);
  await sleep(REST_WAIT_MS);
  const rssLater = processMemory(pid).rss;
  return { ...(await usedMemory(xds)), rssBeforeGc, rssLater, peakRss, cpuRate: rate };
}

/** Waits until the control plane is idle (the first builds and their garbage done), at most 60 s. */
async function settle(pid: number): Promise<void> {
  const deadline = now() + 60_000;
  while ((await cpuRate(pid, 1000)) > 30 && now() < deadline);
}

async function runScale(
  runtime: Runtime,
  compiled: CompiledXdsServer | undefined,
  probeOptions: string,
): Promise<MemoryResult> {
  const text = (scaleWeights: [number, number]) =>
    modelsYaml({ models: MODELS, nodes: fakeNodes(2), scaleWeights, probeInterval: "1h" });
  const texts: [string, string] = [text([100, 0]), text([0, 100])];
  let next = 0;
  /** The other weights than those on disk. */
  const nextText = () => texts[(next = (next + 1) % 2) as 0 | 1];
  const file = await tempConfig(texts[0]);
  progress(`control plane on ${runtime === "js" ? "compiled JavaScript (node)" : "tsx"}`);
  const xds = await startXdsServerAs(runtime, {
    configPath: file.path,
    env: { ...XDS_ENV, NODE_OPTIONS: [XDS_ENV.NODE_OPTIONS ?? "", probeOptions].join(" ").trim() },
    ...(compiled ? { compiled } : {}),
  });
  const pid = xds.process.pid!;
  const envoys: { envoy: EnvoyProcess; transport: Transport }[] = [];
  const synthetic: EnvoyLikeClient[] = [];
  try {
    await settle(pid);
    const rest0 = await memoryOf(xds, 3000);

    progress(`no client: ${FLIPS} weight changes (baseline)`);
    const bare: { cpuMs: number; wallMs: number }[] = [];
    for (let i = 0; i < FLIPS; i++) {
      bare.push(await bareFlip(xds, file, nextText()));
      await sleep(200);
    }

    progress(`connecting ${ENVOYS} Envoys and ${CLIENTS - ENVOYS} synthetic clients`);
    const connectCpu0 = processCpuMs(pid);
    const connectT0 = now();
    for (let i = 0; i < ENVOYS; i++) {
      const transport = transportOf(i);
      const envoy = await startEnvoy({
        name: `scale-${i}`,
        readyTimeoutMs: 120_000,
        bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
          NODE_ID: `envoy-${i}`,
          NODE_CLUSTER: "bench",
          ADMIN_PORT: 0,
          XDS_HOST: "127.0.0.1",
          XDS_PORT: xds.adsPort,
          ADS_API_TYPE: transport === "delta" ? "DELTA_GRPC" : "GRPC",
        }),
      });
      envoys.push({ envoy, transport });
      await xds.waitForSync(`envoy-${i}`, 120_000);
    }
    for (let i = ENVOYS; i < CLIENTS; i += BATCH) {
      for (let j = i; j < Math.min(i + BATCH, CLIENTS); j++) {
        synthetic.push(
          envoyLike(
            `127.0.0.1:${xds.adsPort}`,
            transportOf(j),
            { id: `synthetic-${j}`, cluster: "bench" },
            { countBytes: false },
          ),
        );
      }
      await waitAllSynced(xds, ENVOYS + synthetic.length);
      progress(`${ENVOYS + synthetic.length} clients synced`);
    }
    const connectMs = now() - connectT0;
    const connectCpu = processCpuMs(pid) - connectCpu0;
    const status = await waitAllSynced(xds, CLIENTS);
    const connected = status.clients.length;

    await settle(pid);
    const rest1 = await memoryOf(xds, 5000);

    progress(`${CLIENTS} clients: ${FLIPS} weight changes`);
    const flips: FlipResult[] = [];
    for (let i = 0; i < FLIPS; i++) {
      flips.push(await flip(xds, file, nextText(), { synthetic, envoys }));
      if (process.env.BENCH_VERBOSE) progress(JSON.stringify({ ...flips.at(-1), byTransport: undefined }));
      await sleep(500);
    }
    const final = await waitAllSynced(xds, CLIENTS, 30_000);
    const nacks = final.clients.reduce((n, c) => n + c.nacks.length, 0);
    const envoyRss = envoys.map((e) => processMemory(e.envoy.pid).rss);
    const errors = synthetic.filter((c) => c.error).length;

    console.log(
      `\nControl plane on ${runtime === "js" ? "compiled JavaScript (node, esbuild bundle)" : "tsx"}` +
        `${XDS_ENV_TEXT ? ` with ${XDS_ENV_TEXT}` : ""}, ${MODELS} models × 3 versions; ${machineLine()}`,
    );
    console.log(
      `${connected} ADS clients connected: ${ENVOYS} real Envoys (--concurrency 1) and ${CLIENTS - ENVOYS} synthetic, ` +
        `alternating SotW and delta; ${nacks} NACKs, ${errors} synthetic stream errors. Prober interval 1 h (idle).`,
    );
    printTable(
      "Memory and CPU at rest (control plane process)",
      [
        "state",
        "RSS",
        `RSS ${REST_WAIT_MS / 1000} s later`,
        "RSS after a full GC",
        "JS heap used (of heap total)",
        "external (of it ArrayBuffers)",
        "garbage collected: heap, external",
        "CPU at rest (ms per s)",
        "peak RSS so far",
      ],
      [["config loaded, no client", rest0] as const, [`${CLIENTS} clients synced`, rest1] as const]
        .map(([state, r]) => [
          state,
          bytes(r.rssBeforeGc),
          bytes(r.rssLater),
          bytes(r.rss),
          `${bytes(r.heapUsed)} (${bytes(r.heapTotal)})`,
          `${bytes(r.external)} (${bytes(r.arrayBuffers)})`,
          `${bytes(r.before.heapUsed - r.heapUsed)}, ${bytes(r.before.external - r.external)}`,
          ms(r.cpuRate, 2),
          bytes(r.peakRss),
        ])
        .concat([
          [
            "per client (difference / clients)",
            signedBytes((rest1.rssBeforeGc - rest0.rssBeforeGc) / CLIENTS),
            signedBytes((rest1.rssLater - rest0.rssLater) / CLIENTS),
            signedBytes((rest1.rss - rest0.rss) / CLIENTS),
            `${signedBytes((rest1.heapUsed - rest0.heapUsed) / CLIENTS)} (${signedBytes((rest1.heapTotal - rest0.heapTotal) / CLIENTS)})`,
            `${signedBytes((rest1.external - rest0.external) / CLIENTS)} (${signedBytes((rest1.arrayBuffers - rest0.arrayBuffers) / CLIENTS)})`,
            "",
            "",
            "",
          ],
        ]),
    );
    console.log(
      `\nBringing ${CLIENTS} clients up to date from nothing (Envoys one by one, synthetic in batches of ${BATCH}): ` +
        `${ms(connectMs / 1000, 1)} s wall, ${ms(connectCpu / 1000, 1)} s control plane CPU.`,
    );
    const m = (xs: number[]) => ms(median(xs));
    const bareCpu = median(bare.map((b) => b.cpuMs));
    const loadedCpu = median(flips.map((f) => f.cpuMs));
    printTable(
      `One weight change, median of ${FLIPS} (ms; CPU = control plane user + system, /proc, 10 ms ticks)`,
      [
        "clients",
        "CPU for the change",
        "build (its histogram)",
        "write → last client has it",
        "snapshot published → last client",
        "bytes pushed (its metric)",
        "route ACKs recorded",
        "slowest ACK (histogram bucket)",
        "peak RSS",
      ],
      [
        [
          "0 (baseline)",
          ms(bareCpu, 0),
          "",
          `${m(bare.map((b) => b.wallMs))} (to published)`,
          "",
          "",
          "",
          "",
          "",
        ],
        [
          CLIENTS,
          ms(loadedCpu, 0),
          m(flips.map((f) => f.buildMs)),
          m(flips.map((f) => f.allAckedMs)),
          m(flips.map((f) => f.publishedToAllMs)),
          bytes(median(flips.map((f) => f.pushedBytes))),
          flips.map((f) => f.routeAcks).join(", "),
          `≤ ${Math.max(...flips.map((f) => f.maxLatencyBound))} s`,
          bytes(Math.max(...flips.map((f) => f.peakRss))),
        ],
        [`ratio ${CLIENTS} / 0 clients`, ratio(loadedCpu, bareCpu), "", "", "", "", "", "", ""],
        [
          "push CPU per client",
          ms((loadedCpu - bareCpu) / CLIENTS, 2),
          "",
          "",
          "",
          bytes(median(flips.map((f) => f.pushedBytes)) / CLIENTS),
          "",
          "",
          "",
        ],
      ],
    );
    printTable(
      "When each client had the change, ms after the write (median of the flips' p50 / max)",
      ["transport", "clients", "p50", "max"],
      (["sotw", "delta"] as const).map((t) => [
        t,
        flips[0]!.byTransport[t].length,
        m(flips.map((f) => median(f.byTransport[t]))),
        m(flips.map((f) => Math.max(...f.byTransport[t]))),
      ]),
    );
    console.log(
      `\nEach real Envoy's RSS: ${envoyRss.map(bytes).join(", ")}. This process (the ${CLIENTS - ENVOYS} synthetic ` +
        `clients) used ${ms(median(flips.map((f) => f.clientsCpuMs)), 0)} ms CPU per change (median), on the same 2 cores.`,
    );
    return { rest0, rest1, peakRss: Math.max(rest1.peakRss, ...flips.map((f) => f.peakRss)) };
  } finally {
    for (const c of synthetic) c.close();
    await Promise.all(envoys.map((e) => e.envoy.stop()));
    await xds.stop();
    await file.remove();
  }
}

async function main(): Promise<void> {
  const compiled = RUNTIMES.includes("js") ? await compileXdsServer() : undefined;
  const probe = await memoryProbe();
  try {
    const results: [Runtime, MemoryResult][] = [];
    for (const runtime of RUNTIMES)
      results.push([runtime, await runScale(runtime, compiled, probe.nodeOptions)]);
    if (results.length < 2) return;
    const [[base, a], [other, b]] = results as [[Runtime, MemoryResult], [Runtime, MemoryResult]];
    const row = (what: string, f: (r: MemoryResult) => number) => [
      what,
      bytes(f(a)),
      bytes(f(b)),
      ratio(f(b), f(a)),
    ];
    printTable(
      `The same run on ${base} and on ${other} (control plane RSS; ratio ${other} / ${base})`,
      ["state", base, other, "ratio"],
      [
        row("config loaded, no client", (r) => r.rest0.rssBeforeGc),
        row(`${CLIENTS} clients synced`, (r) => r.rest1.rssBeforeGc),
        row("per client", (r) => (r.rest1.rssBeforeGc - r.rest0.rssBeforeGc) / CLIENTS),
        row("peak RSS", (r) => r.peakRss),
        row(`RSS ${REST_WAIT_MS / 1000} s later, no client`, (r) => r.rest0.rssLater),
        row(`RSS ${REST_WAIT_MS / 1000} s later, ${CLIENTS} clients`, (r) => r.rest1.rssLater),
        row("RSS after a full GC, no client", (r) => r.rest0.rss),
        row(`RSS after a full GC, ${CLIENTS} clients`, (r) => r.rest1.rss),
        row("JS heap used, no client", (r) => r.rest0.heapUsed),
        row(`JS heap used, ${CLIENTS} clients`, (r) => r.rest1.heapUsed),
      ],
    );
  } finally {
    await compiled?.remove();
    await probe.remove();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
