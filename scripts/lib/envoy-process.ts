/**
 * Starts real Envoy processes for integration tests and guarantees they do not outlive the test
 * process. Each instance gets its own temp dir, an admin endpoint on 127.0.0.1 and hot restart
 * disabled, so parallel instances share nothing.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { toObject, withLoopbackAdmin } from "./envoy-bootstrap.js";
import { ensureEnvoy } from "./envoy.js";
import { parseStats } from "./envoy-stats.js";

// Bootstrap rendering and stats parsing live in their own modules; callers import them from here.
export { envoyConfigDir, renderBootstrap, withXdsReplicas } from "./envoy-bootstrap.js";
export { parseStats } from "./envoy-stats.js";

export interface StartEnvoyOptions {
  /** A bootstrap object, or its YAML/JSON text (e.g. from renderBootstrap()). */
  bootstrap: object | string;
  /** Names the temp dir and log lines; defaults to "envoy". */
  name?: string;
  /**
   * Admin port on 127.0.0.1. When omitted, the bootstrap's admin port is kept, and a bootstrap
   * without one (or with 0) lets the OS pick: the bound port is read back via --admin-address-path,
   * which, unlike freePort(), cannot race another process for the port.
   */
  adminPort?: number;
  /** Appended to the command line (after the defaults, so they can override e.g. --log-level). */
  extraArgs?: string[];
  /** Worker threads; 1 keeps a 2-core test machine responsive. */
  concurrency?: number;
  logLevel?: "trace" | "debug" | "info" | "warn" | "error" | "critical" | "off";
  /** Receives every line Envoy writes, prefixed with the name; by default they are only kept for errors. */
  log?: (line: string) => void;
  /** How long to wait for /ready to answer LIVE. */
  readyTimeoutMs?: number;
  /**
   * "live" (default): /ready answers 200 LIVE. With ADS that needs the first CDS and LDS responses;
   * without a control plane each initial fetch waits out its 15 s initial_fetch_timeout, so LIVE
   * comes after about 30 s. "admin": /ready answers at all, for tests that start Envoy first.
   */
  waitUntil?: "live" | "admin";
}

export interface EnvoyProcess {
  name: string;
  adminPort: number;
  /** e.g. http://127.0.0.1:9901 */
  adminUrl: string;
  pid: number;
  /** The bootstrap file Envoy was started with. */
  configPath: string;
  process: ChildProcess;
  /** GET/POST any admin path, e.g. admin("/clusters?format=json"). */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Counters and gauges by name (histograms are left out); filter is an RE2 regex on the name. */
  stats(filter?: string): Promise<Record<string, number>>;
  /** /config_dump parsed; resource narrows it, e.g. "dynamic_active_clusters". */
  configDump(opts?: { resource?: string; includeEds?: boolean }): Promise<unknown>;
  /** The last lines Envoy wrote to stdout and stderr. */
  outputTail(maxLines?: number): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const defaultReadyTimeoutMs = 20_000;
const stopGraceMs = 5_000;
const outputTailLines = 60;
/** Lines of Envoy output quoted in a startup error: enough for the config error, short enough to read. */
const errorTailLines = 20;

/** Every Envoy this process started and has not yet seen exit, with its temp dir. */
const running = new Map<ChildProcess, string>();
let cleanupInstalled = false;
let instanceCounter = 0;

/** Starts Envoy with the bootstrap and resolves once its admin /ready answers LIVE. */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const name = opts.name ?? "envoy";
  const bin = await ensureEnvoy();
  const bootstrap = withLoopbackAdmin(toObject(opts.bootstrap), opts.adminPort);
  const dir = await mkdtemp(join(tmpdir(), `inferencehub-${safeName(name)}-`));
  // JSON, not YAML: Envoy parses YAML 1.1, so a value the yaml package writes unquoted, such as a
  // node id "n" or "on", would reach Envoy as a boolean. The .json extension selects the parser.
  const configPath = join(dir, "envoy.json");
  const adminAddressPath = join(dir, "admin-address");
  await writeFile(configPath, JSON.stringify(bootstrap, null, 2));

  const args = [
    "-c",
    configPath,
    // Hot restart would put every instance on shared memory keyed by base id; with it disabled
    // the id only has to differ, which the pid and a counter guarantee.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/operations/cli#cmdoption-base-id
    "--disable-hot-restart",
    "--base-id",
    String(uniqueBaseId()),
    "--admin-address-path",
    adminAddressPath,
    "--log-level",
    opts.logLevel ?? "warn",
    "--concurrency",
    String(opts.concurrency ?? 1),
    ...(opts.extraArgs ?? []),
    // For debugging a test: e.g. INFERENCEHUB_ENVOY_COMPONENT_LOG=lua:debug,ext_authz:debug
    ...(process.env.INFERENCEHUB_ENVOY_COMPONENT_LOG
      ? ["--component-log-level", process.env.INFERENCEHUB_ENVOY_COMPONENT_LOG]
      : []),
  ];

  installCleanup();
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.set(child, dir);
  const output = createOutputTail(
    name,
    opts.log ?? (process.env.INFERENCEHUB_ENVOY_COMPONENT_LOG ? (line) => console.error(line) : undefined),
  );
  child.stdout?.on("data", output.push);
  child.stderr?.on("data", output.push);
  // A test that forgets stop() must not keep its process alive forever: unreferenced, Envoy lets
  // the test process end, and the exit hook below kills it. stop() takes the reference back.
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => {
      running.delete(child);
      resolve(`failed to start ${bin}: ${err.message}`);
    });
    // "close" rather than "exit": it waits for the pipes to drain, so the output tail holds
    // Envoy's last words (the config error) when it dies during startup.
    child.once("close", (code, signal) => {
      running.delete(child);
      resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.ref();
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  let adminPort: number;
  try {
    adminPort = await waitUntilReady({
      adminAddressPath,
      exited,
      deadline: Date.now() + (opts.readyTimeoutMs ?? defaultReadyTimeoutMs),
      waitUntil: opts.waitUntil ?? "live",
    });
  } catch (err) {
    child.kill("SIGKILL");
    await stop();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Envoy "${name}" did not become ready: ${why}\n--- Envoy output (tail) ---\n${output.text(errorTailLines)}`,
    );
  }

  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const admin = (path: string, init?: RequestInit) =>
    fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
  const adminJson = async (path: string): Promise<unknown> => {
    const res = await admin(path);
    if (!res.ok) throw new Error(`Envoy admin ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };

  return {
    name,
    adminPort,
    adminUrl,
    pid: child.pid ?? -1,
    configPath,
    process: child,
    admin,
    async stats(filter) {
      const query = new URLSearchParams({ format: "json" });
      if (filter) query.set("filter", filter);
      return parseStats(await adminJson(`/stats?${query}`));
    },
    async configDump(dumpOpts = {}) {
      const query = new URLSearchParams();
      if (dumpOpts.resource) query.set("resource", dumpOpts.resource);
      if (dumpOpts.includeEds) query.set("include_eds", "");
      return adminJson(`/config_dump${query.size ? `?${query}` : ""}`);
    },
    outputTail: output.text,
    stop,
  };
}

export interface ValidateBootstrapOptions {
  /** A bootstrap object, or its YAML/JSON text. */
  bootstrap: object | string;
}

/**
 * Runs `envoy --mode validate`, which builds the whole server config (clusters, listeners, filter
 * configs) without binding sockets or contacting upstreams; throws with Envoy's output if rejected.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/operations/cli#cmdoption-mode
 */
export async function validateBootstrap(opts: ValidateBootstrapOptions): Promise<void> {
  const bin = await ensureEnvoy();
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-validate-"));
  try {
    // Text is checked as written, as a deploy would hand it to Envoy; objects go as JSON, as in startEnvoy.
    const { bootstrap } = opts;
    const isText = typeof bootstrap === "string";
    const configPath = join(dir, isText ? "envoy.yaml" : "envoy.json");
    await writeFile(configPath, isText ? bootstrap : JSON.stringify(bootstrap, null, 2));
    await new Promise<void>((resolve, reject) => {
      execFile(
        bin,
        ["--mode", "validate", "-c", configPath, "--disable-hot-restart", "--log-level", "warn"],
        { timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`envoy --mode validate rejected the bootstrap:\n${stderr}${stdout}`));
          else resolve();
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitUntilReady(opts: {
  waitUntil: "live" | "admin";
  adminAddressPath: string;
  exited: Promise<string>;
  deadline: number;
}): Promise<number> {
  let exitReason: string | undefined;
  void opts.exited.then((reason) => (exitReason = reason));
  let delayMs = 10;
  let adminPort: number | undefined;
  let lastProblem = "admin address not written yet";
  while (Date.now() < opts.deadline) {
    if (exitReason) throw new Error(`Envoy ${exitReason} before it was ready`);
    adminPort ??= await readAdminPort(opts.adminAddressPath);
    if (adminPort !== undefined) {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/ready`, {
          signal: AbortSignal.timeout(Math.max(1, Math.min(1_000, opts.deadline - Date.now()))),
        });
        const body = (await res.text()).trim();
        if (opts.waitUntil === "admin" || (res.status === 200 && body === "LIVE")) return adminPort;
        lastProblem = `/ready answered ${res.status} ${body}`;
      } catch (err) {
        lastProblem = `/ready: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    // Wake on whichever comes first: the next poll or the process exiting.
    await Promise.race([sleep(delayMs), opts.exited]);
    delayMs = Math.min(delayMs * 2, 200);
  }
  if (exitReason) throw new Error(`Envoy ${exitReason} before it was ready`);
  throw new Error(`not ready after the deadline (${lastProblem})`);
}

async function readAdminPort(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => "");
  // Envoy writes "127.0.0.1:PORT" once the admin listener is bound.
  const match = /:(\d+)\s*$/.exec(text);
  const port = match?.[1] ? Number(match[1]) : 0;
  return port > 0 ? port : undefined;
}

function createOutputTail(name: string, log: ((line: string) => void) | undefined) {
  const lines: string[] = [];
  let partial = "";
  return {
    push: (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        log?.(`[${name}] ${line}`);
        lines.push(line);
        if (lines.length > outputTailLines) lines.shift();
      }
    },
    text: (maxLines = outputTailLines) => [...lines, partial].filter(Boolean).slice(-maxLines).join("\n"),
  };
}

function uniqueBaseId(): number {
  instanceCounter += 1;
  return ((process.pid % 1_000_000) * 1_000 + (instanceCounter % 1_000)) % 2 ** 31;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40);
}

/**
 * Kills leftover instances when the test process ends: on normal exit (only synchronous work is
 * possible there, hence SIGKILL) and on SIGINT/SIGTERM, re-raising the signal afterwards when no one
 * else handles it so the default termination still happens. A SIGKILLed test process cannot clean up.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const [child, dir] of running) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
    running.clear();
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
