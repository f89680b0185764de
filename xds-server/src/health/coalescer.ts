/**
 * Bounds how often health changes leave the prober, so a flapping node cannot cause a push storm:
 * at most one flush per window, and the first change after a quiet window is flushed on the
 * next timer tick (so a failover is not delayed by the window). Every change made in the same
 * tick (one probe round marks all of a node's model versions) goes out in one flush.
 *
 * Over any span of D ms there are at most D / windowMs + 1 flushes.
 */
import type { Clock } from "@inferencehub/contracts/clock";

export interface CoalescerOptions {
  windowMs: number;
  clock: Clock;
  /**
   * Sends what changed; returns false when nothing did after all (a flap that went back within
   * the window), in which case the window does not restart.
   */
  flush: () => boolean;
}

export interface Coalescer {
  /** Something changed: flush soon, subject to the window. */
  notify(): void;
  /** Drops a pending flush. */
  cancel(): void;
}

export function createCoalescer(options: CoalescerOptions): Coalescer {
  const { windowMs, clock } = options;
  let lastFlushAt = Number.NEGATIVE_INFINITY;
  let cancelTimer: (() => void) | undefined;

  return {
    notify() {
      if (cancelTimer) return;
      const delay = Math.max(0, lastFlushAt + windowMs - clock.now());
      cancelTimer = clock.setTimer(delay, () => {
        cancelTimer = undefined;
        if (options.flush()) lastFlushAt = clock.now();
      });
    },
    cancel() {
      cancelTimer?.();
      cancelTimer = undefined;
    },
  };
}
