/**
 * Starts the reference inference node as its own process (as in production), waits for the
 * line it prints when it serves, and always stops it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { modelsDir, repoRoot } from "./paths.js";

export interface NodeProcess {
  name: string;
  port: number;
  metricsPort: number;
  address: string;
  process: ChildProcess;
  /** Prometheus text from the node's /metrics. */
  metrics(): Promise<string>;
  /** Sends a signal and waits for the exit; SIGKILL after 10 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Output lines seen so far (pino JSON), for assertions and failure messages. */
  logs: string[];
}

export interface StartNodeOptions {
  name: string;
  /** 0 (default) picks a free port. */
  port?: number;
  models?: string[];
  modelsDir?: string;
  args?: string[];
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export async function startNode(options: StartNodeOptions): Promise<NodeProcess> {
  const args = [
    "--import",
    "tsx",
    join(repoRoot, "node/src/main.ts"),
    "--name",
    options.name,
    "--port",
    String(options.port ?? 0),
    "--models-dir",
    options.modelsDir ?? modelsDir,
    "--metrics-port",
    "0",
    ...(options.models ? ["--models", options.models.join(",")] : []),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  running.add(child);
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(
    () => running.delete(child),
    () => undefined,
  );
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(l));

  const ready = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node ${options.name} not ready in 30 s:\n${logs.slice(-20).join("\n")}`)),
      30_000,
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      if (!line.includes('"event":"ready"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { port: number; metricsPort: number });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.name} exited (${code}) before ready:\n${logs.slice(-20).join("\n")}`));
    });
  });

  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(force);
  };

  return {
    name: options.name,
    port: ready.port,
    metricsPort: ready.metricsPort,
    address: `127.0.0.1:${ready.port}`,
    process: child,
    logs,
    stop,
    metrics: async () => (await fetch(`http://127.0.0.1:${ready.metricsPort}/metrics`)).text(),
  };
}

/** Reads one sample from Prometheus text, matching every label given; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
