/**
 * A full snapshot build, ours against go-control-plane's, on the same machine in the same run
 * (issue #17). Ours: buildSnapshots on a parsed config (IR, translation, encoding and a sha256
 * per resource, both groups, the consistency check), as bench/xds-snapshot-build.ts times it.
 * go-control-plane's: bench/go-control-plane (see its main.go), the same resources built as Go
 * protos, cache.NewSnapshot, ConstructVersionMap (deterministic marshal + sha256 per resource)
 * and Consistent(), both groups. The config is the one bench/xds-snapshot-build.ts generates.
 *
 * The Go program is built once (`go build`, needs Go and its module cache or the module proxy),
 * then each round runs ours (after one warm-up build per size) and a fresh Go process (one
 * untimed warm-up run, then one timed run), size after size, so load from other work hits both.
 *
 *   npx tsx bench/xds-build-vs-go.ts
 *   BENCH_MODELS=1000,10000 BENCH_RUNS=4 npx tsx bench/xds-build-vs-go.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSnapshots } from "../xds-server/src/runner/index.js";
import { TYPE_URLS, XDS_KINDS } from "../xds-server/src/snapshot/index.js";
import {
  bytes,
  fakeNodes,
  machineLine,
  median,
  modelsYaml,
  ms,
  parseOrThrow,
  printTable,
  progress,
  ratio,
  timed,
} from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "1000,10000").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 4);
const goDir = join(dirname(fileURLToPath(import.meta.url)), "go-control-plane");

/** One line of the Go program's output (see main.go's result). */
interface GoRun {
  models: number;
  wallMs: number;
  cpuMs: number;
  stagesMs: Record<"build" | "snapshot" | "versions" | "check", number>;
  resources: Record<string, number>;
  bytes?: Record<string, number>;
  consistent: Record<string, string>;
}

interface Size {
  models: number;
  config: ReturnType<typeof parseOrThrow>;
  ours: { wall: number[]; cpu: number[] };
  go: GoRun[];
}

function goRun(bin: string, models: number): GoRun {
  const out = execFileSync(bin, ["-models", String(models), "-runs", "1", "-warmup", "1"], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as GoRun;
}

/** Resources and encoded bytes per group and kind of our snapshots, as "count / bytes". */
function ourSizes(config: Size["config"]): Map<string, string> {
  const cells = new Map<string, string>();
  for (const [group, snap] of Object.entries(buildSnapshots(config))) {
    for (const kind of XDS_KINDS) {
      const records = [...snap.resources[kind].values()];
      const size = records.reduce((n, r) => n + r.any.value.length, 0);
      if (records.length > 0) cells.set(`${group} ${kind}`, `${records.length} / ${bytes(size)}`);
    }
  }
  return cells;
}

/**
 * How many of the resources the two build are equal as messages at a small size, per group and
 * kind: ours, encoded, go to the Go program, which decodes each and compares its protojson text
 * (Any values unpacked) with its own resource of that name. Bytes differ (see main.go).
 */
function sameMessages(bin: string, dir: string, models: number): string[][] {
  const config = parseOrThrow(modelsYaml({ models, nodes: fakeNodes(2), scaleWeights: [90, 10] }));
  const ours: Record<string, Record<string, Record<string, string>>> = {};
  for (const [group, snap] of Object.entries(buildSnapshots(config))) {
    const byType: Record<string, Record<string, string>> = (ours[group] = {});
    for (const kind of XDS_KINDS)
      byType[TYPE_URLS[kind]] = Object.fromEntries(
        [...snap.resources[kind].values()].map((r) => [r.name, Buffer.from(r.any.value).toString("base64")]),
      );
  }
  const file = join(dir, "ours.json");
  writeFileSync(file, JSON.stringify(ours));
  const result = JSON.parse(
    execFileSync(bin, ["-models", String(models), "-compare", file], {
      encoding: "utf8",
      maxBuffer: 16 << 20,
    }),
  ) as Record<string, { equal: number; of: number; ours: number; differ: string[] }>;
  return Object.entries(result)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, r]) => [
      key,
      `${r.equal} of ${r.of}`,
      String(r.ours),
      r.differ.slice(0, 3).join(", ") + (r.differ.length > 3 ? ", ..." : ""),
    ]);
}

function main(): void {
  const tmp = mkdtempSync(join(tmpdir(), "xds-build-vs-go-"));
  try {
    const bin = join(tmp, "go-control-plane-build");
    progress(`go build in ${goDir}`);
    execFileSync("go", ["build", "-o", bin, "."], {
      cwd: goDir,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    });
    const goVersion = execFileSync("go", ["version"], { encoding: "utf8" }).trim();
    const gcp = execFileSync(
      "go",
      [
        "list",
        "-m",
        "-f",
        "{{.Path}} {{.Version}}",
        "github.com/envoyproxy/go-control-plane",
        "github.com/envoyproxy/go-control-plane/envoy",
      ],
      { cwd: goDir, encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" } },
    )
      .trim()
      .split("\n")
      .join(", ");

    const checkModels = 100;
    const identical = sameMessages(bin, tmp, checkModels);

    const all: Size[] = sizes.map((models) => ({
      models,
      config: parseOrThrow(modelsYaml({ models, nodes: fakeNodes(2), scaleWeights: [90, 10] })),
      ours: { wall: [], cpu: [] },
      go: [],
    }));
    // One build per size warms the JIT first; no forced GC (see bench/xds-snapshot-build.ts).
    for (const s of all) buildSnapshots(s.config);
    for (let run = 1; run <= runs; run++) {
      for (const s of all) {
        progress(`run ${run}/${runs}, ${s.models} models: ours`);
        const b = timed(() => buildSnapshots(s.config));
        s.ours.wall.push(b.wallMs);
        s.ours.cpu.push(b.cpuMs);
        progress(`run ${run}/${runs}, ${s.models} models: go-control-plane`);
        s.go.push(goRun(bin, s.models));
      }
    }

    console.log(`\nFull snapshot build, both groups (envoy and proxyless); ${machineLine()}`);
    console.log(`${goVersion}; ${gcp}. ${runs} runs per size, interleaved; medians (p50).`);
    const goMedian = (s: Size, f: (r: GoRun) => number) => median(s.go.map(f));
    printTable(
      "Build time, ms",
      [
        "models × 3 versions",
        "ours p50 wall",
        "ours p50 CPU",
        "go-control-plane p50 wall",
        "go-control-plane p50 CPU",
        "ours / go (wall)",
        "ours / go (CPU)",
      ],
      all.map((s) => [
        s.models,
        ms(median(s.ours.wall)),
        ms(median(s.ours.cpu)),
        ms(goMedian(s, (r) => r.wallMs)),
        ms(goMedian(s, (r) => r.cpuMs)),
        ratio(
          median(s.ours.wall),
          goMedian(s, (r) => r.wallMs),
        ),
        ratio(
          median(s.ours.cpu),
          goMedian(s, (r) => r.cpuMs),
        ),
      ]),
    );
    printTable(
      "go-control-plane by stage, p50 wall ms",
      [
        "models",
        "build protos",
        "NewSnapshot",
        "ConstructVersionMap (marshal + sha256)",
        "Consistent()",
        "consistent",
      ],
      all.map((s) => [
        s.models,
        ms(goMedian(s, (r) => r.stagesMs.build)),
        ms(goMedian(s, (r) => r.stagesMs.snapshot)),
        ms(goMedian(s, (r) => r.stagesMs.versions)),
        ms(goMedian(s, (r) => r.stagesMs.check)),
        Object.entries(s.go.at(-1)!.consistent)
          .map(([g, c]) => `${g}: ${c === "ok" ? "ok" : "fails"}`)
          .join(", "),
      ]),
    );
    const last = all.at(-1)!;
    const goLast = last.go.at(-1)!;
    const ours = ourSizes(last.config);
    const goKinds: Record<string, string> = {
      cluster: "cluster.v3.Cluster",
      endpoint: "endpoint.v3.ClusterLoadAssignment",
      listener: "listener.v3.Listener",
      route: "route.v3.RouteConfiguration",
      scopedRoute: "route.v3.ScopedRouteConfiguration",
    };
    printTable(
      `What each builds at ${last.models} models: resources / encoded bytes`,
      ["group and kind", "ours", "go-control-plane"],
      [...ours.keys()].map((key) => {
        const [group, kind] = key.split(" ") as [string, string];
        const goKey = `${group} ${goKinds[kind] ?? kind}`;
        const n = goLast.resources[goKey];
        return [
          key,
          ours.get(key)!,
          n === undefined ? "none" : `${n} / ${bytes(goLast.bytes?.[goKey] ?? NaN)}`,
        ];
      }),
    );
    printTable(
      `The same resources? At ${checkModels} models, go-control-plane's resources equal to ours as messages (protojson, Any unpacked)`,
      ["group and kind", "equal / go-control-plane's", "ours", "differ (first 3)"],
      identical,
    );
    for (const [g, c] of Object.entries(goLast.consistent))
      if (c !== "ok") console.log(`\n${g}: Consistent(): ${c}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main();
