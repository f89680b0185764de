/** The reference inference node as a process, for tests, benchmarks and the local stack. */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { modelsDir, repoRoot } from "./paths.js";
import { startReadyProcess } from "./ready-process.js";

export interface NodeProcess {
  name: string;
  port: number;
  metricsPort: number;
  /** The v2 REST port as bound, when started with `httpPort`. */
  httpPort: number | undefined;
  address: string;
  process: ChildProcess;
  /** Prometheus text from the node's /metrics. */
  metrics(): Promise<string>;
  /** Sends a signal and waits for the exit; SIGKILL after 10 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  logs: string[];
  /** Resolves with the first output line (seen or to come) that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface StartNodeOptions {
  name: string;
  /** 0 (default) picks a free port. */
  port?: number;
  models?: string[];
  modelsDir?: string;
  args?: string[];
  /** Runs the node inside this network namespace, listening on `host`. */
  netns?: { name: string; host: string };
  /**
   * The operator token repository calls must carry (x-inferencehub-repository-token), handed to
   * the node in INFERENCEHUB_REPOSITORY_TOKEN. Without it the node refuses repository calls (a
   * token in this process's own environment is not passed on); `--repository-token-file` in
   * `args` works too.
   */
  repositoryToken?: string;
  /** Serves the v2 REST protocol on this port too (`--http-port`; 0 picks a free one). */
  httpPort?: number;
}

export async function startNode(options: StartNodeOptions): Promise<NodeProcess> {
  const p = await startReadyProcess<{ port: number; metricsPort: number; httpPort?: number }>({
    label: `node ${options.name}`,
    script: join(repoRoot, "node/src/main.ts"),
    ...(options.netns ? { wrap: ["ip", "netns", "exec", options.netns.name] } : {}),
    args: [
      ...(options.netns ? ["--host", options.netns.host] : []),
      "--name",
      options.name,
      "--port",
      String(options.port ?? 0),
      "--models-dir",
      options.modelsDir ?? modelsDir,
      "--metrics-port",
      "0",
      ...(options.models ? ["--models", options.models.join(",")] : []),
      ...(options.httpPort !== undefined ? ["--http-port", String(options.httpPort)] : []),
      ...(options.args ?? []),
    ],
    env: { INFERENCEHUB_REPOSITORY_TOKEN: options.repositoryToken ?? "" },
  });
  const { port, metricsPort, httpPort } = p.ready;
  return {
    name: options.name,
    port,
    metricsPort,
    httpPort,
    address: `${options.netns?.host ?? "127.0.0.1"}:${port}`,
    process: p.process,
    logs: p.logs,
    stop: p.stop,
    waitForLine: p.waitForLine,
    metrics: async () =>
      (await fetch(`http://${options.netns?.host ?? "127.0.0.1"}:${metricsPort}/metrics`)).text(),
  };
}

/** Reads one sample from Prometheus text, summing every series that has all the labels given. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
