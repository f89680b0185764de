/**
 * What a proxyless (grpc-js-xds) client cannot be given as configured. grpc-js picks a version's
 * cluster and then a node, but sends no header saying which version it picked (it has no upstream
 * filters). A node that serves several versions of a model tells them apart only by port: a
 * version with a port of its own on the node (nodes[].versionPorts) gets its proxyless calls
 * there; one without runs the node's own default version for them, whatever the split said. The
 * control plane says so instead of letting it pass silently.
 */
import type { Logger } from "pino";
import type { Config, ModelConfig, NodeConfig } from "@inferencehub/contracts/config";

export function proxylessLimits(config: Config): string[] {
  let nodes: Map<string, NodeConfig> | undefined;
  return config.models.flatMap((model) => {
    const cached = byModel.get(model);
    if (cached?.nodes === config.nodes) return cached.limits;
    nodes ??= new Map(config.nodes.map((node) => [node.name, node]));
    const limits = modelLimits(model, nodes);
    byModel.set(model, { nodes: config.nodes, limits });
    return limits;
  });
}

/**
 * Each model's limits by its config object, with the nodes they were found against: the etcd store
 * keeps an unchanged model's object (contracts' ConfigAssembler), so an edit finds its own.
 */
const byModel = new WeakMap<ModelConfig, { nodes: readonly NodeConfig[]; limits: string[] }>();

function modelLimits(model: ModelConfig, nodes: ReadonlyMap<string, NodeConfig>): string[] {
  const problems: string[] = [];
  const byNode = new Map<string, string[]>();
  for (const v of model.versions)
    for (const n of v.nodes) byNode.set(n, [...(byNode.get(n) ?? []), v.version]);
  for (const [node, versions] of byNode) {
    if (versions.length < 2) continue;
    const ports = nodes.get(node)?.versionPorts ?? [];
    const portless = versions.filter(
      (version) => !ports.some((vp) => vp.model === model.name && vp.version === version),
    );
    if (portless.length === 0) continue;
    problems.push(
      `model '${model.name}': node '${node}' serves versions ${versions.join(", ")}, and ${portless.join(", ")} without a port of its own; a proxyless client's call for ${portless.length > 1 ? "them" : "it"} runs the node's own default version, not the one its split chose (give the node versionPorts, or each version its own nodes)`,
    );
  }
  return problems;
}

/** At most this many limits logged one by one per config; the rest are counted in one line. */
const limitsLoggedOneByOne = 10;

/**
 * Logs the limits a config has that the last one had not: a config of 1,000 models on shared
 * nodes has thousands, and logging them all again on every edit of one model cost more than
 * publishing the edit. /status lists them all, every time.
 */
export function proxylessLimitsLog(log: Pick<Logger, "warn">): (config: Config) => void {
  let known = new Set<string>();
  return (config) => {
    const limits = proxylessLimits(config);
    const fresh = limits.filter((limit) => !known.has(limit));
    known = new Set(limits);
    for (const limit of fresh.slice(0, limitsLoggedOneByOne)) log.warn({ group: "proxyless" }, limit);
    const more = fresh.length - limitsLoggedOneByOne;
    if (more > 0)
      log.warn(
        { group: "proxyless", more },
        `and ${more} more limits like these for proxyless clients: GET /status lists every one (proxylessLimits)`,
      );
  };
}
