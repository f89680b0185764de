/**
 * Time to build every group's snapshot in process at 10,000 models of 3 versions: the work the
 * control plane does on each accepted edit before it can push anything. Parse excluded
 * (buildSnapshots on a parsed Config) and included (parseConfig + buildSnapshots, as a file
 * reload does), stage by stage; medians of several runs; heap held by the snapshots.
 *
 * Baseline in the same run, interleaved run by run so load from other work hits both: the same
 * at 1,000 models. The per-model ratio says whether the build grows linearly (1.00) or worse.
 * CPU time is printed beside wall time: on a shared machine it moves less with other work.
 *
 *   npx tsx bench/xds-snapshot-build.ts
 *   BENCH_MODELS=1000,10000,20000 BENCH_RUNS=3 npx tsx bench/xds-snapshot-build.ts
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { buildIR, unknownHealth } from "../xds-server/src/ir/index.js";
import { buildSnapshots } from "../xds-server/src/runner/index.js";
import {
  XDS_KINDS,
  checkSnapshot,
  contentHash,
  snapshotFromResources,
  type Snapshot,
} from "../xds-server/src/snapshot/index.js";
import { translate } from "../xds-server/src/translate/index.js";
import {
  bytes,
  fakeNodes,
  machineLine,
  median,
  modelsYaml,
  ms,
  parseOrThrow,
  printTable,
  processMemory,
  progress,
  ratio,
  timed,
} from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "1000,10000").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 4);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const STAGES = ["hash", "parse", "ir", "translate", "encode", "check"] as const;
type Stage = (typeof STAGES)[number];

interface Size {
  models: number;
  text: string;
  config: ReturnType<typeof parseOrThrow>;
  /** buildSnapshots(config), wall and CPU ms per run. */
  build: { wall: number[]; cpu: number[] };
  /** Stage by stage, the same calls buildSnapshots makes, wall ms per run. */
  stages: Record<Stage, number[]>;
  stagesCpu: number[];
}

/** The config file's path through the control plane, one stage at a time (see buildSnapshots). */
function stageRun(text: string): { times: Record<Stage, number>; cpuMs: number } {
  const cpu0 = process.cpuUsage();
  const t = [performance.now()];
  contentHash(text); // ConfigFile hashes the text on every reload
  t.push(performance.now());
  const config = parseOrThrow(text);
  t.push(performance.now());
  const ir = buildIR(config, unknownHealth);
  t.push(performance.now());
  const resources = translate(ir);
  t.push(performance.now());
  const snapshots = [snapshotFromResources(resources.envoy), snapshotFromResources(resources.proxyless)];
  t.push(performance.now());
  for (const s of snapshots) if (checkSnapshot(s).length > 0) throw new Error("inconsistent snapshot");
  t.push(performance.now());
  const cpu = process.cpuUsage(cpu0);
  const times = Object.fromEntries(STAGES.map((k, j) => [k, t[j + 1]! - t[j]!])) as Record<Stage, number>;
  return { times, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const all: Size[] = sizes.map((models) => {
    const text = modelsYaml({ models, nodes: fakeNodes(2), scaleWeights: [90, 10] });
    return {
      models,
      text,
      config: parseOrThrow(text),
      build: { wall: [], cpu: [] },
      stages: Object.fromEntries(STAGES.map((k) => [k, []])) as unknown as Record<Stage, number[]>,
      stagesCpu: [],
    };
  });

  // One build per size warms the JIT first. No forced GC before a timed run: after one, V8 sizes
  // the heap down and the build pays for extra collections that a running control plane does not.
  for (const s of all) buildSnapshots(s.config);
  for (let run = 1; run <= runs; run++) {
    for (const s of all) {
      progress(`run ${run}/${runs}, ${s.models} models`);
      const b = timed(() => buildSnapshots(s.config));
      s.build.wall.push(b.wallMs);
      s.build.cpu.push(b.cpuMs);
      const st = stageRun(s.text);
      for (const k of STAGES) s.stages[k].push(st.times[k]);
      s.stagesCpu.push(st.cpuMs);
    }
  }

  const held = all.map((s) => {
    const before = heapUsed();
    const snapshots = buildSnapshots(s.config);
    return { retained: heapUsed() - before, snapshots };
  });

  const p50 = (s: Size, k: Stage) => median(s.stages[k]);
  const buildOf = (s: Size) => p50(s, "ir") + p50(s, "translate") + p50(s, "encode") + p50(s, "check");
  const parseOf = (s: Size) => p50(s, "hash") + p50(s, "parse");
  const base = all[0]!;

  console.log(`\nSnapshot build in process (both groups, envoy and proxyless); ${machineLine()}`);
  console.log(
    `${runs} runs per size after one warm-up build, sizes interleaved run by run; medians; heap after a full GC; ` +
      `peak RSS of this process over the whole run ${bytes(processMemory(process.pid).peakRss)}.`,
  );
  printTable(
    `Build time, ms (baseline: ${base.models} models in the same run; per model vs baseline 1.00 = linear)`,
    [
      "models",
      "config YAML",
      "buildSnapshots p50 (wall)",
      "buildSnapshots p50 (CPU)",
      "max (wall)",
      "parse + build p50 (wall)",
      "parse + build p50 (CPU)",
      "per model vs baseline (CPU)",
      "heap held by the snapshots",
    ],
    all.map((s, i) => [
      `${s.models} × 3 versions`,
      bytes(Buffer.byteLength(s.text)),
      ms(median(s.build.wall)),
      ms(median(s.build.cpu)),
      ms(Math.max(...s.build.wall)),
      ms(parseOf(s) + buildOf(s)),
      ms(median(s.stagesCpu)),
      ratio(median(s.build.cpu) / s.models, median(base.build.cpu) / base.models),
      bytes(held[i]!.retained),
    ]),
  );
  printTable(
    "Stage by stage, p50 wall ms (share of parse + build)",
    [
      "models",
      "hash file",
      "parse + validate",
      "build IR",
      "translate",
      "encode + hash (2 groups)",
      "check",
      "sum",
    ],
    all.map((s) => {
      const sum = STAGES.reduce((n, k) => n + p50(s, k), 0);
      const cell = (k: Stage) => `${ms(p50(s, k))} (${((p50(s, k) / sum) * 100).toFixed(0)}%)`;
      return [s.models, ...STAGES.map(cell), ms(sum)];
    }),
  );
  printTable(
    "What the snapshots hold (resources / encoded bytes) and the largest single resource",
    ["models", "group", ...XDS_KINDS, "largest resource"],
    all.flatMap((s, i) =>
      Object.entries(held[i]!.snapshots).map(([group, snap]: [string, Snapshot]) => {
        let largest = { name: "", size: 0 };
        for (const kind of XDS_KINDS)
          for (const r of snap.resources[kind].values())
            if (r.any.value.length > largest.size) largest = { name: r.name, size: r.any.value.length };
        const kindCell = (k: (typeof XDS_KINDS)[number]) =>
          `${snap.resources[k].size} / ${bytes([...snap.resources[k].values()].reduce((n, r) => n + r.any.value.length, 0))}`;
        return [s.models, group, ...XDS_KINDS.map(kindCell), `${largest.name} ${bytes(largest.size)}`];
      }),
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
