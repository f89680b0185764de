/** A clock that moves only when a test says so; timers run in time order, each followed by its promises. */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import type { Clock } from "../clock.js";

export interface FakeClock extends Clock {
  /** Moves time forward, running every timer due on the way and letting the promises they start settle. */
  advance(ms: number): Promise<void>;
  /** Timers waiting to run. */
  pendingTimers(): number;
}

export function createFakeClock(startMs = 0): FakeClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();

  const next = (until: number) => {
    let best: [number, { at: number; fn: () => void }] | undefined;
    for (const entry of timers) {
      if (entry[1].at > until) continue;
      if (!best || entry[1].at < best[1].at || (entry[1].at === best[1].at && entry[0] < best[0]))
        best = entry;
    }
    return best;
  };

  return {
    now: () => now,
    setTimer(ms, fn) {
      const id = seq++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return () => timers.delete(id);
    },
    async advance(ms) {
      const until = now + ms;
      await nextMacrotask();
      for (let t = next(until); t; t = next(until)) {
        timers.delete(t[0]);
        now = t[1].at;
        t[1].fn();
        // Promise chains the timer started (fake probes resolve in microtasks) finish before the
        // next macrotask, so they run at this instant of fake time, as they would for real.
        await nextMacrotask();
      }
      now = until;
    },
    pendingTimers: () => timers.size,
  };
}
