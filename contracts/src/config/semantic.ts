/**
 * The rules a JSON schema cannot state: references between fields, weight sums, duplicates and
 * addresses. They run on the raw document even when the schema found problems, skipping whatever
 * is malformed (the schema reports that), so an operator sees every problem in one pass.
 * Each section of the file has its checks in semantic/; this runs them in file order.
 */
import type { Issue } from "./schema.js";
import { checkAuth } from "./semantic/auth.js";
import { checkFleet } from "./semantic/fleet.js";
import { checkListener } from "./semantic/listener.js";
import { checkModels } from "./semantic/models.js";
import { checkNodes, checkPools, checkVersionPorts } from "./semantic/nodes.js";
import { checkControlPlane } from "./semantic/services.js";
import { isRecord, listOf, stringOf } from "./semantic/shared.js";

export { splitAddress } from "./semantic/shared.js";

export function checkSemantics(raw: unknown): Issue[] {
  if (!isRecord(raw)) return [];
  const nodeNames = new Set(
    listOf(raw.nodes).flatMap((node) => stringOf(isRecord(node) ? node.name : undefined) ?? []),
  );
  return [
    ...checkPools(raw),
    ...checkNodes(raw),
    ...checkVersionPorts(raw),
    ...checkListener(raw.listener),
    ...checkModels(raw, nodeNames),
    ...checkAuth(raw),
    ...checkControlPlane(raw),
    ...checkFleet(raw),
  ];
}
