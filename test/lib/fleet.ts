/** What the placement tests share: short fleet timings and readers of /status and /metrics. */
import type { FleetStatus } from "../../xds-server/src/fleet/index.js";
import { metricValue } from "../../scripts/lib/node-process.js";
import type { XdsProcess } from "../../scripts/lib/xds-process.js";

/** The config's `fleet` section for tests: node reads, drains and retries in fractions of a second. */
export const TEST_FLEET = {
  syncInterval: "300ms",
  drain: "500ms",
  retryBackoff: "300ms",
  maxRetryBackoff: "2s",
  loadTimeout: "30s",
};

export const placedVersion = (fleet: FleetStatus | undefined, model: string, version: string) =>
  fleet?.versions.find((v) => v.model === model && v.version === version);

/** The nodes where the control plane reports the version ready, sorted. */
export const readyOn = (fleet: FleetStatus | undefined, model: string, version: string): string[] =>
  (placedVersion(fleet, model, version)?.nodes ?? [])
    .filter((n) => n.state === "ready")
    .map((n) => n.node)
    .sort();

/** The control plane's repository calls so far (inferencehub_fleet_operations_total), by label. */
export const fleetOperations = async (
  xds: XdsProcess,
  labels: Record<string, string> = {},
): Promise<number> => metricValue(await xds.metrics(), "inferencehub_fleet_operations_total", labels);
