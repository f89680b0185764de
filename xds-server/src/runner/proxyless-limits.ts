/**
 * What a proxyless (grpc-js-xds) client cannot be given as configured. grpc-js picks a version's
 * cluster and then a node, but sends no header saying which version it picked (it has no upstream
 * filters). A node that serves several versions of a model tells them apart only by port: a
 * version with a port of its own on the node (nodes[].versionPorts) gets its proxyless calls
 * there; one without runs the node's own default version for them, whatever the split said. The
 * control plane says so instead of letting it pass silently.
 */
import type { Config } from "@inferencehub/contracts/config";

export function proxylessLimits(config: Config): string[] {
  const problems: string[] = [];
  const nodes = new Map(config.nodes.map((node) => [node.name, node]));
  for (const model of config.models) {
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
  }
  return problems;
}
