/**
 * Keeps the processes of the local stack running: a component that exits while the stack is not
 * stopping (a crash, an OOM kill, a `kill -9`) is started again after a backoff that doubles from
 * 0.5 s to 30 s and goes back to 0.5 s once the component has stayed up for a minute. Every exit
 * and restart is reported in one line: which component, its pid, the exit code or signal, and
 * when it comes back. stop() ends everything and restarts nothing.
 */
import type { ChildProcess } from "node:child_process";

/** What a component's start function returns: the process to watch and how to stop it. */
export interface SupervisedProcess {
  process: ChildProcess;
  /** Stops the process (idempotent); also called after a crash, to clean up what it left. */
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  /** First restart delay (default 500 ms). */
  initialDelayMs?: number;
  /** Largest restart delay (default 30 s). */
  maxDelayMs?: number;
  /** A component up this long has its delay reset to the first one (default 60 s). */
  stableAfterMs?: number;
  /** Receives every report line (a start, an exit, a restart, a failed restart). */
  report(line: string): void;
}

export interface ComponentOptions<P extends SupervisedProcess> {
  /** Called after each successful start, the first included (e.g. to record pids). */
  onStart?(started: P): void;
  /** The component's last output lines, quoted in the exit report. */
  lastWords?(crashed: P): string[];
}

export interface Component<P extends SupervisedProcess> {
  name: string;
  /** The running instance, or undefined while it waits to be restarted. */
  readonly current: P | undefined;
  /** Restarts so far. */
  readonly restarts: number;
}

/** 500 ms, 2.5 s, 30 s. */
export const duration = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;

/** How a process ended, in words: "exited with code 1", "was killed by SIGKILL". */
export function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export class Supervisor {
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #stableAfterMs: number;
  readonly #report: (line: string) => void;
  readonly #components: {
    name: string;
    stop(): Promise<void>;
  }[] = [];
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#initialDelayMs = options.initialDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#stableAfterMs = options.stableAfterMs ?? 60_000;
    this.#report = options.report;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Starts a component and keeps it running. A failure of this first start is thrown (the stack
   * cannot come up); failures of later restarts are reported and retried with the backoff.
   */
  async start<P extends SupervisedProcess>(
    name: string,
    launch: () => Promise<P>,
    options: ComponentOptions<NoInfer<P>> = {},
  ): Promise<Component<P>> {
    if (this.#stopping) throw new Error(`not starting ${name}: the stack is stopping`);
    let current: P | undefined;
    let restarts = 0;
    let delayMs = this.#initialDelayMs;
    let timer: NodeJS.Timeout | undefined;
    /** A restart in progress: stop() waits for it, then stops what it started. */
    let launching: Promise<void> | undefined;

    const started = (p: P, again: boolean) => {
      current = p;
      const startedAt = Date.now();
      this.#report(
        again
          ? `${name} restarted (pid ${p.process.pid}), restart ${restarts}`
          : `${name} started (pid ${p.process.pid})`,
      );
      options.onStart?.(p);
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        // A Ctrl-C reaches the whole process group at once: let the stack's own signal handler
        // run first, so that an exit it caused is not taken for a crash.
        setImmediate(() => crashed(p, code, signal, Date.now() - startedAt));
      if (p.process.exitCode !== null || p.process.signalCode !== null)
        onExit(p.process.exitCode, p.process.signalCode);
      else p.process.once("exit", onExit);
    };

    const crashed = (p: P, code: number | null, signal: NodeJS.Signals | null, upMs: number) => {
      if (this.#stopping || current !== p) return;
      current = undefined;
      if (upMs >= this.#stableAfterMs) delayMs = this.#initialDelayMs;
      const words = (options.lastWords?.(p) ?? []).filter((l) => l.trim() !== "").slice(-3);
      this.#report(
        `${name} (pid ${p.process.pid}) ${exitText(code, signal)} after ${duration(upMs)}; restarting in ${duration(delayMs)}` +
          words.map((l) => `\n    ${l.slice(0, 300)}`).join(""),
      );
      // What the crashed instance left (Envoy's temp dir, say) goes now.
      void p.stop().catch(() => undefined);
      schedule();
    };

    const schedule = () => {
      const wait = delayMs;
      delayMs = Math.min(delayMs * 2, this.#maxDelayMs);
      timer = setTimeout(() => {
        timer = undefined;
        if (this.#stopping) return;
        restarts += 1;
        launching = launch().then(
          async (p) => {
            if (this.#stopping) {
              await p.stop();
              return;
            }
            started(p, true);
          },
          (err: unknown) => {
            if (this.#stopping) return;
            const why = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
            this.#report(
              `${name} failed to restart (${why.slice(0, 300)}); next try in ${duration(delayMs)}`,
            );
            schedule();
          },
        );
      }, wait);
    };

    const first = await launch();
    if (this.#stopping) {
      // Ctrl-C came while it was starting.
      await first.stop();
      throw new Error(`${name} was stopped while it started: the stack is stopping`);
    }
    started(first, false);
    this.#components.push({
      name,
      stop: async () => {
        clearTimeout(timer);
        await launching;
        await current?.stop();
      },
    });
    return {
      name,
      get current() {
        return current;
      },
      get restarts() {
        return restarts;
      },
    };
  }

  /**
   * Stops every component, the last started first, and restarts nothing from here on. A start
   * that is in progress is awaited, then stopped.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const c of [...this.#components].reverse()) await c.stop().catch(() => undefined);
  }
}
