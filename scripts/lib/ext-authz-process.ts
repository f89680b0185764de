/** ext-authz as a process, with helpers that wait on what it reports (its /status page). */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { SourcesStatus } from "../../ext-authz/src/index.js";
import { repoRoot } from "./paths.js";
import { startReadyProcess } from "./ready-process.js";

export interface ExtAuthzProcess {
  port: number;
  metricsPort: number;
  /** `127.0.0.1:<port>`, for the config's auth.extAuthz.address. */
  address: string;
  process: ChildProcess;
  logs: string[];
  /** Prometheus text from /metrics. */
  metrics(): Promise<string>;
  status(): Promise<SourcesStatus>;
  /** Polls /status until `check` holds: ext-authz's own record of what it loaded is the event. */
  waitFor(check: (s: SourcesStatus) => boolean, what: string, timeoutMs?: number): Promise<SourcesStatus>;
  /** Sends a signal and waits for the exit (SIGKILL after 10 s). Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startExtAuthzProcess(opts: {
  configPath: string;
  /** 0 (default) picks a free port; a restart passes the old one, which the config names. */
  port?: number;
  env?: Record<string, string>;
}): Promise<ExtAuthzProcess> {
  const p = await startReadyProcess<{ port: number; metricsPort: number }>({
    label: "ext-authz",
    script: join(repoRoot, "ext-authz/src/main.ts"),
    args: [
      "--config",
      opts.configPath,
      "--host",
      "127.0.0.1",
      "--port",
      String(opts.port ?? 0),
      "--metrics-host",
      "127.0.0.1",
      "--metrics-port",
      "0",
    ],
    env: { LOG_LEVEL: process.env.EXT_AUTHZ_LOG_LEVEL ?? "info", ...opts.env },
  });
  const { port, metricsPort } = p.ready;
  const base = `http://127.0.0.1:${metricsPort}`;
  const status = async () => (await (await fetch(`${base}/status`)).json()) as SourcesStatus;
  return {
    port,
    metricsPort,
    address: `127.0.0.1:${port}`,
    process: p.process,
    logs: p.logs,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    status,
    waitFor: async (check, what, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
        const last = await status();
        if (check(last)) return last;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    },
    stop: p.stop,
  };
}
