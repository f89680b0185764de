/** The fleet section: the reconciler's timings. */
import { defaultFleetSettings } from "../defaults.js";
import { formatDuration, parseDuration } from "../duration.js";
import type { Issue } from "../schema.js";
import { isRecord } from "./shared.js";
import type { Raw } from "./shared.js";

/** A retry never waits longer than maxRetryBackoff, so the first wait may not either. */
export function checkFleet(raw: Raw): Issue[] {
  const fleet = raw.fleet;
  if (!isRecord(fleet)) return [];
  const retry = durationOr(fleet.retryBackoff, defaultFleetSettings.retryBackoffMs);
  const max = durationOr(fleet.maxRetryBackoff, defaultFleetSettings.maxRetryBackoffMs);
  // A malformed duration is the schema's to report.
  if (retry === undefined || max === undefined || retry <= max) return [];
  if (fleet.retryBackoff !== undefined) {
    const limit =
      fleet.maxRetryBackoff === undefined
        ? `${formatDuration(max)}, the default`
        : String(fleet.maxRetryBackoff);
    return [
      {
        segments: ["fleet", "retryBackoff"],
        message: `'${String(fleet.retryBackoff)}' is longer than maxRetryBackoff (${limit})`,
      },
    ];
  }
  return [
    {
      segments: ["fleet", "maxRetryBackoff"],
      message: `'${String(fleet.maxRetryBackoff)}' is shorter than retryBackoff (${formatDuration(retry)}, the default)`,
    },
  ];
}

/** Milliseconds as written, the default when not written, undefined when not a duration. */
function durationOr(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return typeof value === "string" ? parseDuration(value) : undefined;
}
