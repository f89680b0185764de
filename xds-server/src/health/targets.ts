/** What to probe, derived from the config: pure, so config changes diff cleanly. */
import type { Config, HealthSettings } from "@inferencehub/contracts/config";

export interface ModelVersionTarget {
  model: string;
  /** The gateway's name for the version (the health table's key). */
  version: string;
  /** What ModelReady asks the node for ("" = the server's default model). */
  serverVersion: string;
  /** ModelReady deadline: this model's own `health.timeout`. */
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface NodeTarget {
  node: string;
  address: string;
  /** gRPC, or REST for a node that speaks only that (probed over HTTP). */
  protocol: "grpc" | "rest";
  /**
   * Interval, timeout (of the node-level probes) and jitter: the smallest among the models the
   * node serves, so no model is probed less often or more leniently than it asked for. A node
   * serving no model is probed with `defaults.health`, for /status only.
   */
  intervalMs: number;
  timeoutMs: number;
  jitter: number;
  /** Every (model, version) the config places on this node, sorted. */
  models: ModelVersionTarget[];
}

/** One target per node, in config order. */
export function probeTargets(config: Config): NodeTarget[] {
  return config.nodes.map((node) => {
    const models: ModelVersionTarget[] = [];
    const settings: HealthSettings[] = [];
    for (const model of config.models) {
      for (const v of model.versions) {
        if (!v.nodes.includes(node.name)) continue;
        settings.push(model.health);
        models.push({
          model: model.name,
          version: v.version,
          serverVersion: v.serverVersion,
          timeoutMs: model.health.timeoutMs,
          healthyThreshold: model.health.healthyThreshold,
          unhealthyThreshold: model.health.unhealthyThreshold,
        });
      }
    }
    if (settings.length === 0) settings.push(config.defaults.health);
    models.sort((a, b) => compare(a.model, b.model) || compare(a.version, b.version));
    return {
      node: node.name,
      address: node.address,
      protocol: node.protocol,
      intervalMs: Math.min(...settings.map((s) => s.intervalMs)),
      timeoutMs: Math.min(...settings.map((s) => s.timeoutMs)),
      jitter: Math.min(...settings.map((s) => s.jitter)),
      models,
    };
  });
}

/** `<model>/<version>`: neither part can hold a `/` (DNS label; letters, digits and `-`). */
export function modelKey(model: string, version: string): string {
  return `${model}/${version}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether two configs give the same probe targets, found without deriving them: the same nodes
 * and defaults (objects), and each model the same object or one that differs in nothing probed
 * (a weight edit). The etcd store keeps unchanged parts of the config as the same objects
 * (contracts' ConfigAssembler), so an edit of one model costs a few comparisons here, not a walk
 * of every version on every node. False whenever it cannot tell cheaply: the caller derives them.
 */
export function sameProbeTargets(a: Config, b: Config): boolean {
  if (a.nodes !== b.nodes || a.defaults !== b.defaults || a.models.length !== b.models.length) return false;
  return a.models.every((m, i) => {
    const n = b.models[i]!;
    return m === n || probedPart(m) === probedPart(n);
  });
}

/** What probeTargets reads of a model. */
function probedPart(model: Config["models"][number]): string {
  return JSON.stringify([
    model.name,
    model.health,
    model.versions.map((v) => [v.version, v.serverVersion, v.nodes]),
  ]);
}
