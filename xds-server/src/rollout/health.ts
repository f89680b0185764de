/**
 * The new version's health and readiness, from the health prober's table (what /status shows per
 * node and "model/version"): the rollout rolls back when none of the version's nodes is HEALTHY
 * and every one of them has been probed.
 */
import type { Config } from "@inferencehub/contracts/config";
import type { VersionHealth } from "./decide.js";

/** node → "model/version" → HEALTHY, UNHEALTHY, DRAINING or UNKNOWN (the prober's snapshot). */
export type HealthByNode = Readonly<Record<string, { models: Readonly<Record<string, { status: string }>> }>>;

export function versionHealth(
  config: Config | undefined,
  health: HealthByNode | undefined,
  model: string,
  version: string,
): VersionHealth {
  const nodes =
    config?.models.find((m) => m.name === model)?.versions.find((v) => v.version === version)?.nodes ?? [];
  let healthy = 0;
  let unknown = 0;
  for (const node of nodes) {
    const status = health?.[node]?.models[`${model}/${version}`]?.status ?? "UNKNOWN";
    if (status === "HEALTHY") healthy++;
    else if (status === "UNKNOWN") unknown++;
  }
  return { healthy, unknown, total: nodes.length };
}

/** The readiness a rollout waits for before its first step, for now: a node of it is HEALTHY. */
export function readyWhenHealthy(h: VersionHealth): { ready: boolean; detail: string } {
  return h.healthy > 0
    ? { ready: true, detail: `${h.healthy}/${h.total} node(s) HEALTHY` }
    : {
        ready: false,
        detail: `none of its ${h.total} node(s) is HEALTHY yet (${h.unknown} not probed yet)`,
      };
}
