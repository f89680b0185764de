/**
 * The config the rest of the control plane translates: each placed version's `nodes` filled in
 * with the nodes where the reconciler has seen it ready. Routing therefore only ever names a node
 * once its load finished (make-before-break), and drops it before it is unloaded.
 *
 * Pure, and keeps identity: a model whose placed nodes did not change is the same object as in the
 * last result, so buildIR's memo and the prober's sameProbeTargets still see an edit as small.
 */
import type { Config, ModelConfig } from "@inferencehub/contracts/config";
import { versionKey } from "./placement.js";

/** The nodes where a placed version is ready now, in config order. */
export type ReadyNodes = (key: string) => readonly string[];

export interface PlacedConfigMemo {
  models: WeakMap<ModelConfig, { signature: string; placed: ModelConfig }>;
}

export function createPlacedConfigMemo(): PlacedConfigMemo {
  return { models: new WeakMap() };
}

export function placedConfig(config: Config, ready: ReadyNodes, memo = createPlacedConfigMemo()): Config {
  if (!config.models.some((m) => m.versions.some((v) => v.placement))) return config;
  const order = new Map(config.nodes.map((n, i) => [n.name, i]));
  const byOrder = (a: string, b: string) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const models = config.models.map((model) => {
    if (!model.versions.some((v) => v.placement)) return model;
    const nodes = model.versions.map((v) =>
      v.placement
        ? ready(versionKey(model.name, v.version))
            .filter((n) => order.has(n))
            .sort(byOrder)
        : v.nodes,
    );
    const signature = JSON.stringify(nodes);
    const kept = memo.models.get(model);
    if (kept?.signature === signature) return kept.placed;
    const placed: ModelConfig = {
      ...model,
      versions: model.versions.map((v, i) => ({ ...v, nodes: nodes[i] ?? [] })),
    };
    memo.models.set(model, { signature, placed });
    return placed;
  });
  return { ...config, models };
}
