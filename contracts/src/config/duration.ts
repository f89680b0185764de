/**
 * Durations as operators write them ("250ms", "10s", "1.5m", "2h") and as the normalized config
 * holds them (milliseconds, possibly fractional). One unit per value keeps the syntax obvious.
 */

/** The syntax the schema enforces; parseDuration() accepts exactly these strings. */
export const durationPattern = /^([0-9]{1,7})(?:\.([0-9]{1,9}))?(ms|s|m|h)$/;

const nanosPerUnit = {
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
} as const;

/** Milliseconds, or undefined when text is not a duration. Exact to the nanosecond. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  const [, whole = "0", fraction = "", unit = "ms"] = match;
  const perUnit = nanosPerUnit[unit as keyof typeof nanosPerUnit];
  // BigInt: 1.1s would be 1100.0000000000002 ms in floating point.
  const scale = 10n ** BigInt(fraction.length);
  const nanos = (BigInt(whole) * scale + BigInt(fraction || "0")) * perUnit;
  return Number(nanos / scale) / 1e6;
}

/** The shortest exact spelling in the largest whole unit: 90000 → "90s", 60000 → "1m", 1.5 → "1.5ms". */
export function formatDuration(ms: number): string {
  if (Number.isInteger(ms) && ms > 0) {
    if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
    if (ms % 60_000 === 0) return `${ms / 60_000}m`;
    if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  }
  return `${ms}ms`;
}
