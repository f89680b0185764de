/**
 * A child process's output lines, kept (the newest `keep`) and waited on: what the process
 * helpers (ready-process.ts, binary-process.ts) share.
 */
export interface OutputLines {
  /** The lines so far, oldest first. */
  logs: string[];
  /** Adds a line: feed it each stdout and stderr line. */
  record(line: string): void;
  /**
   * Resolves with the first line (seen from line `from` on, or to come) that matches; rejects
   * after timeoutMs, quoting the last lines.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
}

export function outputLines(label: string, keep = 2000): OutputLines {
  const logs: string[] = [];
  const watchers = new Set<(line: string) => void>();
  return {
    logs,
    record: (line) => {
      logs.push(line);
      if (logs.length > keep) logs.splice(0, logs.length - keep);
      for (const w of watchers) w(line);
    },
    waitForLine: (pattern, timeoutMs = 10_000, from = 0) => {
      const seen = logs.slice(from).find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(
            new Error(
              `${label}: no output line matched ${pattern} in ${timeoutMs} ms:\n${logs.slice(-20).join("\n")}`,
            ),
          );
        }, timeoutMs);
        const watcher = (line: string) => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          resolve(line);
        };
        watchers.add(watcher);
      });
    },
  };
}
