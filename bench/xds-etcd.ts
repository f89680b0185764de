/**
 * The config in etcd (#17), each figure against a baseline in the same run:
 *
 * 1. Edit → ACK: a weight change of `scale` through the admin API (PUT /v1/models/scale/weights,
 *    base_version from the previous answer) at 1,000 and 10,000 models, with the control plane on
 *    etcd (a BENCH_ETCD_MEMBERS-member cluster, default 1) and, interleaved edit by edit, the same
 *    edits on a control plane whose store is the file (baseline). Each has one real Envoy (SotW)
 *    and BENCH_CLIENTS synthetic ADS clients (default 1). Times from sending the admin call:
 *      answer     the admin call's answer (etcd: after the compare-and-swap and the watch event
 *                 have applied it on this replica; file: after the file is written and applied);
 *      published  the control plane's "snapshot published" log line (pino, ms; with the build's
 *                 built/reused units);
 *      client     the first synthetic client's receipt of the route response (it ACKs at once;
 *                 event time in this process, no polling of the control plane);
 *      Envoy      Envoy's own record, rds.<scale's route configuration>.config_reload_time_ms
 *                 (epoch ms; read after the client has it, so polling does not move it; Envoy
 *                 ACKs right after the reload). Envoy keeps only the rds., control_plane.,
 *                 cluster_manager., listener_manager. and server. stats (a stats_matcher), so that
 *                 reading them stays cheap at 30,000 clusters.
 *    The control plane's own record, read from /metrics before and after the series (not per
 *    edit: it is megabytes at these sizes): route ACKs and their mean set → ACK latency, and the
 *    mean incremental build.
 * 2. Replica failover: 2 control planes on a 3-member etcd, one Envoy listing both. kill -9 of
 *    the replica Envoy streams from → the survivor's /status lists Envoy with syncedVersion equal
 *    to its snapshot (polled; the poll's own duration is shown) and, event-based, the survivor's
 *    "xDS client connected" log line; bytes the survivor pushed meanwhile (its push_bytes metric).
 *    The killed replica is restarted (no seed: it reads etcd) on the same port before the next
 *    round. Baseline, interleaved round by round: a fresh Envoy's first sync against the survivor
 *    (process start → in sync on /status), same size.
 * 3. Start-up at 10,000 models: process start → ready line, for the file, for etcd with an empty
 *    store and the file as seed (the seed written in chunks first), and for etcd already holding
 *    the config (a restart), interleaved run by run.
 *
 *   npx tsx bench/xds-etcd.ts
 *   BENCH_MODELS=1000 BENCH_EDITS=30 BENCH_ETCD_MEMBERS=3 BENCH_CLIENTS=10 npx tsx bench/xds-etcd.ts
 *   BENCH_PARTS=failover BENCH_FAILOVERS=10 BENCH_FAILOVER_MODELS=100 npx tsx bench/xds-etcd.ts
 *   BENCH_PARTS=startup BENCH_STARTUP_MODELS=10000 BENCH_STARTS=3 npx tsx bench/xds-etcd.ts
 *   BENCH_PARTS=edits BENCH_XDS_ENV="NODE_OPTIONS=--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx bench/xds-etcd.ts
 */
import { startEtcdCluster } from "../scripts/lib/etcd-process.js";
import {
  renderBootstrap,
  startEnvoy,
  withXdsReplicas,
  type EnvoyProcess,
} from "../scripts/lib/envoy-process.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { startXdsServer, type XdsProcess, type XdsStatus } from "../scripts/lib/xds-process.js";
import { envoyLike, type EnvoyLikeClient } from "./lib/ads-client.js";
import {
  bytes,
  envFromText,
  envoyRouteReloadTime,
  fakeNodes,
  histogramDelta,
  logEntries,
  machineLine,
  median,
  modelsYaml,
  ms,
  now,
  percentile,
  pollFor,
  printTable,
  progress,
  readHistogram,
  tempConfig,
  type TempConfig,
} from "./lib/xds-bench.js";

const PARTS = new Set((process.env.BENCH_PARTS ?? "edits,failover,startup").split(",").map((s) => s.trim()));
const SIZES = (process.env.BENCH_MODELS ?? "1000,10000").split(",").filter(Boolean).map(Number);
const ETCD_MEMBERS = Number(process.env.BENCH_ETCD_MEMBERS ?? 1);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1);
const editsFor = (models: number) => Number(process.env.BENCH_EDITS ?? (models <= 1000 ? 20 : 10));
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 5);
const FAILOVER_MODELS = Number(process.env.BENCH_FAILOVER_MODELS ?? 1000);
const STARTUP_MODELS = Number(process.env.BENCH_STARTUP_MODELS ?? 10000);
const STARTS = Number(process.env.BENCH_STARTS ?? 2);

const TOKEN = "bench-etcd-admin-token-0123456789";
const EDITED = "scale";
const WEIGHTS: readonly Record<string, number>[] = [
  { "1": 0, "2": 100, "3": 0 },
  { "1": 100, "2": 0, "3": 0 },
];
/** A control plane at 10,000 models takes tens of seconds to start; Envoy to take 30,000 clusters too. */
const SLOW_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 600_000);
/** Extra environment for the control planes, e.g. "NODE_OPTIONS=--cpu-prof --cpu-prof-dir=/tmp/prof". */
const XDS_ENV = envFromText(process.env.BENCH_XDS_ENV);
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const p = (xs: readonly number[], q: number, digits = 1) => ms(percentile(xs, q), digits);
const p50p99 = (xs: readonly number[]) => `${p(xs, 50)} / ${p(xs, 99)}`;

// ---------------------------------------------------------------------------------------------
// Processes, always stopped

type Stop = () => Promise<unknown>;

/** Runs `fn`, then stops everything it registered with `own`, last first, even when it throws. */
async function scoped<T>(
  fn: (own: <X>(x: X, stop: (x: X) => Promise<unknown>) => X) => Promise<T>,
): Promise<T> {
  const stops: Stop[] = [];
  try {
    return await fn((x, stop) => {
      stops.push(() => stop(x));
      return x;
    });
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((err: unknown) => progress(`cleanup: ${String(err)}`));
    }
  }
}

// Ctrl-C or a kill: exit, so that the process helpers' exit hooks SIGKILL every child
// (control planes, Envoys, etcd members) and remove etcd's data dirs.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

const stopXds = (x: XdsProcess) => x.stop();
const stopEnvoy = (e: EnvoyProcess) => e.stop();
const removeFile = (f: TempConfig) => f.remove();

/** A generated config on one node nobody calls, probed hourly (no health change mid-measurement). */
const generatedConfig = (models: number, label: string) =>
  tempConfig(
    modelsYaml({ models, nodes: fakeNodes(1), scaleWeights: [100, 0], probeInterval: "1h" }),
    `inferencehub-bench-${label}-`,
  );

/** One control plane, its admin API with the token, on etcd or on the file. */
function startCp(opts: {
  file: TempConfig;
  etcd?: { endpoints: string[]; prefix: string };
  adsPort?: number;
  seed?: boolean;
}) {
  return startXdsServer({
    ...(opts.etcd ? { etcd: opts.etcd } : {}),
    ...(!opts.etcd || opts.seed !== false ? { configPath: opts.file.path } : {}),
    ...(opts.adsPort ? { adsPort: opts.adsPort } : {}),
    env: { INFERENCEHUB_ADMIN_TOKEN: TOKEN, ...XDS_ENV },
  });
}

/**
 * The ADS bootstrap (SotW) listing these control planes, with Envoy's stats cut down to the
 * families read here: at 10,000 models, 30,000 clusters' stats would make each read of /stats
 * (and Envoy's memory) large.
 */
function bootstrap(nodeId: string, adsPorts: number[]): object {
  const rendered = renderBootstrap("bootstrap-ads.template.yaml", {
    NODE_ID: nodeId,
    NODE_CLUSTER: "bench",
    ADMIN_PORT: 0,
    XDS_HOST: "127.0.0.1",
    XDS_PORT: adsPorts[0]!,
    ADS_API_TYPE: "GRPC",
  });
  const b = withXdsReplicas(
    rendered,
    adsPorts.map((port) => ({ host: "127.0.0.1", port })),
  );
  // Route stats are http.<prefix>.rds.<name>.* (scoped: under the connection manager's prefix).
  const patterns = [
    { contains: "rds." },
    ...["control_plane.", "cluster_manager.", "listener_manager.", "server."].map((prefix) => ({ prefix })),
  ];
  return { ...b, stats_config: { stats_matcher: { inclusion_list: { patterns } } } };
}

async function admin(
  xds: XdsProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${xds.adminPort}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const inSync = (s: XdsStatus, nodeId: string) =>
  s.clients.some(
    (c) => c.nodeId === nodeId && c.syncedVersion !== "" && c.syncedVersion === s.snapshots[c.group],
  );

/** Polls /status (megabytes at these sizes: once a second) until every named client is in sync. */
async function waitAllInSync(xds: XdsProcess, nodeIds: string[], timeoutMs = SLOW_MS): Promise<void> {
  await pollFor(
    async () => {
      const s = await xds.status();
      return nodeIds.every((id) => inSync(s, id)) ? true : undefined;
    },
    `${nodeIds.join(", ")} in sync`,
    timeoutMs,
    1_000,
  );
}

/** Waits until the control plane has published nothing for `quietMs` (the prober's first round, say). */
async function settle(xds: XdsProcess, quietMs = 2_000): Promise<void> {
  await sleep(quietMs);
  await pollFor(
    () => (logEntries(xds.logs, "snapshot published", Date.now() - quietMs).length === 0 ? true : undefined),
    "the control plane to stop publishing",
    SLOW_MS,
    250,
  );
}

// ---------------------------------------------------------------------------------------------
// 1. Edit → ACK

type Mode = "etcd" | "file";

interface Edit {
  /** ms from sending the admin call */
  answer: number;
  published: number;
  client: number;
  envoy: number;
  publishes: number;
  built: number;
}

interface ModeRun {
  mode: Mode;
  xds: XdsProcess;
  envoy: EnvoyProcess;
  clients: EnvoyLikeClient[];
  base: string;
  flip: number;
  edits: Edit[];
  startMs: number;
  metricsBefore: string;
  metricsAfter: string;
}

async function editOnce(run: ModeRun): Promise<Edit> {
  const primary = run.clients[0];
  const routes0 = primary?.counters.route.responses ?? 0;
  const reload0 = await envoyRouteReloadTime(run.envoy, EDITED);
  const weights = WEIGHTS[run.flip++ % 2]!;
  const wall0 = Date.now();
  const t0 = now();
  const res = await admin(run.xds, "PUT", `/v1/models/${EDITED}/weights`, {
    base_version: run.base,
    weights,
  });
  const answer = now() - t0;
  if (res.status !== 200)
    throw new Error(`${run.mode}: the edit was refused: ${res.status} ${JSON.stringify(res.body)}`);
  run.base = String(res.body.configVersion);
  if (process.env.BENCH_VERBOSE)
    progress(`${run.mode}: answered in ${ms(answer)} ms: ${JSON.stringify(res.body).slice(0, 200)}`);
  const clientAt = primary
    ? await pollFor(
        () => (primary.counters.route.responses > routes0 ? primary.counters.route.lastAt : undefined),
        `${run.mode}: the synthetic client to get the route`,
        SLOW_MS,
        1,
      )
    : NaN;
  const reload = await pollFor(
    async () => {
      const r = await envoyRouteReloadTime(run.envoy, EDITED);
      return Number.isFinite(r) && r !== reload0 ? r : undefined;
    },
    `${run.mode}: Envoy to reload ${EDITED}'s routes`,
    SLOW_MS,
    10,
  );
  // The log comes through a pipe: it may arrive after the rest.
  const published = await pollFor(
    () => {
      const e = logEntries(run.xds.logs, "snapshot published", wall0).filter((x) => x.group === "envoy");
      return e.length > 0 ? e : undefined;
    },
    `${run.mode}: the "snapshot published" line`,
    10_000,
    10,
  );
  return {
    answer,
    published: published[0]!.time - wall0,
    client: clientAt - t0,
    envoy: reload - wall0,
    publishes: published.length,
    built: Number(published[0]!.built ?? NaN),
  };
}

async function editsAtSize(
  models: number,
  etcdEndpoints: string[],
): Promise<{ models: number; runs: ModeRun[]; etcdConfig: string }> {
  return scoped(async (own) => {
    const text = modelsYaml({ models, nodes: fakeNodes(1), scaleWeights: [100, 0], probeInterval: "1h" });
    const etcdConfig = `${ETCD_MEMBERS}-member etcd`;
    const runs: ModeRun[] = [];
    for (const mode of ["etcd", "file"] as const) {
      progress(`${models} models, ${mode}: starting the control plane`);
      const file = own(await tempConfig(text, `inferencehub-bench-${mode}-`), removeFile);
      const t0 = now();
      const xds = own(
        await startCp({
          file,
          ...(mode === "etcd"
            ? { etcd: { endpoints: etcdEndpoints, prefix: `/bench-${process.pid}-${models}/` } }
            : {}),
        }),
        stopXds,
      );
      const startMs = now() - t0;
      progress(`${models} models, ${mode}: ready in ${ms(startMs, 0)} ms; starting Envoy`);
      const envoy = own(
        await startEnvoy({
          name: `bench-${mode}`,
          readyTimeoutMs: SLOW_MS,
          bootstrap: bootstrap(`envoy-${mode}`, [xds.adsPort]),
        }),
        stopEnvoy,
      );
      const clients = Array.from({ length: CLIENTS }, (_, i) =>
        own(
          envoyLike(
            `127.0.0.1:${xds.adsPort}`,
            "sotw",
            { id: `synthetic-${mode}-${i}`, cluster: "bench" },
            { countBytes: false },
          ),
          async (c) => c.close(),
        ),
      );
      await waitAllInSync(xds, [`envoy-${mode}`, ...clients.map((_, i) => `synthetic-${mode}-${i}`)]);
      const model = await admin(xds, "GET", `/v1/models/${EDITED}`);
      if (model.status !== 200)
        throw new Error(`GET /v1/models/${EDITED}: ${model.status} ${JSON.stringify(model.body)}`);
      runs.push({
        mode,
        xds,
        envoy,
        clients,
        base: String(model.body.configVersion),
        flip: 0,
        edits: [],
        startMs,
        metricsBefore: "",
        metricsAfter: "",
      });
    }
    for (const run of runs) {
      progress(`${models} models, ${run.mode}: waiting for the control plane to settle`);
      await settle(run.xds);
      run.metricsBefore = await run.xds.metrics();
    }
    const n = editsFor(models);
    progress(`${models} models: ${n} edits in each mode, interleaved`);
    for (let i = 0; i < n; i++) {
      for (const run of i % 2 === 0 ? runs : [...runs].reverse()) {
        run.edits.push(await editOnce(run));
        if (process.env.BENCH_VERBOSE)
          progress(`${run.mode} edit ${i + 1}: ${JSON.stringify(run.edits.at(-1))}`);
        await sleep(50 + Math.random() * 50);
      }
    }
    await sleep(300);
    for (const run of runs) {
      run.metricsAfter = await run.xds.metrics();
      const errors = run.clients.filter((c) => c.error);
      if (errors.length > 0)
        throw new Error(
          `${run.mode}: ${errors.length} synthetic client stream(s) failed: ${errors[0]!.error!.message}`,
        );
    }
    return { models, runs, etcdConfig };
  });
}

function printEdits(results: Awaited<ReturnType<typeof editsAtSize>>[]): void {
  const rows: (string | number)[][] = [];
  const breakdown: (string | number)[][] = [];
  for (const { models, runs, etcdConfig } of results) {
    for (const run of runs) {
      const e = run.edits;
      const col = (f: (x: Edit) => number) => p50p99(e.map(f));
      rows.push([
        models,
        run.mode === "etcd" ? `etcd (${etcdConfig})` : "file (baseline)",
        e.length,
        col((x) => x.answer),
        col((x) => x.published),
        CLIENTS > 0 ? col((x) => x.client) : "n/a",
        col((x) => x.envoy),
      ]);
      const route = histogramDelta(
        readHistogram(run.metricsBefore, "inferencehub_xds_push_latency_seconds", {
          kind: "route",
          transport: "sotw",
        }),
        readHistogram(run.metricsAfter, "inferencehub_xds_push_latency_seconds", {
          kind: "route",
          transport: "sotw",
        }),
      );
      const build = histogramDelta(
        readHistogram(run.metricsBefore, "inferencehub_xds_snapshot_build_seconds"),
        readHistogram(run.metricsAfter, "inferencehub_xds_snapshot_build_seconds"),
      );
      breakdown.push([
        models,
        run.mode,
        ms(median(e.map((x) => x.published))),
        ms((build.sum / Math.max(build.count, 1)) * 1000),
        ms(median(e.map((x) => x.answer - x.published))),
        ms(median(e.map((x) => x.envoy - x.published))),
        `${route.count} (${ms((route.sum / Math.max(route.count, 1)) * 1000)})`,
        [...new Set(e.map((x) => x.publishes))].join(", "),
        [...new Set(e.map((x) => x.built))].join(", "),
        ms(run.startMs, 0),
      ]);
    }
  }
  printTable(
    "Admin API weight change → Envoy, ms from sending the call (p50 / p99)",
    [
      "models × 3",
      "store",
      "edits",
      "admin answer",
      "snapshot published (its log)",
      "synthetic client has the route",
      "Envoy reloaded the route (its gauge)",
    ],
    rows,
  );
  printTable(
    "Where the time goes (medians, ms)",
    [
      "models × 3",
      "store",
      "send → published",
      "build (its histogram, mean)",
      "published → admin answer",
      "published → Envoy reloaded",
      "route ACKs recorded, all clients (mean set → ACK)",
      "publishes per edit",
      "units built per edit",
      "start → ready",
    ],
    breakdown,
  );
}

// ---------------------------------------------------------------------------------------------
// 2. Replica failover

interface Failover {
  /** ms from the kill */
  connected: number;
  inSync: number;
  /** Duration of the /status poll that saw it in sync (its resolution). */
  pollMs: number;
  pushed: number;
  restartMs: number;
}

interface FreshSync {
  live: number;
  inSync: number;
  pollMs: number;
  pushed: number;
}

const pushedBytes = (text: string) => metricValue(text, "inferencehub_xds_push_bytes_total");

/** Polls /status every 20 ms (plus its own time) until `nodeId` is in sync: ms from t0 and the poll's duration. */
async function timeToSync(
  xds: XdsProcess,
  nodeId: string,
  t0: number,
): Promise<{ at: number; pollMs: number }> {
  return pollFor(
    async () => {
      const sent = now();
      const s = await xds.status();
      const at = now();
      return inSync(s, nodeId) ? { at: at - t0, pollMs: at - sent } : undefined;
    },
    `${nodeId} in sync`,
    120_000,
    20,
  );
}

async function failovers(): Promise<{ failovers: Failover[]; fresh: FreshSync[] }> {
  return scoped(async (own) => {
    progress(`failover: 3 etcd members, 2 control planes at ${FAILOVER_MODELS} models`);
    const etcd = own(await startEtcdCluster({ size: 3, name: "bench-failover" }), (c) => c.stop());
    const file = own(await generatedConfig(FAILOVER_MODELS, "failover"), removeFile);
    const etcdOpts = { endpoints: etcd.endpoints, prefix: `/bench-failover-${process.pid}/` };
    // Every replica ever started: stopping one already dead is a no-op.
    const replicas: XdsProcess[] = [];
    const startReplica = async (adsPort?: number, seed = true) => {
      const x = own(await startCp({ file, etcd: etcdOpts, seed, ...(adsPort ? { adsPort } : {}) }), stopXds);
      return x;
    };
    replicas.push(await startReplica());
    replicas.push(await startReplica());
    const live = [replicas[0]!, replicas[1]!];
    const nodeId = "envoy-ha";
    own(
      await startEnvoy({
        name: "bench-ha",
        readyTimeoutMs: SLOW_MS,
        bootstrap: bootstrap(
          nodeId,
          live.map((r) => r.adsPort),
        ),
      }),
      stopEnvoy,
    );
    const result = { failovers: [] as Failover[], fresh: [] as FreshSync[] };
    for (let i = 0; i < FAILOVERS; i++) {
      // Which replica holds Envoy's stream now.
      const victimIndex = await pollFor(
        async () => {
          const statuses = await Promise.all(live.map((r) => r.status()));
          const holding = statuses.map((s) => inSync(s, nodeId));
          return holding.filter(Boolean).length === 1 ? holding.indexOf(true) : undefined;
        },
        `exactly one replica to hold ${nodeId} in sync`,
        120_000,
        200,
      );
      const victim = live[victimIndex]!;
      const survivor = live[1 - victimIndex]!;
      await settle(survivor, 1_000);
      const before = pushedBytes(await survivor.metrics());
      progress(`failover ${i + 1}/${FAILOVERS}: kill -9 the replica on ADS port ${victim.adsPort}`);
      const wall0 = Date.now();
      const t0 = now();
      victim.process.kill("SIGKILL");
      const sync = await timeToSync(survivor, nodeId, t0);
      const connected = await pollFor(
        () => logEntries(survivor.logs, "xDS client connected", wall0).find((e) => e.node === nodeId),
        `the survivor's "xDS client connected" line`,
        10_000,
        10,
      );
      const pushed = pushedBytes(await survivor.metrics()) - before;
      if (victim.process.exitCode === null && victim.process.signalCode === null)
        await new Promise((r) => victim.process.once("exit", r));
      const r0 = now();
      const restarted = await startReplica(victim.adsPort, false);
      const restartMs = now() - r0;
      replicas.push(restarted);
      live[victimIndex] = restarted;
      result.failovers.push({
        connected: connected.time - wall0,
        inSync: sync.at,
        pollMs: sync.pollMs,
        pushed,
        restartMs,
      });
      if (process.env.BENCH_VERBOSE) progress(JSON.stringify(result.failovers.at(-1)));

      // Baseline: a fresh Envoy's first sync against the survivor.
      await settle(survivor, 1_000);
      const freshId = `envoy-fresh-${i}`;
      const freshBefore = pushedBytes(await survivor.metrics());
      progress(`baseline ${i + 1}/${FAILOVERS}: a fresh Envoy on ADS port ${survivor.adsPort}`);
      const f0 = now();
      const fresh = await startEnvoy({
        name: `bench-fresh-${i}`,
        readyTimeoutMs: SLOW_MS,
        bootstrap: bootstrap(freshId, [survivor.adsPort]),
      });
      try {
        const live_ = now() - f0;
        const freshSync = await timeToSync(survivor, freshId, f0);
        const freshPushed = pushedBytes(await survivor.metrics()) - freshBefore;
        result.fresh.push({
          live: live_,
          inSync: freshSync.at,
          pollMs: freshSync.pollMs,
          pushed: freshPushed,
        });
      } finally {
        await fresh.stop();
      }
    }
    return result;
  });
}

function printFailovers(r: { failovers: Failover[]; fresh: FreshSync[] }): void {
  const f = r.failovers;
  printTable(
    `Replica failover at ${FAILOVER_MODELS} models × 3: ms from kill -9 (failover) or from starting Envoy (baseline); p50 / p99 (max) over ${f.length}`,
    [
      "case",
      "rounds",
      "Envoy connected (survivor's log)",
      "Envoy in sync (survivor's /status)",
      "/status poll took",
      "bytes pushed (its metric)",
    ],
    [
      [
        "failover: kill -9 the replica Envoy streams from",
        f.length,
        `${p50p99(f.map((x) => x.connected))} (${ms(Math.max(...f.map((x) => x.connected)))})`,
        `${p50p99(f.map((x) => x.inSync))} (${ms(Math.max(...f.map((x) => x.inSync)))})`,
        ms(median(f.map((x) => x.pollMs))),
        bytes(median(f.map((x) => x.pushed))),
      ],
      [
        "baseline: a fresh Envoy's first sync",
        r.fresh.length,
        `LIVE: ${p50p99(r.fresh.map((x) => x.live))}`,
        `${p50p99(r.fresh.map((x) => x.inSync))} (${ms(Math.max(...r.fresh.map((x) => x.inSync)))})`,
        ms(median(r.fresh.map((x) => x.pollMs))),
        bytes(median(r.fresh.map((x) => x.pushed))),
      ],
    ],
  );
  console.log(
    `\nThe killed replica, restarted from etcd (no seed) on the same port: start → ready ${p50p99(f.map((x) => x.restartMs))} ms (p50 / p99).`,
  );
}

// ---------------------------------------------------------------------------------------------
// 3. Start-up

type StartCase = "file" | "etcd, empty store (seed)" | "etcd, config already there";

async function startups(etcdEndpoints: string[]): Promise<Record<StartCase, number[]>> {
  return scoped(async (own) => {
    const file = own(await generatedConfig(STARTUP_MODELS, "startup"), removeFile);
    const times: Record<StartCase, number[]> = {
      file: [],
      "etcd, empty store (seed)": [],
      "etcd, config already there": [],
    };
    const once = async (what: StartCase, start: () => Promise<XdsProcess>) => {
      progress(`start-up at ${STARTUP_MODELS} models: ${what}`);
      const t0 = now();
      const xds = await start();
      times[what].push(now() - t0);
      await xds.stop();
      await sleep(500);
    };
    for (let i = 0; i < STARTS; i++) {
      const etcd = { endpoints: etcdEndpoints, prefix: `/bench-startup-${process.pid}-${i}/` };
      await once("file", () => startCp({ file }));
      await once("etcd, empty store (seed)", () => startCp({ file, etcd }));
      await once("etcd, config already there", () => startCp({ file, etcd, seed: false }));
    }
    return times;
  });
}

function printStartups(times: Record<StartCase, number[]>): void {
  const file = median(times.file);
  printTable(
    `Control plane start-up at ${STARTUP_MODELS} models × 3: process start → ready line, ms`,
    ["store", "runs", "median", "max", "vs the file"],
    Object.entries(times).map(([what, xs]) => [
      what === "file" ? "file (baseline)" : what,
      xs.length,
      ms(median(xs), 0),
      ms(Math.max(...xs), 0),
      (median(xs) / file).toFixed(2),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const out: (() => void)[] = [];
  if (PARTS.has("edits") || PARTS.has("startup")) {
    await scoped(async (own) => {
      progress(`starting a ${ETCD_MEMBERS}-member etcd cluster`);
      const etcd = own(await startEtcdCluster({ size: ETCD_MEMBERS, name: "bench-edits" }), (c) => c.stop());
      if (PARTS.has("edits")) {
        const results: Awaited<ReturnType<typeof editsAtSize>>[] = [];
        for (const models of SIZES) results.push(await editsAtSize(models, etcd.endpoints));
        out.push(() => printEdits(results));
      }
      if (PARTS.has("startup")) {
        const times = await startups(etcd.endpoints);
        out.push(() => printStartups(times));
      }
    });
  }
  if (PARTS.has("failover")) {
    const r = await failovers();
    out.push(() => printFailovers(r));
  }
  console.log(`\nThe config in etcd; ${machineLine()}`);
  console.log(
    `Configs: scale plus generated models, 3 versions each, on one node nobody calls; prober interval 1 h. ` +
      `Envoy --concurrency 1, SotW; ${CLIENTS} synthetic SotW client(s) per control plane.`,
  );
  for (const print of out) print();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
