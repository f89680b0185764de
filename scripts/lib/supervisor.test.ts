// issue #10 finding 5 (npm start supervises what it starts): restarts, backoff, reset, stop.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterEach, test } from "node:test";
import { Supervisor, type SupervisedProcess } from "./supervisor.js";

/** A real process running `script` (stay up, exit at once with a code, ...). */
function child(script: string): SupervisedProcess & { exited: Promise<unknown> } {
  const p: ChildProcess = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
  const exited = p.exitCode !== null ? Promise.resolve() : once(p, "exit");
  return {
    process: p,
    exited,
    stop: async () => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill("SIGTERM");
      await exited;
    },
  };
}
const STAY_UP = "setInterval(() => {}, 1e6)";

/** Collects report lines and resolves waiters on the first line (seen or to come) that matches. */
function reports() {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (l: string) => void }>();
  return {
    lines,
    report: (line: string) => {
      lines.push(line);
      for (const w of waiters) {
        if (!w.pattern.test(line)) continue;
        waiters.delete(w);
        w.resolve(line);
      }
    },
    next: (pattern: RegExp, after = lines.length) =>
      new Promise<string>((resolve, reject) => {
        const seen = lines.slice(after).find((l) => pattern.test(l));
        if (seen) return resolve(seen);
        const timer = setTimeout(
          () => reject(new Error(`no report matched ${pattern}:\n${lines.join("\n")}`)),
          10_000,
        );
        waiters.add({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      }),
  };
}

let supervisor: Supervisor | undefined;
afterEach(() => supervisor?.stop());

test("a component killed with -9 is started again, and the exit is reported with its signal", async () => {
  const r = reports();
  supervisor = new Supervisor({ initialDelayMs: 20, report: r.report });
  const c = await supervisor.start("worker", async () => child(STAY_UP));
  const first = c.current!;
  assert.match(r.lines[0] ?? "", new RegExp(`^worker started \\(pid ${first.process.pid}\\)$`));
  const mark = r.lines.length;
  first.process.kill("SIGKILL");
  assert.match(
    await r.next(/exited|killed/, mark),
    new RegExp(
      `^worker \\(pid ${first.process.pid}\\) was killed by SIGKILL after \\d+ ms; restarting in 20 ms$`,
    ),
  );
  const back = await r.next(/restarted/, mark);
  assert.equal(c.restarts, 1);
  assert.ok(c.current && c.current !== first);
  assert.equal(back, `worker restarted (pid ${c.current.process.pid}), restart 1`);
});

test("a crash loop backs off: the delay doubles up to the cap", async () => {
  const r = reports();
  supervisor = new Supervisor({ initialDelayMs: 20, maxDelayMs: 80, report: r.report });
  await supervisor.start("crasher", async () => child("process.exit(3)"), {
    lastWords: () => ["", "fatal: something broke"],
  });
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const line = await r.next(/restarting in/, r.lines.findLastIndex((l) => /restarting in/.test(l)) + 1);
    assert.match(line, /exited with code 3/);
    assert.match(line, /\n {4}fatal: something broke$/, "the last output is quoted");
    delays.push(Number(/restarting in (\d+) ms/.exec(line)?.[1]));
  }
  assert.deepEqual(delays, [20, 40, 80, 80, 80]);
});

test("a component that stayed up long enough starts over from the first delay", async () => {
  const r = reports();
  // "Stable" is well above a process start on a loaded 2-core machine (a quick crash there can take
  // several hundred ms from spawn to exit).
  supervisor = new Supervisor({
    initialDelayMs: 20,
    maxDelayMs: 1000,
    stableAfterMs: 1500,
    report: r.report,
  });
  let launches = 0;
  // Two quick crashes (20, 40 ms), then up for 2 s before it exits: the next delay is 20 ms again.
  await supervisor.start("flaky", async () => {
    launches += 1;
    return child(
      launches === 3 ? "setTimeout(() => process.exit(1), 2000)" : launches > 3 ? STAY_UP : "process.exit(1)",
    );
  });
  await r.next(/restart 3$/);
  const delays = r.lines
    .filter((l) => /restarting in/.test(l))
    .map((l) => /restarting in (\d+) ms/.exec(l)?.[1]);
  assert.deepEqual(delays, ["20", "40", "20"]);
});

test("a restart that fails to start is reported and tried again later", async () => {
  const r = reports();
  supervisor = new Supervisor({ initialDelayMs: 20, report: r.report });
  let launches = 0;
  const c = await supervisor.start("picky", async () => {
    launches += 1;
    if (launches === 2) throw new Error("port 19000 in use\nmore detail");
    return child(STAY_UP);
  });
  c.current!.process.kill("SIGKILL");
  assert.equal(
    await r.next(/failed to restart/),
    "picky failed to restart (port 19000 in use); next try in 40 ms",
  );
  await r.next(/restart 2$/);
  assert.ok(c.current);
});

test("stop() ends every component and restarts nothing, even with a restart pending", async () => {
  const r = reports();
  const s = new Supervisor({ initialDelayMs: 200, report: r.report });
  const a = await s.start("a", async () => child(STAY_UP));
  const b = await s.start("b", async () => child(STAY_UP));
  const bProcess = b.current!;
  const aProcess = a.current! as ReturnType<typeof child>;
  bProcess.process.kill("SIGKILL");
  await r.next(/restarting in 200 ms/);
  await s.stop();
  await aProcess.exited;
  assert.equal(aProcess.process.signalCode, "SIGTERM");
  // Past the time the restart was due (a non-event has no event to wait on): nothing started.
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(b.current, undefined);
  assert.equal(r.lines.filter((l) => /restarted/.test(l)).length, 0);
  await assert.rejects(
    s.start("c", async () => child(STAY_UP)),
    /stopping/,
  );
});
