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
