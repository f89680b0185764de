/**
 * In-process cost of publishing one weight edit, stage by stage, as the etcd store and the runner
 * do it: the store assembles the config from its entries (one changed), then buildIR, the
 * incremental snapshot build and the consistency check before the cache takes it. No process,
 * no Envoy: the part of "edit → Envoy" (bench/xds-etcd.ts) that grows with the number of models.
 *
 * Baseline in the same run, interleaved: a full build of the same config (a fresh builder, as at
 * start-up). The ratio says how much of a full build one edit still costs; an edit that did only
 * its own model's work would cost about 1/models of it.
 *
 *   npx tsx bench/xds-edit-publish.ts
 *   BENCH_MODELS=1000,10000 BENCH_EDITS=40 npx tsx bench/xds-edit-publish.ts
 */
import { ConfigAssembler, type ModelEntry } from "@inferencehub/contracts/config";
import type { RawConfig, RawModel } from "@inferencehub/contracts/config";
import { buildIR, createIRMemo, unknownHealth, type IRMemo } from "../xds-server/src/ir/index.js";
import { createSnapshotBuilder, type SnapshotBuilder } from "../xds-server/src/snapshot/index.js";
import {
  fakeNodes,
  machineLine,
  median,
  modelsConfig,
  ms,
  percentile,
  printTable,
  progress,
  ratio,
  timed,
} from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "1000,10000").split(",").map(Number);
const edits = Number(process.env.BENCH_EDITS ?? 40);

/** build: the snapshot builder, its consistency check included (lastProblems). */
const STAGES = ["assemble", "ir", "build"] as const;
type Stage = (typeof STAGES)[number];

/** What the runner keeps from one publish to the next. */
interface Publisher {
  assembler: ConfigAssembler;
  builder: SnapshotBuilder;
  memo: IRMemo;
}

const fresh = (): Publisher => ({
  assembler: new ConfigAssembler(),
  builder: createSnapshotBuilder(),
  memo: createIRMemo(),
});

/** One publish, stage by stage: what runner/control-plane.ts does after the store's watch event. */
function publishOnce(
  { assembler, builder, memo }: Publisher,
  rest: Omit<RawConfig, "models">,
  entries: readonly ModelEntry[],
): Record<Stage, number> {
  const out = {} as Record<Stage, number>;
  const assembled = timed(() => assembler.assemble(rest, entries));
  out.assemble = assembled.cpuMs;
  if (!assembled.value.ok) throw new Error("the generated config is invalid");
  const config = assembled.value.value;
  const ir = timed(() => buildIR(config, unknownHealth, { memo }));
  out.ir = ir.cpuMs;
  const snapshots = timed(() => builder.build(ir.value));
  out.build = snapshots.cpuMs;
  const problems = [...builder.lastProblems.envoy, ...builder.lastProblems.proxyless];
  if (problems.length > 0) throw new Error(`inconsistent snapshot: ${problems.join("; ")}`);
  return out;
}

const entryOf = (raw: RawModel): ModelEntry => ({ raw, text: JSON.stringify(raw) });
const total = (r: Record<Stage, number>) => STAGES.reduce((sum, s) => sum + r[s], 0);

console.log(machineLine());
const rows: (string | number)[][] = [];
for (const models of sizes) {
  const raw = modelsConfig({ models, nodes: fakeNodes(3), scaleWeights: [90, 10] }) as RawConfig;
  const { models: rawModels = [], ...rest } = raw;
  const entries = rawModels.map(entryOf);
  const publisher = fresh();
  progress(`${models} models: first build`);
  publishOnce(publisher, rest, entries);
  const full: Record<Stage, number>[] = [];
  const edit: Record<Stage, number>[] = [];
  for (let i = 0; i < edits; i++) {
    // The baseline: everything from scratch, as a replica's start.
    if (i % 4 === 0) full.push(publishOnce(fresh(), rest, entries));
    // The edit: scale's weights, alternating, as the admin API's PUT .../weights writes them.
    const w = i % 2 === 0 ? [80, 20] : [90, 10];
    const scale = rawModels[0] as RawModel & { versions: { weight: number }[] };
    const next = { ...scale, versions: scale.versions.map((v, j) => ({ ...v, weight: j < 2 ? w[j]! : 0 })) };
    entries.splice(0, 1, entryOf(next as RawModel));
    edit.push(publishOnce(publisher, rest, entries));
    if (i % 10 === 9) progress(`${models} models: ${i + 1}/${edits} edits`);
  }
  const fullTotal = median(full.map(total));
  const editTotals = edit.map(total);
  rows.push([
    models,
    ...STAGES.map((s) => ms(median(edit.map((e) => e[s])))),
    ms(median(editTotals)),
    ms(percentile(editTotals, 99)),
    ms(fullTotal),
    ratio(median(editTotals), fullTotal, 3),
  ]);
}
printTable(
  `CPU ms per publish (medians; ${edits} edits, a full build every 4th as the baseline):`,
  [
    "models × 3",
    ...STAGES.map((s) => `edit: ${s}`),
    "edit total p50",
    "edit total p99",
    "full build (baseline)",
    "edit / full",
  ],
  rows,
);
