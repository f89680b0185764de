/**
 * The config shape the integration tests start from: Envoy's listener on the fixture's port, the
 * running nodes, and models; plus the `scale` model with weighted versions most of them route.
 */
import type { NodeEntry } from "./gateway-fixture.js";

export interface ModelEntry {
  name: string;
  versions: { version: string; weight?: number; nodes: string[] }[];
  shadow?: { version: string; percent: number };
}

export function gatewayConfig(
  nodes: NodeEntry[],
  listenPort: number,
  models: ModelEntry[],
  extra: object = {},
) {
  return { listener: { address: "127.0.0.1", port: listenPort }, nodes, models, ...extra };
}

/**
 * The failover tests' defaults: a call that could not reach a node is retried on another (never
 * one that may have run), and a node that keeps failing locally is ejected at once.
 */
export function failoverDefaults(perTryTimeoutMs: number) {
  return {
    retry: {
      attempts: 3,
      perTryTimeout: `${perTryTimeoutMs}ms`,
      on: ["connect-failure", "refused-stream", "reset-before-request"],
    },
    outlierDetection: {
      consecutiveLocalOriginFailure: 2,
      interval: "500ms",
      baseEjectionTime: "10s",
      maxEjectionPercent: 67,
    },
  };
}

/** `scale` with versions "1", "2", ... weighted in this order, on these nodes (or each version's). */
export function scaleModel(
  weights: readonly number[],
  nodes: readonly string[] | ((version: string) => string[]),
): ModelEntry {
  const versions = weights.map((weight, i) => {
    const version = String(i + 1);
    return { version, weight, nodes: typeof nodes === "function" ? nodes(version) : [...nodes] };
  });
  return { name: "scale", versions };
}
