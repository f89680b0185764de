/**
 * The control plane run as the project runs it (tsx, TypeScript compiled as each module loads) or
 * as compiled JavaScript (one esbuild bundle of our code, npm packages loaded from node_modules as
 * usual), so a benchmark can tell what tsx itself costs from what the server costs.
 *
 * The bundle goes to a temp folder that looks like the repository where the server looks for its
 * own files (paths.ts: proto/ two folders above main.js; node_modules for the packages).
 */
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { repoRoot } from "../../scripts/lib/paths.js";
import { startReadyProcess } from "../../scripts/lib/ready-process.js";
import { startXdsServer, xdsProcessOf, type XdsProcess } from "../../scripts/lib/xds-process.js";

export type Runtime = "tsx" | "js";

/**
 * Preloaded into the control plane (NODE_OPTIONS --import): on SIGUSR2 it collects garbage and
 * prints process.memoryUsage() from before and after on stderr, numbered, so a benchmark reads the heap that is live
 * rather than wherever the collector happened to be. Nothing else in the server changes.
 */
const memoryProbeSource = `
let n = 0;
process.on("SIGUSR2", () => {
  const before = process.memoryUsage();
  globalThis.gc();
  globalThis.gc();
  process.stderr.write(JSON.stringify({ event: "memory", n: ++n, ...process.memoryUsage(), before }) + "\\n");
});
`;

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** The same, just before the collection: the difference is garbage not yet collected. */
  before: Omit<MemoryUsage, "before">;
}

/** NODE_OPTIONS for a control plane whose memory usedMemory() reads. */
export async function memoryProbe(): Promise<{ nodeOptions: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "xds-memory-probe-"));
  const file = join(dir, "memory-probe.mjs");
  await writeFile(file, memoryProbeSource);
  return {
    nodeOptions: `--expose-gc --import ${file}`,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

const probes = new WeakMap<XdsProcess, number>();

/** The control plane's memory after a full garbage collection (it must run with memoryProbeOptions). */
export async function usedMemory(xds: XdsProcess, timeoutMs = 30_000): Promise<MemoryUsage> {
  const n = (probes.get(xds) ?? 0) + 1;
  probes.set(xds, n);
  xds.process.kill("SIGUSR2");
  const line = await xds.waitForLine(new RegExp(`^\\{"event":"memory","n":${n},`), timeoutMs);
  return JSON.parse(line) as MemoryUsage;
}

export interface CompiledXdsServer {
  /** The bundle's entry point (main.js). */
  main: string;
  remove(): Promise<void>;
}

/** npm packages stay imports (node_modules), our workspace package is TypeScript: bundle it. */
const packagesExternal: Plugin = {
  name: "packages-external",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@inferencehub/") ? undefined : { path: args.path, external: true },
    );
  },
};

export async function compileXdsServer(): Promise<CompiledXdsServer> {
  const dir = await mkdtemp(join(tmpdir(), "xds-compiled-"));
  const main = join(dir, "xds-server/src/main.js");
  await build({
    entryPoints: [join(repoRoot, "xds-server/src/main.ts")],
    outfile: main,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    plugins: [packagesExternal],
    logLevel: "warning",
  });
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await symlink(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  await symlink(join(repoRoot, "proto"), join(dir, "proto"));
  return { main, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * startXdsServer, with the runtime chosen: "js" runs `node <bundle>` (the same arguments, the same
 * pid for /proc), "tsx" is startXdsServer itself.
 */
export async function startXdsServerAs(
  runtime: Runtime,
  opts: { configPath: string; env?: Record<string, string>; compiled?: CompiledXdsServer },
): Promise<XdsProcess> {
  if (runtime === "tsx") return startXdsServer(opts);
  if (!opts.compiled) throw new Error("runtime js needs compileXdsServer() first");
  const p = await startReadyProcess<{ adsPort: number; adminPort: number }>({
    label: "xds-server",
    script: opts.compiled.main,
    args: ["--config", opts.configPath, "--ads-host", "127.0.0.1", "--ads-port", "0", "--admin-port", "0"],
    env: { LOG_LEVEL: process.env.XDS_LOG_LEVEL ?? "info", ...opts.env },
    // startReadyProcess runs `node --import tsx <script> ...` under the wrapper: drop the tsx
    // import and exec node itself, so the pid stays the server's.
    wrap: ["/bin/sh", "-c", 'node="$0"; shift 2; exec "$node" "$@"'],
  });
  return xdsProcessOf(p);
}
