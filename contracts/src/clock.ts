/**
 * Time, injected wherever behaviour depends on it (the prober's thresholds, jitter and coalescing,
 * ext-authz's token expiry and rate limits), so that tests run on a fake clock
 * (testing/fake-clock.ts: 10 simulated seconds in a few milliseconds, the same result every run).
 */
export interface Clock {
  /** Milliseconds since the epoch, never going backwards. */
  now(): number;
  /** Runs `fn` once after `ms`; the function returned cancels it (a no-op once it ran). */
  setTimer(ms: number, fn: () => void): () => void;
}

/**
 * The process clock. `now()` is `performance.timeOrigin + performance.now()`: epoch-based, so
 * it prints as a date in /status, yet monotonic and sub-millisecond, so an NTP step cannot make
 * a probe latency negative and loopback probes do not all round to 0 ms.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/**
 * The wall clock, for what is compared with times written elsewhere (a JWT's `exp` and `nbf`): it
 * follows NTP steps, as the issuer's clock does.
 */
export const wallClock: Clock = {
  now: () => Date.now(),
  setTimer: systemClock.setTimer,
};
