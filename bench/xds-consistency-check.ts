/**
 * What the consistency check on every published snapshot (runner/publish.ts) costs: checkResourceSet
 * over both client groups' resources, at 1,000 and 10,000 models of 3 versions, medians of 5 runs,
 * beside the translation that produced them (the baseline, same run).
 *
 *   npx tsx bench/xds-consistency-check.ts
 *   BENCH_MODELS=1000,20000 npx tsx bench/xds-consistency-check.ts
 */
import { buildIR, unknownHealth } from "../xds-server/src/ir/index.js";
import { checkResourceSet, translate } from "../xds-server/src/translate/index.js";
import { fakeNodes, machineLine, median, modelsYaml, parseOrThrow, printTable } from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "1000,10000").split(",").map(Number);
const runs = 5;

const rows: (string | number)[][] = [];
for (const models of sizes) {
  const config = parseOrThrow(modelsYaml({ models, nodes: fakeNodes(10), scaleWeights: [90, 10] }));
  const translateMs: number[] = [];
  const checkMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    const resources = translate(buildIR(config, unknownHealth));
    translateMs.push(performance.now() - start);
    start = performance.now();
    const problems = [...checkResourceSet(resources.envoy), ...checkResourceSet(resources.proxyless)];
    checkMs.push(performance.now() - start);
    if (problems.length > 0) throw new Error(`inconsistent: ${JSON.stringify(problems.slice(0, 3))}`);
  }
  rows.push([
    models.toLocaleString("en-US"),
    median(translateMs).toFixed(1),
    median(checkMs).toFixed(1),
    (median(checkMs) / median(translateMs)).toFixed(2),
  ]);
}
printTable(
  `checkResourceSet on both groups vs the full translation, medians of ${runs}; ${machineLine()}`,
  ["models × 3", "IR + translate ms", "check ms", "ratio check / translate"],
  rows,
);
