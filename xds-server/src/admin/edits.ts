/**
 * Routing edits applied to the text of inferencehub.yaml. Each edit is made twice from one parse:
 * on the yaml library's document model, which checks it and says what the file must mean
 * afterwards, and as splices of the original text at the source ranges of the nodes it touches,
 * which is what is written. Only the values, pairs and items the edit changes are rewritten; every
 * other byte (comments, quoting, flow or block style, `[a]` against `[ a ]`, spacing before a
 * comment) stays as the operator wrote it. The splices are checked against the document model;
 * a layout they cannot handle falls back to the library's printer (right, but reformatted).
 * Pure: text in, text out; the result still has to pass parseConfig, like any edit of the file.
 */
import { isDeepStrictEqual } from "node:util";
import { status } from "@grpc/grpc-js";
import {
  isCollection,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { rescale } from "@inferencehub/contracts/admin-api";
import { GatewayError } from "@inferencehub/contracts/errors";

export type Edit =
  | {
      op: "addVersion";
      model: string;
      version: string;
      nodes: string[];
      weight: number;
      /** Where the control plane loads it, instead of nodes. */
      placement?: EditPlacement;
    }
  | { op: "removeVersion"; model: string; version: string }
  | { op: "setWeights"; model: string; weights: Record<string, number> }
  | { op: "pin"; model: string; version: string }
  | { op: "unpin"; model: string }
  | { op: "setShadow"; model: string; version: string; percent: number }
  | { op: "drain"; node: string }
  | { op: "undrain"; node: string };

/** A version's placement as written in the config (`replicas: all` or a count). */
export interface EditPlacement {
  pools: string[];
  replicas: number | "all";
  labels: Record<string, string>;
}

function seq(doc: Document, key: string): YAMLSeq {
  const s = doc.get(key, true);
  if (!isSeq(s)) throw new GatewayError(status.FAILED_PRECONDITION, `the config has no '${key}' list`);
  return s;
}

function findByName(
  list: YAMLSeq,
  name: string,
  field = "name",
): { index: number; item: YAMLMap } | undefined {
  const index = list.items.findIndex((it) => isMap(it) && it.get(field) === name);
  const item = list.items[index];
  return index >= 0 && isMap(item) ? { index, item } : undefined;
}

function model(doc: Document, name: string): YAMLMap {
  const found = findByName(seq(doc, "models"), name);
  if (!found) throw new GatewayError(status.NOT_FOUND, `model '${name}' is not in the config`);
  return found.item;
}

function versions(m: YAMLMap): YAMLSeq {
  const v = m.get("versions", true);
  if (!isSeq(v))
    throw new GatewayError(
      status.FAILED_PRECONDITION,
      `model '${String(m.get("name"))}' has no versions list`,
    );
  return v;
}

function version(m: YAMLMap, name: string): YAMLMap {
  const found = findByName(versions(m), name, "version");
  if (!found)
    throw new GatewayError(status.NOT_FOUND, `model '${String(m.get("name"))}' has no version '${name}'`);
  return found.item;
}

const weightOf = (v: unknown) =>
  isMap(v) && typeof v.get("weight") === "number" ? (v.get("weight") as number) : 0;

/** A layout the splices do not handle; the edit then falls back to the library's printer. */
class Unsupported extends Error {}

type Scalar = string | number | boolean;

/** One scalar as YAML writes it in block or flow context ("1" quoted, v2 plain). */
const scalarText = (v: Scalar): string => stringify(v).trimEnd();

/**
 * Splices of one source text, at the ranges the yaml parser recorded. Splices at the same offset
 * land in the order they were made. The document model may already hold what the edit added
 * (nodes without a range); the splices look at what was parsed only.
 */
class Splicer {
  readonly #splices: { start: number; end: number; text: string }[] = [];
  /** Set when a splice met a layout it does not handle: the text is then printed, not spliced. */
  #unsupported = false;

  constructor(readonly src: string) {}

  /** The spliced text, or undefined when some step was not supported. */
  apply(): string | undefined {
    if (this.#unsupported) return undefined;
    let out = this.src;
    const ordered = this.#splices.map((s, i) => ({ ...s, i })).sort((a, b) => b.start - a.start || b.i - a.i);
    let limit = Infinity;
    for (const s of ordered) {
      if (s.end > limit) return undefined;
      out = out.slice(0, s.start) + s.text + out.slice(s.end);
      limit = s.start;
    }
    return out;
  }

  /** A flow collection written as `{ a }` (padded) rather than `{a}`. */
  padded(node: unknown): boolean {
    const start = isCollection(node) && node.flow ? node.range?.[0] : undefined;
    return start === undefined || this.src[start + 1] === " ";
  }

  set(map: YAMLMap, key: string, value: Scalar): void {
    this.#guard(() => this.#set(map, key, value));
  }

  add(map: YAMLMap, key: string, value: string[], flowValue?: string): void {
    this.#guard(() => this.#add(map, key, value, flowValue));
  }

  delete(map: YAMLMap, key: string): void {
    this.#guard(() => {
      const index = map.items.findIndex((p) => isScalar(p.key) && p.key.value === key);
      if (index >= 0) this.#deleteEntry(map, index);
    });
  }

  deleteItem(list: YAMLSeq, index: number): void {
    this.#guard(() => this.#deleteEntry(list, index));
  }

  append(list: YAMLSeq, flowText: string, blockLines: string[]): void {
    this.#guard(() => this.#append(list, flowText, blockLines));
  }

  /** Runs one splicing step; a layout it does not handle marks the splices unusable. */
  #guard(step: () => void): void {
    if (this.#unsupported) return;
    try {
      step();
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      this.#unsupported = true;
    }
  }

  #splice(start: number, end: number, text: string): void {
    this.#splices.push({ start, end, text });
  }

  #range(node: Node | null | undefined): [number, number, number] {
    const r = node?.range;
    if (!r) throw new Unsupported("a node without a source range");
    return r;
  }

  #lineStart(pos: number): number {
    return this.src.lastIndexOf("\n", pos - 1) + 1;
  }

  /** The start of the line after the one `pos` is on (after its comment, if any). */
  #lineEnd(pos: number): number {
    if (pos > 0 && this.src[pos - 1] === "\n") return pos;
    const nl = this.src.indexOf("\n", pos);
    return nl < 0 ? this.src.length : nl + 1;
  }

  /** The last entry of a collection that is in the source text. */
  #lastWritten<T>(coll: { items: T[] }): T | undefined {
    const written = (it: T) => (isMap(coll) ? (it as Pair).key : it) as Node | undefined;
    return coll.items.findLast((it) => written(it)?.range !== undefined);
  }

  /** Where a node's own text ends: block collections' ranges run on into what follows. */
  #contentEnd(node: unknown): number {
    if (isCollection(node) && !node.flow) {
      const last: unknown = this.#lastWritten(node);
      if (last === undefined) throw new Unsupported("an empty block collection");
      if (isMap(node)) {
        const pair = last as Pair;
        return this.#contentEnd(pair.value ?? pair.key);
      }
      return this.#contentEnd(last);
    }
    return this.#range(node as Node)[1];
  }

  /** Inserts `lines` (one per entry, no newlines) as whole lines after the line `pos` is on. */
  #insertLines(pos: number, lines: string[]): void {
    const at = this.#lineEnd(pos);
    const text = lines.map((l) => `${l}\n`).join("");
    if (at === this.src.length && !this.src.endsWith("\n")) this.#splice(at, at, `\n${text.slice(0, -1)}`);
    else this.#splice(at, at, text);
  }

  /** The column of a block map's keys, as spaces (the first key may follow a "- "). */
  #keyIndent(map: YAMLMap): string {
    const first = map.items[0] as Pair | undefined;
    const start = this.#range(first?.key as Node)[0];
    return " ".repeat(start - this.#lineStart(start));
  }

  /** Sets `key` to a scalar: the value alone when the key is there, else a new pair. */
  #set(map: YAMLMap, key: string, value: Scalar): void {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair) {
      if (!isScalar(pair.value)) throw new Unsupported(`'${key}' is not a scalar`);
      if (pair.value.value === value) return;
      const [start, end] = this.#range(pair.value);
      this.#splice(start, end, scalarText(value));
      return;
    }
    this.#add(map, key, [scalarText(value)]);
  }

  /**
   * Adds a pair at the end of a map. `value` is one line, or (for a block map only) a nested
   * block as lines after the key, each relative to the key's column; `flowValue` is its one-line
   * form, for a flow map.
   */
  #add(map: YAMLMap, key: string, value: string[], flowValue = value[0] ?? ""): void {
    const last = this.#lastWritten(map);
    if (!last) throw new Unsupported("an empty map");
    const end = this.#contentEnd(last.value ?? last.key);
    if (map.flow) {
      this.#splice(end, end, `, ${key}: ${flowValue}`);
      return;
    }
    const indent = this.#keyIndent(map);
    const lines =
      value.length === 1
        ? [`${indent}${key}: ${value[0] ?? ""}`]
        : [`${indent}${key}:`, ...value.map((l) => `${indent}  ${l}`)];
    this.#insertLines(end, lines);
  }

  /** Removes a pair or a sequence item, with its line(s) in a block collection. */
  #deleteEntry(coll: YAMLMap | YAMLSeq, index: number): void {
    const items = coll.items as unknown[];
    const start = (i: number) => {
      const it = items[i];
      return this.#range((isMap(coll) ? (it as Pair).key : it) as Node)[0];
    };
    const end = (i: number) => {
      const it = items[i];
      return this.#contentEnd(isMap(coll) ? ((it as Pair).value ?? (it as Pair).key) : it);
    };
    if (coll.flow) {
      if (index > 0) this.#splice(end(index - 1), end(index), "");
      else if (items.length > 1) this.#splice(start(0), start(1), "");
      else throw new Unsupported("the only entry of a flow collection");
      return;
    }
    const from = this.#lineStart(start(index));
    const lead = this.src.slice(from, start(index));
    if (!(isMap(coll) ? /^ *$/ : /^ *- +$/).test(lead))
      throw new Unsupported("an entry that shares its line");
    this.#splice(from, this.#lineEnd(end(index)), "");
  }

  /** Appends an item to a sequence, written like its first item. */
  #append(list: YAMLSeq, flowText: string, blockLines: string[]): void {
    const first = list.items[0];
    const last = this.#lastWritten(list);
    if (!first || !last) throw new Unsupported("an empty sequence");
    if (list.flow) {
      const at = this.#contentEnd(last);
      this.#splice(at, at, `, ${flowText}`);
      return;
    }
    const itemStart = this.#range(first as Node)[0];
    const prefix = this.src.slice(this.#lineStart(itemStart), itemStart);
    if (!/^ *- +$/.test(prefix)) throw new Unsupported("an item that shares its line");
    const pad = " ".repeat(prefix.length);
    const lines =
      isMap(first) && first.flow
        ? [`${prefix}${flowText}`]
        : blockLines.map((l, i) => (i === 0 ? `${prefix}${l}` : `${pad}${l}`));
    this.#insertLines(this.#contentEnd(last), lines);
  }
}

function setWeights(s: Splicer, list: YAMLSeq, weights: readonly number[]): void {
  list.items.forEach((v, i) => {
    if (isMap(v)) {
      s.set(v, "weight", weights[i] ?? 0);
      v.set("weight", weights[i] ?? 0);
    }
  });
}

/** A new version entry, flow and block, in the style of the model's first version. */
/** The placement as YAML flow text and as an object, with what was not asked for left out. */
function placementEntry(p: EditPlacement): { text: string; value: Record<string, unknown> } {
  const value: Record<string, unknown> = {
    ...(p.pools.length > 0 ? { pools: p.pools } : {}),
    replicas: p.replicas,
    ...(Object.keys(p.labels).length > 0 ? { labels: p.labels } : {}),
  };
  const parts = [
    ...(p.pools.length > 0 ? [`pools: [${p.pools.map(scalarText).join(", ")}]`] : []),
    `replicas: ${scalarText(p.replicas)}`,
    ...(Object.keys(p.labels).length > 0
      ? [
          `labels: { ${Object.entries(p.labels)
            .map(([k, v]) => `${scalarText(k)}: ${scalarText(v)}`)
            .join(", ")} }`,
        ]
      : []),
  ];
  return { text: `{ ${parts.join(", ")} }`, value };
}

function versionEntry(
  s: Splicer,
  list: YAMLSeq,
  e: { version: string; weight: number; nodes: string[]; placement?: EditPlacement },
) {
  if (e.placement) {
    const { text } = placementEntry(e.placement);
    const head = `version: ${scalarText(e.version)}, weight: ${e.weight}`;
    return {
      flowText: `{ ${head}, placement: ${text} }`,
      blockLines: [`version: ${scalarText(e.version)}`, `weight: ${e.weight}`, `placement: ${text}`],
    };
  }
  const first = list.items[0];
  const firstNodes = isMap(first) ? first.get("nodes", true) : undefined;
  const nodes = e.nodes.map(scalarText).join(", ");
  const nodesFlow = s.padded(firstNodes) && nodes !== "" ? `[ ${nodes} ]` : `[${nodes}]`;
  const pad = s.padded(first) ? " " : "";
  const flowText = `{${pad}version: ${scalarText(e.version)}, weight: ${e.weight}, nodes: ${nodesFlow}${pad}}`;
  const blockNodes =
    isSeq(firstNodes) && !firstNodes.flow
      ? ["nodes:", ...e.nodes.map((n) => `  - ${scalarText(n)}`)]
      : [`nodes: ${nodesFlow}`];
  const blockLines = [`version: ${scalarText(e.version)}`, `weight: ${e.weight}`, ...blockNodes];
  return { flowText, blockLines };
}

/** Makes the edit on `doc` (the meaning) and as splices in `s` (the text). */
function edit(doc: Document, s: Splicer, edit: Edit): void {
  switch (edit.op) {
    case "addVersion": {
      const list = versions(model(doc, edit.model));
      if (findByName(list, edit.version, "version")) {
        throw new GatewayError(
          status.ALREADY_EXISTS,
          `model '${edit.model}' already has version '${edit.version}'`,
        );
      }
      const { flowText, blockLines } = versionEntry(s, list, edit);
      setWeights(s, list, rescale(list.items.map(weightOf), 100 - edit.weight));
      s.append(list, flowText, blockLines);
      list.add(
        doc.createNode(
          edit.placement
            ? { version: edit.version, weight: edit.weight, placement: placementEntry(edit.placement).value }
            : { version: edit.version, weight: edit.weight, nodes: edit.nodes },
        ),
      );
      break;
    }
    case "removeVersion": {
      const m = model(doc, edit.model);
      const list = versions(m);
      version(m, edit.version);
      if (list.items.length === 1) {
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `'${edit.version}' is the only version of '${edit.model}'; remove the model instead`,
        );
      }
      if (m.getIn(["shadow", "version"]) === edit.version) {
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `'${edit.version}' is the shadow of '${edit.model}'; remove the shadow first`,
        );
      }
      if (m.get("pin") === edit.version) {
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `'${edit.model}' is pinned to '${edit.version}'; unpin it first`,
        );
      }
      const index = findByName(list, edit.version, "version")!.index;
      s.deleteItem(list, index);
      list.delete(index);
      setWeights(s, list, rescale(list.items.map(weightOf), 100));
      break;
    }
    case "setWeights": {
      const m = model(doc, edit.model);
      const names = versions(m).items.map((v) => (isMap(v) ? String(v.get("version")) : ""));
      const missing = names.filter((n) => !(n in edit.weights));
      const unknown = Object.keys(edit.weights).filter((n) => !names.includes(n));
      if (unknown.length > 0)
        throw new GatewayError(
          status.NOT_FOUND,
          `model '${edit.model}' has no version(s) ${unknown.join(", ")}`,
        );
      if (missing.length > 0) {
        throw new GatewayError(
          status.INVALID_ARGUMENT,
          `give a weight for every version of '${edit.model}'; missing: ${missing.join(", ")}`,
          { violations: [{ field: "weights", message: `missing ${missing.join(", ")}` }] },
        );
      }
      for (const n of names) {
        const v = version(m, n);
        s.set(v, "weight", edit.weights[n]!);
        v.set("weight", edit.weights[n]);
      }
      break;
    }
    case "pin": {
      const m = model(doc, edit.model);
      version(m, edit.version);
      s.set(m, "pin", edit.version);
      m.set("pin", edit.version);
      break;
    }
    case "unpin": {
      const m = model(doc, edit.model);
      s.delete(m, "pin");
      m.delete("pin");
      break;
    }
    case "setShadow": {
      const m = model(doc, edit.model);
      if (edit.percent === 0) {
        s.delete(m, "shadow");
        m.delete("shadow");
        break;
      }
      version(m, edit.version);
      const shadow = m.get("shadow", true);
      if (isMap(shadow)) {
        s.set(shadow, "version", edit.version);
        s.set(shadow, "percent", edit.percent);
      } else {
        if (shadow !== undefined) s.delete(m, "shadow");
        const pad = s.padded(m) ? " " : "";
        s.add(
          m,
          "shadow",
          [`version: ${scalarText(edit.version)}`, `percent: ${edit.percent}`],
          `{${pad}version: ${scalarText(edit.version)}, percent: ${edit.percent}${pad}}`,
        );
      }
      m.set("shadow", doc.createNode({ version: edit.version, percent: edit.percent }));
      break;
    }
    case "drain":
    case "undrain": {
      const found = findByName(seq(doc, "nodes"), edit.node);
      if (!found) throw new GatewayError(status.NOT_FOUND, `node '${edit.node}' is not in the config`);
      if (edit.op === "drain") {
        s.set(found.item, "drain", true);
        found.item.set("drain", true);
      } else {
        s.delete(found.item, "drain");
        found.item.delete("drain");
      }
      break;
    }
  }
}

export function applyEdit(text: string, change: Edit): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new GatewayError(
      status.FAILED_PRECONDITION,
      "the config file does not parse; fix it by hand first",
    );
  const splicer = new Splicer(text);
  edit(doc, splicer, change);
  const out = splicer.apply();
  if (out !== undefined) {
    const check = parseDocument(out);
    if (check.errors.length === 0 && isDeepStrictEqual(check.toJS(), doc.toJS())) return out;
  }
  // Not reached for the layouts inferencehub.yaml is written in; right, but reformatted.
  return doc.toString();
}
