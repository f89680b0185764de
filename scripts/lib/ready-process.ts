/**
 * Starts one of the project's TypeScript services as its own process (as in production), waits
 * for the `{"event":"ready",...}` line it prints when it serves, and always stops it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { outputLines } from "./output-lines.js";

export interface ReadyProcess<Ready> {
  ready: Ready;
  process: ChildProcess;
  /** Output lines seen so far (pino JSON), for assertions and failure messages. */
  logs: string[];
  /** Sends a signal and waits for the exit; SIGKILL after 10 s. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
  /** Resolves with the first output line (seen or to come) that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export async function startReadyProcess<Ready>(opts: {
  label: string;
  script: string;
  args: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Lines to keep in `logs` (default 2,000, the newest). */
  keepLines?: number;
  /** A command the service runs under, e.g. ["ip", "netns", "exec", "ns1"] (it must exec, keeping the pid). */
  wrap?: string[];
  /**
   * A line (stdout or stderr) that says the service will not be ready: the start is given up at
   * once (the process killed) with that line as the error, instead of after the timeout.
   */
  giveUpOn?: RegExp;
}): Promise<ReadyProcess<Ready>> {
  const command = [...(opts.wrap ?? []), process.execPath, "--import", "tsx", opts.script, ...opts.args];
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...opts.env },
  });
  running.add(child);
  const output = outputLines(opts.label, opts.keepLines);
  const { logs, record } = output;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const stderr = createInterface({ input: child.stderr! });
  stderr.on("line", record);
  const stdout = createInterface({ input: child.stdout! });

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timeoutMs = opts.readyTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${opts.label} not ready in ${timeoutMs} ms:\n${logs.slice(-20).join("\n")}`));
    }, timeoutMs);
    const giveUp = (line: string) => {
      if (!opts.giveUpOn?.test(line)) return;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${opts.label} will not be ready: ${line}`));
    };
    stderr.on("line", giveUp);
    stdout.on("line", (line) => {
      record(line);
      giveUp(line);
      if (!line.startsWith('{"event":"ready"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as Ready);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.label} exited (${code}) before it was ready:\n${logs.slice(-20).join("\n")}`));
    });
  });

  return {
    ready,
    process: child,
    logs,
    exited,
    waitForLine: output.waitForLine,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
}
