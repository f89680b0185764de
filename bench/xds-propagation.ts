/**
 * Config propagation: from saving inferencehub.yaml (a rename, as editors save) to (a) the
 * Envoy's ACK of the new snapshot as the control plane reports it and (b) the first call through
 * Envoy answered by the new version, at 1, 100 and 1,000 models of 3 versions. Real processes:
 * one reference node, the control plane (its own process, watching the file) and one Envoy
 * (State of the World; delta too at 1,000 models), with a client loop on `scale` throughout.
 * Each flip moves scale 100/0 ↔ 0/100, so the first answer from the other version is unambiguous.
 *
 * (a) comes from the control plane's own records, not from polling /status (which, with the
 * health prober's tables, is megabytes at 1,000 models and would load the process measured):
 *   write → snapshot set: the time of its "snapshot published" log line (pino, ms resolution;
 *     logged right after the set and the synchronous push to the Envoy, so it includes that push);
 *   snapshot set → route ACK: inferencehub_xds_push_latency_seconds{kind="route"}, read before
 *     and after each flip; one observation per flip, so the _sum delta is its exact value;
 *   build: inferencehub_xds_snapshot_build_seconds, the same way.
 * Envoy's own record (its rds config_reload_time_ms gauge, ms resolution) is printed beside it.
 * Baseline in the same run: parse + buildSnapshots for the same config in this process, so the
 * table shows how much of the propagation is building and how much is the rest.
 *
 *   npx tsx bench/xds-propagation.ts
 *   BENCH_MODELS=1,100 BENCH_DELTA_MODELS=100 BENCH_FLIPS=10 npx tsx bench/xds-propagation.ts
 */
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { createInferClient, type InferClient } from "../scripts/lib/infer-client.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { buildSnapshots } from "../xds-server/src/runner/index.js";
import { XDS_KINDS } from "../xds-server/src/snapshot/index.js";
import type { Transport } from "./lib/ads-client.js";
import {
  histogramDelta,
  machineLine,
  median,
  modelsYaml,
  ms,
  now,
  parseOrThrow,
  percentile,
  printTable,
  progress,
  readHistogram,
  tempConfig,
  timed,
  envoyRouteReloadTime,
} from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "1,100,1000").split(",").map(Number);
const deltaSizes = new Set((process.env.BENCH_DELTA_MODELS ?? "1000").split(",").filter(Boolean).map(Number));
const flipsFor = (models: number) => Number(process.env.BENCH_FLIPS ?? (models <= 100 ? 30 : 15));
const CONCURRENCY = 2;
const ENVOY_ID = "bench-envoy";

const request = fp32Request("scale", SCALE_SAMPLE_INPUT);
const metadata = { "inferencehub-model": "scale" };

interface Flip {
  /** ms from the rename */
  writeToPublished: number;
  writeToEnvoyReload: number;
  writeToFirstCall: number;
  /** ms, from the control plane's histograms */
  cpBuild: number;
  setToRouteAck: number;
  /** Calls sent after Envoy's reload (its clock, +1 ms) that the old version still answered. */
  oldAfterReload: number;
  /** Kinds the Envoy ACKed during the flip, and snapshots the control plane published. */
  acked: string;
  publishes: number;
}

interface Run {
  models: number;
  transport: Transport;
  baselineBuild: number;
  baselineParseBuild: number;
  flips: Flip[];
  calls: number;
  failures: number;
}

interface CallRecord {
  sentAt: number;
  at: number;
  version: string;
}

/** A client loop on scale; expect() resolves with the first answer from a target version. */
function startCallLoop(client: InferClient) {
  const state = { calls: 0, failures: 0, target: "", records: [] as CallRecord[] };
  let waiter: { since: number; resolve: (at: number) => void } | undefined;
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      const sentAt = now();
      try {
        const { response } = await client.infer(request, { metadata, deadlineMs: 10_000 });
        const at = now();
        state.calls++;
        state.records.push({ sentAt, at, version: response.modelVersion });
        if (waiter && response.modelVersion === state.target && at >= waiter.since) {
          waiter.resolve(at);
          waiter = undefined;
        }
      } catch {
        state.failures++;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, worker);
  return {
    state,
    expect(target: string, since: number): Promise<number> {
      state.target = target;
      state.records = [];
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from version ${target} in 60 s`)), 60_000);
        waiter = {
          since,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
      });
    },
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Epoch ms of the control plane's "snapshot published" log lines for the envoy group since `since`. */
function publishedSince(xds: XdsProcess, sinceEpochMs: number): number[] {
  const times: number[] = [];
  for (const line of xds.logs) {
    if (!line.includes('"snapshot published"')) continue;
    const entry = JSON.parse(line) as { time: number; group: string };
    if (entry.group === "envoy" && entry.time >= sinceEpochMs) times.push(entry.time);
  }
  return times;
}

async function flipOnce(
  xds: XdsProcess,
  envoy: EnvoyProcess,
  loop: ReturnType<typeof startCallLoop>,
  transport: Transport,
  commit: () => Promise<void>,
  target: string,
): Promise<Flip> {
  const before = await xds.metrics();
  const reloadBefore = await envoyRouteReloadTime(envoy, "scale");
  // pino's and Envoy's records are wall-clock epoch ms: compare them with Date.now() at the write.
  const wall0 = Date.now();
  const t0 = now();
  const first = loop.expect(target, t0);
  await commit();
  const firstAt = await first;
  // The ACK follows Envoy's reload on its main thread; wait for the control plane to record it.
  const routeLatency = (text: string) =>
    readHistogram(text, "inferencehub_xds_push_latency_seconds", { kind: "route", transport });
  let after = await xds.metrics();
  for (let i = 0; histogramDelta(routeLatency(before), routeLatency(after)).count < 1; i++) {
    if (i > 200)
      throw new Error("the control plane recorded no route ACK within 10 s of the first new answer");
    await new Promise((r) => setTimeout(r, 50));
    after = await xds.metrics();
  }
  const reload = await envoyRouteReloadTime(envoy, "scale");
  // The log line comes through a pipe: it may arrive after the metrics answer.
  let published = publishedSince(xds, wall0);
  for (let i = 0; published.length === 0 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    published = publishedSince(xds, wall0);
  }
  const build = histogramDelta(
    readHistogram(before, "inferencehub_xds_snapshot_build_seconds"),
    readHistogram(after, "inferencehub_xds_snapshot_build_seconds"),
  );
  const route = histogramDelta(routeLatency(before), routeLatency(after));
  const acked = XDS_KINDS.filter(
    (kind) =>
      histogramDelta(
        readHistogram(before, "inferencehub_xds_push_latency_seconds", { kind, transport }),
        readHistogram(after, "inferencehub_xds_push_latency_seconds", { kind, transport }),
      ).count > 0,
  );
  // Envoy's gauge and Date.now() have ms resolution: a call sent over 2 ms after is later.
  const reloadHere = t0 + (reload - wall0);
  return {
    writeToPublished: (published[0] ?? NaN) - wall0,
    writeToEnvoyReload: reload === reloadBefore ? NaN : reload - wall0,
    writeToFirstCall: firstAt - t0,
    // Exact only for one observation each (checked in the table's last column).
    cpBuild: (build.sum / Math.max(build.count, 1)) * 1000,
    setToRouteAck: (route.sum / Math.max(route.count, 1)) * 1000,
    oldAfterReload: loop.state.records.filter((c) => c.sentAt > reloadHere + 2 && c.version !== target)
      .length,
    acked: `${acked.join("+")}${build.count !== 1 || route.count !== 1 ? ` (builds ${build.count}, route ACKs ${route.count})` : ""}`,
    publishes: published.length,
  };
}

async function runSize(node: NodeProcess, models: number): Promise<Run[]> {
  const listenPort = await freePort();
  const nodes = [{ name: "node-1", address: node.address }];
  const text = (scaleWeights: [number, number]) =>
    modelsYaml({
      models,
      nodes,
      scaleWeights,
      listener: { address: "127.0.0.1", port: listenPort },
      probeInterval: "1h",
    });
  const texts: Record<string, string> = { "1": text([100, 0]), "2": text([0, 100]) };

  // Baseline: the same build in this process, before anything of this size runs.
  const config = parseOrThrow(texts["1"]!);
  const builds: number[] = [];
  const parseBuilds: number[] = [];
  for (let i = 0; i < 6; i++) {
    const b = timed(() => buildSnapshots(config)).wallMs;
    const pb = timed(() => buildSnapshots(parseOrThrow(texts["1"]!))).wallMs;
    if (i === 0) continue; // warm-up
    builds.push(b);
    parseBuilds.push(pb);
  }

  const file = await tempConfig(texts["1"]!);
  const xds = await startXdsServer({ configPath: file.path });
  const runs: Run[] = [];
  try {
    for (const transport of ["sotw", "delta"] as const) {
      if (transport === "delta" && !deltaSizes.has(models)) continue;
      progress(`${models} models, ${transport}: starting Envoy`);
      const envoy = await startEnvoy({
        name: `bench-${transport}`,
        readyTimeoutMs: 120_000,
        bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
          NODE_ID: ENVOY_ID,
          NODE_CLUSTER: "bench",
          ADMIN_PORT: 0,
          XDS_HOST: "127.0.0.1",
          XDS_PORT: xds.adsPort,
          ADS_API_TYPE: transport === "delta" ? "DELTA_GRPC" : "GRPC",
        }),
      });
      const client = createInferClient(`127.0.0.1:${listenPort}`);
      const loop = startCallLoop(client);
      try {
        // The file may be on either version after the previous transport: start from 1.
        await file.write(texts["1"]!);
        await loop.expect("1", 0);
        await xds.waitForSync(ENVOY_ID, 120_000);
        // Count only the calls made around the flips, not those made while Envoy was starting.
        Object.assign(loop.state, { calls: 0, failures: 0 });
        const flips: Flip[] = [];
        const n = flipsFor(models);
        progress(`${models} models, ${transport}: ${n} flips`);
        for (let i = 0; i < n; i++) {
          const target = i % 2 === 0 ? "2" : "1";
          const commit = await file.stage(texts[target]!);
          flips.push(await flipOnce(xds, envoy, loop, transport, commit, target));
          if (process.env.BENCH_VERBOSE) progress(`flip ${i + 1}: ${JSON.stringify(flips.at(-1))}`);
          // Let stray pushes settle, and avoid flipping in phase with anything periodic.
          await new Promise((r) => setTimeout(r, 30 + Math.random() * 40));
        }
        runs.push({
          models,
          transport,
          baselineBuild: median(builds),
          baselineParseBuild: median(parseBuilds),
          flips,
          calls: loop.state.calls,
          failures: loop.state.failures,
        });
      } finally {
        await loop.stop();
        client.close();
        await envoy.stop();
      }
    }
  } finally {
    await xds.stop();
    await file.remove();
  }
  return runs;
}

async function main(): Promise<void> {
  const node = await startNode({ name: "bench-node", models: ["scale"] });
  const runs: Run[] = [];
  try {
    for (const models of sizes) runs.push(...(await runSize(node, models)));
  } finally {
    await node.stop();
  }

  const p = (xs: number[], q: number) => ms(percentile(xs, q));
  console.log(`\nConfig propagation, file rename → Envoy; ${machineLine()}`);
  console.log(
    `One reference node, the control plane and one Envoy (--concurrency 1) as processes; ` +
      `a client loop with ${CONCURRENCY} calls in flight on scale. ms, p50 / p99 over the flips.`,
  );
  printTable(
    "Propagation, ms (p50 / p99)",
    [
      "models × 3 versions",
      "ADS",
      "flips",
      "baseline: parse + build in process",
      "control plane build (its histogram)",
      "write → snapshot set and pushed (its log)",
      "snapshot set → route ACK (its histogram)",
      "(a) write → ACK (log + histogram)",
      "write → Envoy reloaded routes (its stat)",
      "(b) write → first call on the new version",
      "baseline / (a), p50",
    ],
    runs.map((r) => {
      const col = (f: (x: Flip) => number) => `${p(r.flips.map(f), 50)} / ${p(r.flips.map(f), 99)}`;
      const a = (f: Flip) => f.writeToPublished + f.setToRouteAck;
      return [
        r.models,
        r.transport,
        r.flips.length,
        `${ms(r.baselineParseBuild)} (build ${ms(r.baselineBuild)})`,
        col((f) => f.cpBuild),
        col((f) => f.writeToPublished),
        col((f) => f.setToRouteAck),
        col(a),
        col((f) => f.writeToEnvoyReload),
        col((f) => f.writeToFirstCall),
        (r.baselineParseBuild / percentile(r.flips.map(a), 50)).toFixed(2),
      ];
    }),
  );
  printTable(
    "Traffic and records during the flips",
    [
      "models × 3 versions",
      "ADS",
      "calls",
      "failed calls",
      "old version answered, sent > 2 ms after Envoy's reload",
      "kinds ACKed per flip",
      "snapshots published per flip",
    ],
    runs.map((r) => [
      r.models,
      r.transport,
      r.calls,
      r.failures,
      r.flips.reduce((n, f) => n + f.oldAfterReload, 0),
      [...new Set(r.flips.map((f) => f.acked))].join(", "),
      [...new Set(r.flips.map((f) => f.publishes))].join(", "),
    ]),
  );
  if (runs.some((r) => r.failures > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
