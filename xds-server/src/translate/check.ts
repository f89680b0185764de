/**
 * Consistency of a resource set before it is served: a client that is sent a reference it cannot
 * resolve waits for it (a listener or cluster stays warming, Envoy's initial_fetch_timeout is 15 s)
 * and a resource nothing names is dead weight. The runner refuses to publish a snapshot whose set
 * fails it (runner/publish.ts), as go-control-plane's Snapshot.Consistent() does.
 *
 * Every rule comes from the kinds table (resources/kinds.ts): each kind's own name, the names its
 * resources give of other kinds (the one reference walker), orphans, and per-kind checks such as
 * Envoy's unique scope keys.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#eventual-consistency-considerations
 */
import { kindTable, type KindInfo, type ReferenceSpec } from "../resources/index.js";
import type { Named, ResourceKind, ResourceSet } from "./types.js";

export interface ResourceProblem {
  kind: ResourceKind;
  /** The resource the problem is about. */
  name: string;
  message: string;
}

const itemsOf = (set: ResourceSet, entry: KindInfo) => set[entry.set] as Named<unknown>[];

/**
 * Problems in this order: names (duplicates, a name that differs from the one inside), then kind by
 * kind, last pushed first: references to it that do not resolve (those a client waits for first,
 * then those resolved per call; naming kinds in push order), its orphans, its own check.
 */
export function checkResourceSet(set: ResourceSet): ResourceProblem[] {
  const problems = kindTable.flatMap((entry) => checkNames(entry, itemsOf(set, entry)));
  for (const target of [...kindTable].reverse()) {
    const exists = new Set(itemsOf(set, target).map((r) => r.name));
    const named = new Set<string>();
    const incoming = kindTable
      .flatMap((source) =>
        source.references.filter((r) => r.kind === target.kind).map((ref) => ({ source, ref })),
      )
      .sort((a, b) => Number(b.ref.waits) - Number(a.ref.waits));
    for (const { source, ref } of incoming)
      problems.push(...checkReferences(set, source, ref, exists, named));
    for (const { name } of itemsOf(set, target)) {
      if (target.orphan !== undefined && !named.has(name))
        problems.push({ kind: target.set, name, message: target.orphan });
    }
    for (const p of target.check?.(itemsOf(set, target)) ?? []) problems.push({ kind: target.set, ...p });
  }
  return problems;
}

function checkNames(entry: KindInfo, items: readonly Named<unknown>[]): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  const seen = new Set<string>();
  for (const { name, resource } of items) {
    if (seen.has(name)) problems.push({ kind: entry.set, name, message: "duplicate name" });
    seen.add(name);
    const own = entry.nameOf(resource);
    if (own !== name)
      problems.push({ kind: entry.set, name, message: `is named ${JSON.stringify(own)} inside` });
  }
  return problems;
}

/** One reference of one kind: each name its resources give that does not exist; records the names. */
function checkReferences(
  set: ResourceSet,
  source: KindInfo,
  ref: ReferenceSpec<unknown>,
  exists: ReadonlySet<string>,
  named: Set<string>,
): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  for (const { name, resource } of itemsOf(set, source)) {
    for (const wanted of ref.names(resource)) {
      named.add(wanted);
      if (!exists.has(wanted)) problems.push({ kind: source.set, name, message: ref.missing(wanted) });
    }
  }
  return problems;
}
