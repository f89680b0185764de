/**
 * Which nodes should hold each placed version: pure (config, what is known of the nodes, the
 * assignment so far) → the next assignment. Sticky: a node keeps what it holds while it stays
 * eligible, so an edit elsewhere never moves a version; new replicas go to the least loaded nodes.
 */
import type { Config, NodeConfig, PlacementConfig } from "@inferencehub/contracts/config";

/** A version the control plane places itself (`versions[].placement`). */
export interface PlacedVersion {
  /** `<model>/<version>`. */
  key: string;
  model: string;
  version: string;
  /** What the nodes call it ("" = the server's default version). */
  serverVersion: string;
  placement: PlacementConfig;
}

/** What the reconciler knows of a node when it assigns. */
export interface NodeFacts {
  /** Its repository answered the last read (false: it did not; undefined: not read yet). */
  alive: boolean | undefined;
  /** Model versions it holds or is loading: spreading keeps this even. */
  load: number;
  /** How many more versions it takes (Infinity when it reports no limit). */
  freeSlots: number;
}

export function versionKey(model: string, version: string): string {
  return `${model}/${version}`;
}

export function placedVersions(config: Config): PlacedVersion[] {
  const out: PlacedVersion[] = [];
  for (const model of config.models) {
    for (const v of model.versions) {
      if (!v.placement) continue;
      out.push({
        key: versionKey(model.name, v.version),
        model: model.name,
        version: v.version,
        serverVersion: v.serverVersion,
        placement: v.placement,
      });
    }
  }
  return out;
}

/**
 * Nodes a placement may use: in its pools, carrying its labels, not drained by an operator, and
 * speaking gRPC (the repository API has no REST form the control plane uses).
 */
export function eligibleNodes(nodes: readonly NodeConfig[], placement: PlacementConfig): NodeConfig[] {
  return nodes.filter(
    (node) =>
      !node.drain &&
      node.protocol === "grpc" &&
      (placement.pools.length === 0 || placement.pools.includes(node.pool)) &&
      Object.entries(placement.labels).every(([k, v]) => node.labels[k] === v),
  );
}

export interface AssignInput {
  config: Config;
  /** The last assignment, each version's nodes in order of preference (ready ones first). */
  current: ReadonlyMap<string, readonly string[]>;
  facts: (node: string) => NodeFacts;
  /** A node that failed this version recently and waits out its backoff. */
  excluded: (node: string, key: string) => boolean;
}

/**
 * Every placed version's nodes. "all": every eligible node, up or not (a node that is down or
 * failing simply is not ready there). A count: the nodes kept from before while eligible, alive
 * and not failing, then the least loaded eligible nodes known alive with room, in config order on
 * ties; fewer when not enough nodes qualify (the reconciler tries again as nodes change).
 */
export function assign(input: AssignInput): Map<string, string[]> {
  const { config, current, facts, excluded } = input;
  // Versions given to a node in this pass, so one pass spreads and respects room as it goes.
  const picked = new Map<string, number>();
  const loadOf = (node: string) => facts(node).load + (picked.get(node) ?? 0);
  const roomOf = (node: string) => facts(node).freeSlots - (picked.get(node) ?? 0);
  const out = new Map<string, string[]>();
  for (const placed of placedVersions(config)) {
    const eligible = eligibleNodes(config.nodes, placed.placement);
    const replicas = placed.placement.replicas;
    if (replicas === "all") {
      out.set(
        placed.key,
        eligible.map((n) => n.name),
      );
      continue;
    }
    const names = new Set(eligible.map((n) => n.name));
    const kept = (current.get(placed.key) ?? [])
      .filter((n) => names.has(n) && facts(n).alive !== false && !excluded(n, placed.key))
      .slice(0, replicas);
    out.set(placed.key, kept);
    const candidates = eligible.filter(
      (n) =>
        !kept.includes(n.name) &&
        facts(n.name).alive === true &&
        roomOf(n.name) >= 1 &&
        !excluded(n.name, placed.key),
    );
    for (let i = kept.length; i < replicas; i++) {
      let best: NodeConfig | undefined;
      for (const n of candidates) {
        if (kept.includes(n.name) || roomOf(n.name) < 1) continue;
        if (!best || loadOf(n.name) < loadOf(best.name)) best = n;
      }
      if (!best) break;
      kept.push(best.name);
      picked.set(best.name, (picked.get(best.name) ?? 0) + 1);
    }
  }
  return out;
}
