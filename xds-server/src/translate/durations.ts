import type { Duration } from "../../../gen/envoy/google/protobuf/duration.js";

/** Milliseconds (possibly fractional) → protobuf Duration, exact to the nanosecond. */
export function duration(ms: number): Duration {
  const totalNanos = Math.round(ms * 1_000_000);
  const seconds = Math.trunc(totalNanos / 1_000_000_000);
  return { seconds, nanos: totalNanos - seconds * 1_000_000_000 };
}
