/**
 * An etcd cluster (Debian's etcd-server 3.4, installed by scripts/setup.sh) as processes on
 * 127.0.0.1, for the etcd-backed config store (#17) in tests and the local stack: real members, so
 * that a test can kill one and see the quorum carry on, then restart it and see it rejoin. Each
 * member has a temp data dir of its own and free client and peer ports; the timings are short so
 * that an election after a kill takes about a second even on a loaded 2-core machine. Ready means
 * every member's `GET /health` answers `{"health":"true"}` (a leader is elected and a quorum read
 * went through).
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { findOnPath, startBinary, waitUntil, type BinaryProcess } from "./binary-process.js";
import { freePorts } from "./ports.js";
import { runIfMain, stopOnSignal } from "./run-main.js";

export interface StartEtcdClusterOptions {
  /** Members; default 1. */
  size?: number;
  /** For the whole cluster to be healthy, and for a member's restart(); default 20 s. */
  readyTimeoutMs?: number;
  /** Member names are `<name>-0`, `<name>-1`, ...; default "etcd". */
  name?: string;
  /**
   * Clients over TLS (https:// client URLs) with client certificates required (etcd's
   * --client-cert-auth): the members' certificate and the CA that signs clients'. Peers and
   * /health stay plaintext (/health on a metrics port of its own).
   */
  tls?: { caFile: string; certFile: string; keyFile: string };
}

export interface EtcdMember {
  name: string;
  /** `http://127.0.0.1:<port>` (`https://` with tls), what clients connect to. */
  clientUrl: string;
  /** `http://127.0.0.1:<port>`, what the other members connect to. */
  peerUrl: string;
  /** Where GET /health answers: the client URL, or with tls a plaintext metrics URL. */
  healthUrl: string;
  /** False once the process has exited (kill(), stop(), or a crash). */
  running(): boolean;
  /** The member's etcd process (a new one after restart()). */
  current(): BinaryProcess;
  /** SIGKILL, as a crash: resolves once the process is gone. The data dir stays. */
  kill(): Promise<void>;
  /**
   * Starts the member again on the same ports and data dir (stopping it first if it runs): it
   * rejoins the cluster. Resolves when its /health is true, which needs a quorum.
   */
  restart(): Promise<void>;
  /** SIGTERM, waits for the exit. The data dir stays (restart() can bring the member back). */
  stop(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's clientUrl, as etcd clients take them (`new Etcd3({ hosts: endpoints })`). */
  endpoints: string[];
  /** Stops every member and removes the data dirs. Idempotent. */
  stop(): Promise<void>;
}

/** Why etcd cannot run here, or null when it can. Tests skip with this message. */
export function etcdUnavailableReason(): string | null {
  if (findOnPath("etcd")) return null;
  return "etcd is not on PATH: run `bash scripts/setup.sh` as root (Debian: it installs etcd-server), or install etcd";
}

const dirs = new Set<string>();
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface MemberSpec {
  name: string;
  clientUrl: string;
  peerUrl: string;
  healthUrl: string;
  dir: string;
  tls: StartEtcdClusterOptions["tls"];
}

export async function startEtcdCluster(options: StartEtcdClusterOptions = {}): Promise<EtcdCluster> {
  const reason = etcdUnavailableReason();
  if (reason) throw new Error(reason);
  const size = options.size ?? 1;
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`etcd cluster size ${size}: not a positive integer`);
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const prefix = options.name ?? "etcd";

  // A free port may be taken between freePorts() and etcd's bind: then that member exits at once.
  // Every member's --initial-cluster names every peer port, so the whole cluster starts over, on
  // new ports and empty data dirs.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(3 * size);
    const specs: MemberSpec[] = [];
    for (let i = 0; i < size; i++) {
      const dir = await mkdtemp(join(tmpdir(), `inferencehub-${prefix}-${i}-`));
      dirs.add(dir);
      const clientUrl = `${options.tls ? "https" : "http"}://127.0.0.1:${ports[3 * i]!}`;
      specs.push({
        name: `${prefix}-${i}`,
        clientUrl,
        peerUrl: `http://127.0.0.1:${ports[3 * i + 1]!}`,
        healthUrl: options.tls ? `http://127.0.0.1:${ports[3 * i + 2]!}` : clientUrl,
        dir,
        tls: options.tls,
      });
    }
    const removeDirs = () =>
      Promise.all(
        specs.map(async ({ dir }) => {
          await rm(dir, { recursive: true, force: true });
          dirs.delete(dir);
        }),
      );
    const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(",");
    const token = `inferencehub-${prefix}-${randomUUID()}`;
    const argsOf = (s: MemberSpec) => memberArgs(s, initialCluster, token);
    // All at once: a member of a new cluster waits for its peers before it is healthy.
    const procs = specs.map((s) => spawnMember(s, argsOf(s)));
    try {
      await Promise.all(specs.map((s, i) => waitHealthy(s, procs[i]!, timeoutMs)));
    } catch (err) {
      await Promise.all(procs.map((p) => p.stop("SIGKILL")));
      await removeDirs();
      if (attempt < 3 && /address already in use/.test(String(err))) continue;
      throw err;
    }

    let stopped: Promise<void> | undefined;
    const isStopped = () => stopped !== undefined;
    const members = specs.map((s, i) => member(s, procs[i]!, argsOf(s), timeoutMs, isStopped));
    return {
      members,
      endpoints: specs.map((s) => s.clientUrl),
      stop: () => {
        stopped ??= (async () => {
          // The data dirs go, so there is nothing to flush: SIGKILL, which also spares the leader
          // its attempt to hand leadership to a member that is stopping too.
          await Promise.all(members.map((m) => m.kill()));
          await removeDirs();
        })();
        return stopped;
      },
    };
  }
}

function memberArgs(s: MemberSpec, initialCluster: string, token: string): string[] {
  // etcd 3.4's flags; with a WAL in the data dir (a restart), the --initial-* ones are ignored.
  return [
    `--name=${s.name}`,
    `--data-dir=${s.dir}`,
    `--listen-client-urls=${s.clientUrl}`,
    `--advertise-client-urls=${s.clientUrl}`,
    `--listen-peer-urls=${s.peerUrl}`,
    `--initial-advertise-peer-urls=${s.peerUrl}`,
    `--initial-cluster=${initialCluster}`,
    "--initial-cluster-state=new",
    `--initial-cluster-token=${token}`,
    "--heartbeat-interval=100",
    "--election-timeout=1000",
    "--snapshot-count=10000",
    "--logger=zap",
    "--log-level=warn",
    ...(s.tls
      ? [
          `--cert-file=${s.tls.certFile}`,
          `--key-file=${s.tls.keyFile}`,
          `--trusted-ca-file=${s.tls.caFile}`,
          "--client-cert-auth",
          `--listen-metrics-urls=${s.healthUrl}`,
        ]
      : []),
  ];
}

function spawnMember(s: MemberSpec, args: string[]): BinaryProcess {
  return startBinary({ label: `etcd ${s.name}`, command: "etcd", args, env: {}, cwd: s.dir });
}

async function waitHealthy(s: MemberSpec, proc: BinaryProcess, timeoutMs: number): Promise<void> {
  await waitUntil(proc, {
    label: `etcd ${s.name} (${s.clientUrl})`,
    what: "healthy (GET /health)",
    timeoutMs,
    probe: () => etcdHealthy(s.healthUrl),
  });
}

function member(
  s: MemberSpec,
  first: BinaryProcess,
  args: string[],
  timeoutMs: number,
  clusterStopped: () => boolean,
): EtcdMember {
  let proc = first;
  let exited = false;
  const track = (p: BinaryProcess) => {
    exited = false;
    void p.exited.then(() => {
      if (proc === p) exited = true;
    });
  };
  track(proc);
  return {
    name: s.name,
    clientUrl: s.clientUrl,
    healthUrl: s.healthUrl,
    peerUrl: s.peerUrl,
    running: () => !exited,
    current: () => proc,
    kill: () => proc.stop("SIGKILL"),
    stop: () => proc.stop(),
    restart: async () => {
      if (clusterStopped()) throw new Error(`etcd ${s.name}: the cluster was stopped`);
      await proc.stop();
      const next = spawnMember(s, args);
      proc = next;
      track(next);
      try {
        await waitHealthy(s, next, timeoutMs);
      } catch (err) {
        await next.stop("SIGKILL");
        throw err;
      }
    },
  };
}

/** True when `GET <clientUrl>/health` answers `{"health":"true"}` within 1 s. */
export async function etcdHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { health?: unknown };
    return body.health === "true";
  } catch {
    return false;
  }
}

/** The member that leads now: killing it takes an election, the hard case for a client. */
export async function etcdLeader(cluster: EtcdCluster): Promise<EtcdMember> {
  const client = new Etcd3({ hosts: cluster.members.filter((m) => m.running()).map((m) => m.clientUrl) });
  try {
    const { leader } = await client.maintenance.status();
    const { members } = await client.cluster.memberList({});
    const name = members.find((m) => m.ID === leader)?.name;
    const found = cluster.members.find((m) => m.name === name);
    if (!found) throw new Error(`etcd's leader ${leader} (${name}) is none of this cluster's members`);
    return found;
  } finally {
    client.close();
  }
}

/** `tsx scripts/lib/etcd-process.ts [size]`: starts a cluster (default 1 member) until Ctrl-C. */
async function main(): Promise<void> {
  const size = process.argv[2] === undefined ? 1 : Number(process.argv[2]);
  const cluster = await startEtcdCluster({ size });
  console.log(JSON.stringify({ event: "ready", endpoints: cluster.endpoints }));
  stopOnSignal(() => cluster.stop());
}

runIfMain(import.meta.url, main);
