/**
 * A program the project did not write (redis-server, the rate limit service) as a child process:
 * the output kept as lines, an `exited` promise, a stop() that always ends it, and waitUntil() to
 * wait on a readiness probe. The same shape as ready-process.ts, for programs that print no
 * `{"event":"ready"}` line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { outputLines } from "./output-lines.js";

export interface BinaryProcess {
  process: ChildProcess;
  /** stdout and stderr lines so far (the newest `keepLines`). */
  logs: string[];
  /** The exit code, or the signal's name when a signal ended it. */
  exited: Promise<number | string | null>;
  /** Sends a signal and waits for the exit; SIGKILL after 10 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the first output line (seen or to come) that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export function startBinary(opts: {
  label: string;
  command: string;
  args: string[];
  /** The whole environment the program gets (nothing of this process's is passed on). */
  env: Record<string, string>;
  cwd?: string;
  keepLines?: number;
}): BinaryProcess {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
  });
  running.add(child);
  const output = outputLines(opts.label, opts.keepLines);
  const { logs, record } = output;
  createInterface({ input: child.stdout! }).on("line", record);
  createInterface({ input: child.stderr! }).on("line", record);
  const exited = new Promise<number | string | null>((resolve) => {
    child.once("error", (err) => {
      running.delete(child);
      record(`${opts.label}: failed to start ${opts.command}: ${err.message}`);
      resolve(null);
    });
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(signal ?? code);
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    process: child,
    logs,
    exited,
    stop: (signal: NodeJS.Signals = "SIGTERM") => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          child.kill(signal);
          const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(force);
        }
        await exited;
      })();
      return stopping;
    },
    waitForLine: output.waitForLine,
  };
}

/**
 * Polls `probe` (5 ms doubling to 200 ms between tries) until it returns true; fails when the
 * process exits first or the deadline passes, quoting the last output lines.
 */
export async function waitUntil(
  p: Pick<BinaryProcess, "exited" | "logs">,
  opts: { label: string; what: string; timeoutMs: number; probe: () => Promise<boolean> },
): Promise<void> {
  let exit: { code: number | string | null } | undefined;
  void p.exited.then((code) => (exit = { code }));
  const deadline = Date.now() + opts.timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if (exit) {
      throw new Error(
        `${opts.label} exited (${exit.code}) before ${opts.what}:\n${p.logs.slice(-20).join("\n")}`,
      );
    }
    if (await opts.probe()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${opts.label}: not ${opts.what} in ${opts.timeoutMs} ms:\n${p.logs.slice(-20).join("\n")}`,
      );
    }
    await Promise.race([new Promise((r) => setTimeout(r, delay)), p.exited]);
  }
}

/** The program's path on PATH, or null: `command -v` without a shell. */
export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}
