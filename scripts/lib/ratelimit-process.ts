/**
 * Envoy's reference rate limit service (envoyproxy/ratelimit, built by scripts/setup.sh into
 * .tools/ratelimit/bin) as a process on 127.0.0.1, counting in a Redis the caller started
 * (redis-process.ts). It serves `envoy.service.ratelimit.v3.RateLimitService` over gRPC, an HTTP
 * port with /healthcheck, and a debug port with /rlconfig (the loaded limits, one line each).
 *
 * Its settings come from the environment (src/settings/settings.go of the module): the YAML is
 * read from RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config/*.yaml in a temp dir, and with
 * RUNTIME_WATCH_ROOT=false every write in that folder reloads it. writeConfig() writes a dotfile
 * (ignored: RUNTIME_IGNOREDOTFILES=true) and renames it over config.yaml, so the service never
 * reads half a file, then waits until /rlconfig lists exactly the limits of the new YAML, or
 * fails with the service's "Error loading new configuration" line (it keeps the old limits then).
 *
 * Seen with this version: the service exits at start when Redis does not answer PING. When Redis
 * goes away later, each pooled connection (REDIS_POOL_SIZE, 10 by default) fails one call with
 * UNKNOWN "response returned from Conn: EOF"; after that calls wait for a connection until the
 * caller's deadline (DEADLINE_EXCEEDED). Once Redis is back, calls succeed again without a
 * restart, counting from zero when Redis kept nothing.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startBinary, waitUntil, type BinaryProcess } from "./binary-process.js";
import { toolsDir } from "./paths.js";
import { freePorts } from "./ports.js";
import { runIfMain, stopOnSignal } from "./run-main.js";

/** What scripts/setup.sh builds (`go install <this>`) and writes to the stamp. */
export const RATELIMIT_MODULE =
  "github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36";
export const ratelimitDir = join(toolsDir, "ratelimit");
export const ratelimitBinary = join(ratelimitDir, "bin/service_cmd");
export const ratelimitStamp = join(ratelimitDir, ".stamp");

/** Why the service cannot run here, or null when it can. Tests skip with this message. */
export function ratelimitUnavailableReason(): string | null {
  const fix = "run `bash scripts/setup.sh` (it builds envoyproxy/ratelimit with Go into .tools/ratelimit)";
  const stamp = existsSync(ratelimitStamp) ? readFileSync(ratelimitStamp, "utf8").trim() : null;
  if (stamp === null) return `the rate limit service is not built (no ${ratelimitStamp}): ${fix}`;
  if (stamp !== RATELIMIT_MODULE) return `${ratelimitDir} holds ${stamp}, not ${RATELIMIT_MODULE}: ${fix}`;
  if (!existsSync(ratelimitBinary)) return `${ratelimitBinary} is missing: ${fix}`;
  return null;
}

export interface StartRateLimitOptions {
  /** Where Redis listens, `127.0.0.1:<port>` (redis-process.ts's `address`). */
  redisAddress: string;
  /** The YAML loaded at start (see xds-server/src/ratelimit); none = no limits until writeConfig(). */
  config?: string;
  /** The gRPC port (the one inferencehub.yaml's auth.rateLimitService names); default a free one. */
  grpcPort?: number;
  /**
   * A folder of the caller's for the service's runtime (its config is then
   * `<dir>/runtime/ratelimit/config/config.yaml`, where the control plane's --ratelimit-config can
   * write it, and it outlives a restart); default a temp dir, removed by stop().
   */
  dir?: string;
  /** Names log lines and the temp dir. */
  name?: string;
  /** More settings, over the defaults below (e.g. REDIS_POOL_SIZE). */
  env?: Record<string, string>;
  /** Default 20 s. */
  readyTimeoutMs?: number;
}

export interface RateLimitProcess {
  name: string;
  /** gRPC, `127.0.0.1:<port>`: where Envoy's rate limit cluster points. */
  address: string;
  grpcPort: number;
  /** HTTP: /healthcheck, and /json (ShouldRateLimit as JSON). */
  httpPort: number;
  /** Debug HTTP: /rlconfig, /stats. */
  debugPort: number;
  /** The file the service reads its limits from. */
  configFile: string;
  process: BinaryProcess["process"];
  /** Output lines so far (logrus JSON, and the start-up lines before the level applies). */
  logs: string[];
  exited: BinaryProcess["exited"];
  /** Replaces the config and resolves once the service has loaded it; rejects with its error if it refused it. */
  writeConfig(yaml: string, timeoutMs?: number): Promise<void>;
  /** The debug port's /rlconfig: `<domain>.<key>_<value>...: unit=... requests_per_unit=...` lines. */
  rlconfig(): Promise<string>;
  /** SIGTERM, waits for the exit, removes the temp dir. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const dirs = new Set<string>();
process.once("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The line the service logs when it refuses a config (src/service/ratelimit.go, SetConfig). */
const configError = /Error loading new configuration/;

export async function startRateLimit(options: StartRateLimitOptions): Promise<RateLimitProcess> {
  const reason = ratelimitUnavailableReason();
  if (reason) throw new Error(reason);
  const name = options.name ?? "ratelimit";
  const own = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `inferencehub-${name}-`)));
  if (own) dirs.add(dir);
  const configDir = join(dir, "runtime/ratelimit/config");
  await mkdir(configDir, { recursive: true });
  const configFile = join(configDir, "config.yaml");
  if (options.config !== undefined) await writeFile(configFile, options.config);
  try {
    // Ports are picked before the service binds them: another process may take one in between,
    // and then the service exits at once; new ports are tried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(name, dir, configFile, options);
      } catch (err) {
        if (attempt >= 3 || options.grpcPort !== undefined || !/address already in use/.test(String(err)))
          throw err;
      }
    }
  } catch (err) {
    if (own) {
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
    throw err;
  }
}

async function startOnce(
  name: string,
  dir: string,
  configFile: string,
  options: StartRateLimitOptions,
): Promise<RateLimitProcess> {
  const [freeGrpc, httpPort, debugPort] = (await freePorts(3)) as [number, number, number];
  const grpcPort = options.grpcPort ?? freeGrpc;
  const label = `${name} (rate limit service, gRPC :${grpcPort})`;
  const proc = startBinary({
    label,
    command: ratelimitBinary,
    args: [],
    env: {
      // No statsd to send to; DISABLE_STATS also stops the stdout sink that USE_STATSD=false
      // selects from printing every counter every 10 s.
      USE_STATSD: "false",
      DISABLE_STATS: "true",
      REDIS_SOCKET_TYPE: "tcp",
      REDIS_TYPE: "SINGLE",
      REDIS_URL: options.redisAddress,
      RUNTIME_ROOT: join(dir, "runtime"),
      RUNTIME_SUBDIRECTORY: "ratelimit",
      RUNTIME_APPDIRECTORY: "config",
      RUNTIME_WATCH_ROOT: "false",
      RUNTIME_IGNOREDOTFILES: "true",
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      HOST: "127.0.0.1",
      PORT: String(httpPort),
      DEBUG_HOST: "127.0.0.1",
      DEBUG_PORT: String(debugPort),
      LOG_LEVEL: "warn",
      LOG_FORMAT: "json",
      ...options.env,
    },
    cwd: dir,
  });
  const debugUrl = `http://127.0.0.1:${debugPort}`;
  const rlconfig = async () => {
    const res = await fetch(`${debugUrl}/rlconfig`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`${label}: /rlconfig answered HTTP ${res.status}`);
    return res.text();
  };
  const loaded = (yaml: string) => async () =>
    sameLines(await rlconfig().catch(() => null), expectedRlconfig(yaml));

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  try {
    await waitUntil(proc, {
      label,
      what: "healthy (/healthcheck OK)",
      timeoutMs,
      probe: async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthcheck`, {
          signal: AbortSignal.timeout(1_000),
        }).catch(() => null);
        return res?.status === 200 && (await res.text()).trim() === "OK";
      },
    });
    if (options.config !== undefined) {
      await waitUntil(proc, {
        label,
        what: "serving the initial config",
        timeoutMs,
        probe: loaded(options.config),
      });
    }
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }

  return {
    name,
    address: `127.0.0.1:${grpcPort}`,
    grpcPort,
    httpPort,
    debugPort,
    configFile,
    process: proc.process,
    logs: proc.logs,
    exited: proc.exited,
    rlconfig,
    writeConfig: async (yaml, writeTimeoutMs = 10_000) => {
      const expected = expectedRlconfig(yaml);
      const errorsBefore = proc.logs.filter((l) => configError.test(l)).length;
      const temp = join(dir, "runtime/ratelimit/config", `.config.yaml.${process.pid}`);
      await writeFile(temp, yaml);
      await rename(temp, configFile);
      await waitUntil(proc, {
        label,
        what: "serving the new config",
        timeoutMs: writeTimeoutMs,
        probe: async () => {
          const refused = proc.logs.filter((l) => configError.test(l)).slice(errorsBefore)[0];
          if (refused) throw new Error(`${label} refused the config: ${logMessage(refused)}`);
          return sameLines(await rlconfig().catch(() => null), expected);
        },
      });
    },
    stop: async (signal) => {
      await proc.stop(signal);
      // A folder the caller gave is the caller's to keep.
      if (options.dir !== undefined) return;
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

interface YamlDescriptor {
  key?: string;
  value?: string;
  rate_limit?: { unit?: string; requests_per_unit?: number; unlimited?: boolean };
  shadow_mode?: boolean;
  quota_mode?: boolean;
  descriptors?: YamlDescriptor[];
}

/**
 * The /rlconfig lines a config YAML loads to, as the service writes them (rateLimitDescriptor.dump
 * in src/config/config_impl.go), one per descriptor with a rate_limit; the order is the service's
 * map order, so compare with sameLines(). Covers what the service's dump shows: keys, values,
 * unit, requests_per_unit, unlimited, shadow_mode and quota_mode.
 */
export function expectedRlconfig(yaml: string): string[] {
  const root = (parse(yaml) ?? {}) as { domain?: string; descriptors?: YamlDescriptor[] };
  const lines: string[] = [];
  const walk = (prefix: string, descriptors: YamlDescriptor[]) => {
    for (const d of descriptors) {
      const key = `${prefix}${d.key ?? ""}${d.value ? `_${d.value}` : ""}`;
      if (d.rate_limit) {
        const unit = d.rate_limit.unlimited ? "UNKNOWN" : (d.rate_limit.unit ?? "").toUpperCase();
        lines.push(
          `${key}: unit=${unit} requests_per_unit=${d.rate_limit.requests_per_unit ?? 0}, ` +
            `shadow_mode: ${d.shadow_mode === true}, quota_mode: ${d.quota_mode === true}`,
        );
      }
      walk(`${key}.`, d.descriptors ?? []);
    }
  };
  walk(`${root.domain ?? ""}.`, root.descriptors ?? []);
  return lines;
}

function sameLines(dump: string | null, expected: string[]): boolean {
  if (dump === null) return false;
  const actual = dump.split("\n").filter((l) => l.trim() !== "");
  return (
    actual.length === expected.length && [...actual].sort().join("\n") === [...expected].sort().join("\n")
  );
}

/** The message of a logrus JSON line (`{"@message":...}`), or the line as it is. */
function logMessage(line: string): string {
  try {
    const parsed = JSON.parse(line) as { "@message"?: unknown };
    return typeof parsed["@message"] === "string" ? parsed["@message"] : line;
  } catch {
    return line;
  }
}

/**
 * `tsx scripts/lib/ratelimit-process.ts <redis address> [config.yaml]`: starts one and prints its
 * ports until Ctrl-C.
 */
async function main(): Promise<void> {
  const [redisAddress, configPath] = process.argv.slice(2);
  if (!redisAddress) throw new Error("usage: ratelimit-process.ts <redis host:port> [config.yaml]");
  const rl = await startRateLimit({
    redisAddress,
    ...(configPath ? { config: readFileSync(configPath, "utf8") } : {}),
  });
  console.log(
    JSON.stringify({ event: "ready", address: rl.address, httpPort: rl.httpPort, debugPort: rl.debugPort }),
  );
  stopOnSignal(() => rl.stop());
}

runIfMain(import.meta.url, main);
