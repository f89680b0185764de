/**
 * Seldon's stock MLServer (PyPI `mlserver`, an Open Inference Protocol server in Python) as a
 * process, for tests that put a server the project did not write behind the gateway.
 *
 * MLServer comes from the venv scripts/setup.sh makes under .tools/mlserver-venv. Each start copies
 * a model repository (default test/mlserver/: settings.json, the `scale` custom runtime and its
 * model-settings.json files) into a temp folder, writes free ports into its settings.json, starts
 * `mlserver start <folder>` in a process group of its own, and waits until ServerReady says true
 * over gRPC (polled with backoff; the process exiting first fails the start). stop() ends the
 * whole group, always.
 *
 * What MLServer 1.7.1 needs (seen on these machines):
 * - `"parallel_workers": 0`: with workers, they crash-loop with "There is no current event loop";
 * - its own ports: the default HTTP port is 8080, Envoy's data port here (metrics, 8082 by
 *   default, are off in test/mlserver/settings.json, and get a free port all the same);
 * - it answers UNIMPLEMENTED to grpc.health.v1 Check: the prober then goes by ServerReady and
 *   ModelReady, so a config puts it behind the gateway as any `{ name, address }` node;
 * - a model without `parameters.version` is unversioned: ModelReady(name, "") is its answer, and
 *   the config says `serverVersion: ""` for it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Metadata, credentials, type ServiceError } from "@grpc/grpc-js";
import {
  GRPCInferenceServiceClient,
  type ServerReadyResponse,
} from "../../gen/inference/inference/grpc_service.js";
import { repoRoot, toolsDir } from "./paths.js";
import { freePorts } from "./ports.js";
import { runIfMain, stopOnSignal } from "./run-main.js";

/** The release scripts/setup.sh installs and this helper expects (its stamp must say so). */
export const MLSERVER_VERSION = "1.7.1";
export const mlserverVenvDir = join(toolsDir, "mlserver-venv");
/** Written by scripts/setup.sh after a successful install: `mlserver==<version>`. */
export const mlserverStamp = join(mlserverVenvDir, ".stamp");
/** The `scale` model as an MLServer custom runtime, with the settings the tests use. */
export const mlserverTestRepository = join(repoRoot, "test/mlserver");

/**
 * Why MLServer cannot run here, or null when it can: the venv is missing, half made, or of
 * another release. Tests skip with this message.
 */
export function mlserverUnavailableReason(): string | null {
  const fix = "run `bash scripts/setup.sh` (it installs MLServer into .tools/mlserver-venv)";
  const stamp = existsSync(mlserverStamp) ? readFileSync(mlserverStamp, "utf8").trim() : null;
  if (stamp === null) return `MLServer is not installed (no ${mlserverStamp}): ${fix}`;
  if (stamp !== `mlserver==${MLSERVER_VERSION}`) {
    return `${mlserverVenvDir} holds ${stamp}, not mlserver==${MLSERVER_VERSION}: ${fix}`;
  }
  if (!existsSync(join(mlserverVenvDir, "bin/mlserver"))) {
    return `${mlserverVenvDir}/bin/mlserver is missing: ${fix}`;
  }
  return null;
}

export interface StartMlserverOptions {
  /** The node's name in the config (MLServer itself knows nothing of it). */
  name: string;
  /** A model repository to copy: settings.json and model folders. Default: test/mlserver/. */
  repository?: string;
  /** Merged over the repository's settings.json (ports and host are always set here). */
  settings?: Record<string, unknown>;
  /** The gRPC port (default: a free one): a restart keeps the address the config names. */
  grpcPort?: number;
  /** The REST port (default: a free one), kept across a restart as grpcPort is. */
  httpPort?: number;
  /** Default 60 s: a cold Python start on a loaded 2-core machine takes several seconds. */
  readyTimeoutMs?: number;
}

export interface MlserverProcess {
  name: string;
  /** gRPC, `127.0.0.1:<port>`: what the config's node entry says. */
  address: string;
  grpcPort: number;
  httpPort: number;
  metricsPort: number;
  /** The temp folder MLServer serves from (removed by stop()). */
  dir: string;
  process: ChildProcess;
  /** stdout and stderr lines so far (the newest 2,000). */
  logs: string[];
  /** A node entry for inferencehub.yaml: gRPC at `address`, REST (MLServer's HTTP port) at `restPort`. */
  entry(pool?: string): { name: string; address: string; restPort: number; pool: string };
  /** Signals the whole process group and waits for MLServer's exit; SIGKILL after 10 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

const running = new Map<ChildProcess, string>();
process.once("exit", () => {
  for (const [child, dir] of running) {
    killGroup(child, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** How MLServer 1.7.1 dies when a port it was given is taken (gRPC, then uvicorn's HTTP). */
const portClash = /Failed to bind to address|address already in use|\[Errno 98\]/;

export async function startMlserver(options: StartMlserverOptions): Promise<MlserverProcess> {
  const reason = mlserverUnavailableReason();
  if (reason) throw new Error(reason);
  // The ports are picked before MLServer binds them (it cannot take port 0 and say which it got):
  // another process may take one in between. Then MLServer exits at once, and new ports are tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (!(err instanceof PortClash) || attempt >= 3) throw err;
    }
  }
}

class PortClash extends Error {}

async function startOnce(options: StartMlserverOptions): Promise<MlserverProcess> {
  const [freeHttpPort, freeGrpcPort, metricsPort] = (await freePorts(3)) as [number, number, number];
  const grpcPort = options.grpcPort ?? freeGrpcPort;
  const httpPort = options.httpPort ?? freeHttpPort;
  const dir = await mkdtemp(join(tmpdir(), `inferencehub-mlserver-${options.name}-`));
  await cp(options.repository ?? mlserverTestRepository, dir, { recursive: true });
  const settingsFile = join(dir, "settings.json");
  const base = existsSync(settingsFile)
    ? (JSON.parse(await readFile(settingsFile, "utf8")) as Record<string, unknown>)
    : {};
  await writeFile(
    settingsFile,
    JSON.stringify(
      {
        parallel_workers: 0,
        ...base,
        ...options.settings,
        host: "127.0.0.1",
        http_port: httpPort,
        grpc_port: grpcPort,
        metrics_port: metricsPort,
        metrics_dir: join(dir, ".metrics"),
      },
      null,
      2,
    ),
  );

  // A group of its own, so that stop() and a kill -9 take any child MLServer starts with it.
  const child = spawn(join(mlserverVenvDir, "bin/mlserver"), ["start", dir], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...withoutMlserverEnv(process.env), PYTHONUNBUFFERED: "1" },
  });
  running.set(child, dir);
  const logs: string[] = [];
  const record = (line: string) => {
    logs.push(line);
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  createInterface({ input: child.stdout! }).on("line", record);
  createInterface({ input: child.stderr! }).on("line", record);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      // The leader is gone; end whatever it left in its group.
      killGroup(child, "SIGKILL");
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
      resolve(code);
    }),
  );

  let stopping: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals = "SIGTERM") => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child, signal);
        const force = setTimeout(() => killGroup(child, "SIGKILL"), 10_000);
        await exited;
        clearTimeout(force);
      }
      await exited;
    })();
    return stopping;
  };

  const address = `127.0.0.1:${grpcPort}`;
  try {
    await waitServerReady(address, exited, options.readyTimeoutMs ?? 60_000, () => logs);
  } catch (err) {
    await stop("SIGKILL");
    if (logs.some((l) => portClash.test(l))) throw new PortClash(String(err));
    throw err;
  }
  return {
    name: options.name,
    address,
    grpcPort,
    httpPort,
    metricsPort,
    dir,
    process: child,
    logs,
    entry: (pool = "default") => ({ name: options.name, address, restPort: httpPort, pool }),
    stop,
    exited,
  };
}

/** MLSERVER_* variables of the caller would override nothing (settings.json wins) but confuse. */
function withoutMlserverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("MLSERVER_")));
}

/**
 * Polls ServerReady over gRPC, 5 ms doubling to 200 ms between tries, until it says true (MLServer
 * says so once every model loaded at startup is ready). The channel reconnects as fast as the
 * polls come: grpc-js's default backoff (1 s and up) would make a start seem a second slower.
 */
async function waitServerReady(
  address: string,
  exited: Promise<number | null>,
  timeoutMs: number,
  logs: () => string[],
): Promise<void> {
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 20,
    "grpc.max_reconnect_backoff_ms": 200,
    "grpc.use_local_subchannel_pool": 1,
  });
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  try {
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      if (exitCode !== undefined) {
        throw new Error(
          `MLServer exited (${exitCode}) before it was ready:\n${logs().slice(-20).join("\n")}`,
        );
      }
      const answer = await new Promise<ServerReadyResponse | ServiceError>((resolve) =>
        client.serverReady({}, new Metadata(), { deadline: Date.now() + 1_000 }, (err, res) =>
          resolve(err ?? res),
        ),
      );
      if (!(answer instanceof Error) && answer.ready) return;
      last = answer instanceof Error ? `${answer.code} ${answer.details}` : "ready: false";
      if (Date.now() > deadline) {
        throw new Error(
          `MLServer not ready in ${timeoutMs} ms (ServerReady: ${last}):\n${logs().slice(-20).join("\n")}`,
        );
      }
      await Promise.race([new Promise((r) => setTimeout(r, delay)), exited]);
    }
  } finally {
    client.close();
  }
}

/** `tsx scripts/lib/mlserver-process.ts`: starts one on free ports and prints its address until Ctrl-C. */
async function main(): Promise<void> {
  const m = await startMlserver({ name: "mlserver" });
  console.log(JSON.stringify({ event: "ready", address: m.address, httpPort: m.httpPort, dir: m.dir }));
  stopOnSignal(() => m.stop());
}

runIfMain(import.meta.url, main);
