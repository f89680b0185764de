/**
 * What a proxyless (grpc-js-xds) client cannot be given as configured. grpc-js picks a version's
 * cluster and then a node, but sends no header saying which version it picked (it has no upstream
 * filters), so a node that serves several versions of a model runs its own default for such a
 * call, whatever the split said. The control plane says so instead of letting it pass silently.
 */
import type { Config } from "../config/index.js";

export function proxylessLimits(config: Config): string[] {
  const problems: string[] = [];
  for (const model of config.models) {
    const byNode = new Map<string, string[]>();
    for (const v of model.versions)
      for (const n of v.nodes) byNode.set(n, [...(byNode.get(n) ?? []), v.version]);
    for (const [node, versions] of byNode) {
      if (versions.length < 2) continue;
      problems.push(
        `model '${model.name}': node '${node}' serves versions ${versions.join(", ")}; a proxyless client's call there runs the node's own default version, not the one its split chose (give each version its own nodes for proxyless clients)`,
      );
    }
  }
  return problems;
}
