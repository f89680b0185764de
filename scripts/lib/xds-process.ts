/** The control plane (xds-server) as a process, with helpers that wait on what it reports. */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { FleetStatus } from "../../xds-server/src/fleet/index.js";
import { repoRoot } from "./paths.js";
import { startReadyProcess, type ReadyProcess } from "./ready-process.js";

export interface XdsClientStatus {
  nodeId: string;
  group: string;
  transport: "sotw" | "delta";
  syncedVersion: string;
  nacks: { kind: string; version: string; message: string }[];
  kinds: Record<string, { ackedVersion: string; pending: boolean }>;
}

export interface XdsStatus {
  configStore: { kind: "file" | "etcd"; location: string };
  configVersion: string;
  snapshots: Record<string, string>;
  refusedEdit: { path: string; message: string; line?: number }[];
  clients: XdsClientStatus[];
  /** node → "model/version" → HEALTHY, UNHEALTHY, DRAINING or UNKNOWN (when the prober runs). */
  health?: Record<string, Record<string, string>>;
  /** Models whose split is degraded: versions with no node up, and the weights in force. */
  degradedSplits?: Record<string, { versionsDown: string[]; weights: Record<string, number> }>;
  /** What proxyless clients cannot be given as configured (runner/proxyless-limits.ts). */
  proxylessLimits: string[];
  /** Placed versions: where each is loading, ready, failed or draining (fleet/reconciler.ts). */
  fleet?: FleetStatus;
  /** Who authorizes calls and holds the rate limits (runner/control-plane.ts AuthStatus). */
  auth?: {
    mode: "native" | "ext-authz";
    rateLimits: "global" | "local" | "ext-authz" | "none";
    verifiedByEnvoy: ("jwt" | "api-keys")[];
    keys: number;
  };
  /** The last rollout of each model (xds-server/src/rollout/README.md). */
  rollouts?: { model: string; toVersion: string; state: string; step?: number; reason?: string }[];
}

export interface XdsProcess {
  adsPort: number;
  adminPort: number;
  process: ChildProcess;
  logs: string[];
  status(): Promise<XdsStatus>;
  metrics(): Promise<string>;
  /** Polls /status until `check` holds: the control plane's own record of ACKs is the event. */
  waitFor(check: (s: XdsStatus) => boolean, what: string, timeoutMs?: number): Promise<XdsStatus>;
  /** Waits until the named client holds the group's current snapshot in full (every kind ACKed). */
  waitForSync(nodeId: string, timeoutMs?: number): Promise<XdsStatus>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export async function startXdsServer(opts: {
  /** The config file; with `etcd`, the seed for an empty store (optional). */
  configPath?: string;
  /** Keep the config in etcd (client URLs), under `prefix` (default /inferencehub/). */
  etcd?: { endpoints: string[]; prefix?: string };
  adsPort?: number;
  adminPort?: number;
  env?: Record<string, string>;
  /** A log line that means it will not be ready (see startReadyProcess). */
  giveUpOn?: RegExp;
}): Promise<XdsProcess> {
  const p = await startReadyProcess<{ adsPort: number; adminPort: number }>({
    label: "xds-server",
    script: join(repoRoot, "xds-server/src/main.ts"),
    args: [
      ...(opts.etcd
        ? [
            "--etcd",
            opts.etcd.endpoints.join(","),
            ...(opts.etcd.prefix ? ["--etcd-prefix", opts.etcd.prefix] : []),
            ...(opts.configPath ? ["--seed", opts.configPath] : []),
          ]
        : ["--config", opts.configPath ?? "inferencehub.yaml"]),
      "--ads-host",
      "127.0.0.1",
      "--ads-port",
      String(opts.adsPort ?? 0),
      "--admin-port",
      String(opts.adminPort ?? 0),
    ],
    env: { LOG_LEVEL: process.env.XDS_LOG_LEVEL ?? "info", ...opts.env },
    ...(opts.giveUpOn ? { giveUpOn: opts.giveUpOn } : {}),
  });
  return xdsProcessOf(p);
}

/** A started control plane (its ready line read) with the admin-port helpers tests and benchmarks use. */
export function xdsProcessOf(p: ReadyProcess<{ adsPort: number; adminPort: number }>): XdsProcess {
  const { adsPort, adminPort } = p.ready;
  const status = async () =>
    (await (await fetch(`http://127.0.0.1:${adminPort}/status`)).json()) as XdsStatus;
  const waitFor = async (check: (s: XdsStatus) => boolean, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: XdsStatus | undefined;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      last = await status();
      if (check(last)) return last;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  };
  return {
    adsPort,
    adminPort,
    process: p.process,
    logs: p.logs,
    status,
    metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
    waitFor,
    waitForSync: (nodeId, timeoutMs) =>
      waitFor(
        (s) =>
          s.clients.some(
            (c) => c.nodeId === nodeId && c.syncedVersion !== "" && c.syncedVersion === s.snapshots[c.group],
          ),
        `${nodeId} to ACK the current snapshot`,
        timeoutMs,
      ),
    stop: p.stop,
    waitForLine: p.waitForLine,
  };
}
