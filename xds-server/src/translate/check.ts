/**
 * Consistency of a resource set before it is served: a client that is sent a reference it cannot
 * resolve waits for it (a listener or cluster stays warming, Envoy's initial_fetch_timeout is 15 s)
 * and a resource nothing names is dead weight. The runner refuses to publish a snapshot whose set
 * fails it (runner/publish.ts), as go-control-plane's Snapshot.Consistent() does.
 *
 * Every rule comes from the kinds table (resources/kinds.ts): each kind's own name, the names its
 * resources give of other kinds (the one reference walker), orphans, and keys Envoy wants unique.
 *
 * The check reads records, not messages: what each rule needs of a resource, taken once when it
 * is translated and encoded (snapshot/from-resources.ts). The snapshot builder keeps the records
 * of every unit instead of its translated messages, so checking the whole set on each publish
 * walks strings, not message trees, and the messages are garbage as soon as they are encoded.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#eventual-consistency-considerations
 */
import { kindTable, type KindInfo } from "../resources/index.js";
import type { Named, ResourceKind, ResourceSet } from "./types.js";

export interface ResourceProblem {
  kind: ResourceKind;
  /** The resource the problem is about. */
  name: string;
  message: string;
}

/** What the check needs of one resource. */
export interface ResourceRecord {
  /** The name it is listed (and sent) under. */
  name: string;
  /** The name it carries inside. */
  inside: string;
  /** The names it gives, one list per entry of its kind's `references`, repeats included. */
  refs: readonly (readonly string[])[];
  /** Its kind's uniqueKey, when the kind has one. */
  key?: string;
}

/** A ResourceSet's records, field by field. */
export type RecordSet = Record<ResourceKind, readonly ResourceRecord[]>;

export function recordOf(entry: KindInfo, { name, resource }: Named<unknown>): ResourceRecord {
  return {
    name,
    inside: entry.nameOf(resource),
    refs: entry.references.map((ref) => ref.names(resource)),
    ...(entry.uniqueKey ? { key: entry.uniqueKey.of(resource) } : {}),
  };
}

export function recordsOf(set: ResourceSet): RecordSet {
  return Object.fromEntries(
    kindTable.map((entry) => [
      entry.set,
      (set[entry.set] as Named<unknown>[]).map((item) => recordOf(entry, item)),
    ]),
  ) as unknown as RecordSet;
}

export function checkResourceSet(set: ResourceSet): ResourceProblem[] {
  return checkRecords(recordsOf(set));
}

/**
 * Problems in this order: names (duplicates, a name that differs from the one inside), then kind by
 * kind, last pushed first: references to it that do not resolve (those a client waits for first,
 * then those resolved per call; naming kinds in push order), its orphans, its duplicate keys.
 */
export function checkRecords(set: RecordSet): ResourceProblem[] {
  const problems = kindTable.flatMap((entry) => checkNames(entry, set[entry.set]));
  for (const target of [...kindTable].reverse()) {
    const exists = new Set(set[target.set].map((r) => r.name));
    const named = new Set<string>();
    const incoming = kindTable
      .flatMap((source) =>
        source.references.flatMap((ref, index) => (ref.kind === target.kind ? [{ source, ref, index }] : [])),
      )
      .sort((a, b) => Number(b.ref.waits) - Number(a.ref.waits));
    for (const { source, ref, index } of incoming) {
      for (const record of set[source.set]) {
        for (const wanted of record.refs[index] ?? []) {
          named.add(wanted);
          if (!exists.has(wanted))
            problems.push({ kind: source.set, name: record.name, message: ref.missing(wanted) });
        }
      }
    }
    for (const { name } of set[target.set]) {
      if (target.orphan !== undefined && !named.has(name))
        problems.push({ kind: target.set, name, message: target.orphan });
    }
    if (target.uniqueKey) problems.push(...checkKeys(target, set[target.set]));
  }
  return problems;
}

function checkNames(entry: KindInfo, records: readonly ResourceRecord[]): ResourceProblem[] {
  const problems: ResourceProblem[] = [];
  const seen = new Set<string>();
  for (const { name, inside } of records) {
    if (seen.has(name)) problems.push({ kind: entry.set, name, message: "duplicate name" });
    seen.add(name);
    if (inside !== name)
      problems.push({ kind: entry.set, name, message: `is named ${JSON.stringify(inside)} inside` });
  }
  return problems;
}

function checkKeys(entry: KindInfo, records: readonly ResourceRecord[]): ResourceProblem[] {
  const owners = new Map<string, string>();
  const problems: ResourceProblem[] = [];
  for (const { name, key = "" } of records) {
    const owner = owners.get(key);
    if (owner !== undefined) problems.push({ kind: entry.set, name, message: entry.uniqueKey!.taken(owner) });
    else owners.set(key, name);
  }
  return problems;
}

/**
 * Whether checkRecords would find a problem, kept up to date record by record: a publish that
 * changed one unit adds and removes that unit's records, and asks. Counts per name (defined,
 * named by references, keys), and the names whose counts make a problem; what the problems are is
 * for checkRecords on the whole set, run only when there are some (a translator bug).
 */
export class ConsistencyIndex {
  /** Per kind: name → how many resources have it. */
  #defined = new Map<ResourceKind, Map<string, number>>();
  /** Per kind: name → how many references name it, from any kind. */
  #named = new Map<ResourceKind, Map<string, number>>();
  /** Per kind with a uniqueKey: key → how many resources have it. */
  #keys = new Map<ResourceKind, Map<string, number>>();
  /** Per kind: the names, and the keys, whose counts make a problem now. */
  #badNames = new Map<ResourceKind, Set<string>>();
  #badKeys = new Map<ResourceKind, Set<string>>();
  /** How many names and keys are in those sets, all kinds together. */
  #bad = 0;
  /** Resources whose inside name is not their listed name. */
  #misnamed = 0;

  get consistent(): boolean {
    return this.#bad === 0 && this.#misnamed === 0;
  }

  add(entry: KindInfo, record: ResourceRecord): void {
    this.#apply(entry, record, 1);
  }

  remove(entry: KindInfo, record: ResourceRecord): void {
    this.#apply(entry, record, -1);
  }

  #apply(entry: KindInfo, record: ResourceRecord, by: 1 | -1): void {
    if (record.inside !== record.name) this.#misnamed += by;
    bump(this.#defined, entry.set, record.name, by);
    this.#judge(kindBySet.get(entry.set)!, record.name);
    entry.references.forEach((ref, i) => {
      const target = kindByKind.get(ref.kind)!;
      for (const name of record.refs[i] ?? []) {
        bump(this.#named, target.set, name, by);
        this.#judge(target, name);
      }
    });
    if (entry.uniqueKey) {
      const key = record.key ?? "";
      this.#mark(this.#badKeys, entry.set, key, bump(this.#keys, entry.set, key, by) > 1);
    }
  }

  /** A name of a kind is a problem when defined twice, named but not defined, or an orphan. */
  #judge(entry: KindInfo, name: string): void {
    const defined = this.#defined.get(entry.set)?.get(name) ?? 0;
    const named = this.#named.get(entry.set)?.get(name) ?? 0;
    const problem =
      defined > 1 ||
      (defined === 0 && named > 0) ||
      (defined > 0 && named === 0 && entry.orphan !== undefined);
    this.#mark(this.#badNames, entry.set, name, problem);
  }

  #mark(bad: Map<ResourceKind, Set<string>>, kind: ResourceKind, name: string, problem: boolean): void {
    let names = bad.get(kind);
    if (!names) bad.set(kind, (names = new Set()));
    const before = names.size;
    if (problem) names.add(name);
    else names.delete(name);
    this.#bad += names.size - before;
  }
}

const kindBySet = new Map(kindTable.map((e) => [e.set, e]));
const kindByKind = new Map(kindTable.map((e) => [e.kind, e]));

/** Adds `by` to a count (dropping it at 0); returns the new count. */
function bump(
  counts: Map<ResourceKind, Map<string, number>>,
  kind: ResourceKind,
  name: string,
  by: number,
): number {
  let perKind = counts.get(kind);
  if (!perKind) counts.set(kind, (perKind = new Map()));
  const n = (perKind.get(name) ?? 0) + by;
  if (n === 0) perKind.delete(name);
  else perKind.set(name, n);
  return n;
}
