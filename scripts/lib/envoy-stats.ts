/** Reading Envoy's admin /stats output into plain numbers for tests and benchmarks. */

/** Flattens /stats?format=json: {"stats":[{"name","value"} | {"histograms":…}]}. */
export function parseStats(json: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const entries = isRecord(json) && Array.isArray(json.stats) ? (json.stats as unknown[]) : [];
  for (const entry of entries) {
    if (isRecord(entry) && typeof entry.name === "string" && typeof entry.value === "number") {
      out[entry.name] = entry.value;
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
