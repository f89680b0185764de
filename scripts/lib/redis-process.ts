/**
 * Redis (Debian's redis-server, installed by scripts/setup.sh) as a process on 127.0.0.1, for the
 * rate limit service's counters in tests and the local stack. No persistence (`--save ""
 * --appendonly no`): a restart starts with no counts. Each instance has a temp dir of its own as
 * its working dir. Ready means the port answers PING with PONG.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findOnPath, startBinary, waitUntil, type BinaryProcess } from "./binary-process.js";
import { freePort } from "./ports.js";
import { runIfMain, stopOnSignal } from "./run-main.js";

export interface StartRedisOptions {
  /** Default: a free port. */
  port?: number;
  /** Default 10 s. */
  readyTimeoutMs?: number;
}

export interface RedisProcess {
  port: number;
  /** `127.0.0.1:<port>`, as the rate limit service's REDIS_URL takes it. */
  address: string;
  /** The running redis-server (a new one after restart()). */
  current(): BinaryProcess;
  /** SIGTERM, waits for the exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts a fresh redis-server on the same port (stopping the old one if it runs); no data survives. */
  restart(): Promise<void>;
}

/** Why Redis cannot run here, or null when it can. Tests skip with this message. */
export function redisUnavailableReason(): string | null {
  if (findOnPath("redis-server")) return null;
  return "redis-server is not on PATH: run `bash scripts/setup.sh` as root (Debian: it installs redis-server), or install Redis";
}

const dirs = new Set<string>();
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const reason = redisUnavailableReason();
  if (reason) throw new Error(reason);
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-redis-"));
  dirs.add(dir);
  const timeoutMs = options.readyTimeoutMs ?? 10_000;
  let port = options.port ?? (await freePort());
  let proc: BinaryProcess;
  // A free port may be taken between freePort() and Redis's bind: then Redis exits at once, and
  // (only when the caller named no port) another is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      proc = await startOnce(port, dir, timeoutMs);
      break;
    } catch (err) {
      if (options.port !== undefined || attempt >= 3 || !/Address already in use/.test(String(err))) {
        await rm(dir, { recursive: true, force: true });
        dirs.delete(dir);
        throw err;
      }
      port = await freePort();
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    port,
    address: `127.0.0.1:${port}`,
    current: () => proc,
    stop: () => {
      stopped ??= (async () => {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
        dirs.delete(dir);
      })();
      return stopped;
    },
    kill: () => proc.stop("SIGKILL"),
    restart: async () => {
      await proc.stop();
      proc = await startOnce(port, dir, timeoutMs);
    },
  };
}

async function startOnce(port: number, dir: string, timeoutMs: number): Promise<BinaryProcess> {
  const label = `redis-server :${port}`;
  const proc = startBinary({
    label,
    command: "redis-server",
    // Arguments override redis.conf directives; with no config file Redis takes its defaults.
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    env: {},
    cwd: dir,
  });
  try {
    await waitUntil(proc, { label, what: "answering PING", timeoutMs, probe: () => ping(port) });
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }
  return proc;
}

/** True when 127.0.0.1:port answers the RESP command PING with +PONG (within 1 s). */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}

/** `tsx scripts/lib/redis-process.ts`: starts one on a free port and prints it until Ctrl-C. */
async function main(): Promise<void> {
  const redis = await startRedis();
  console.log(JSON.stringify({ event: "ready", address: redis.address }));
  stopOnSignal(() => redis.stop());
}

runIfMain(import.meta.url, main);
