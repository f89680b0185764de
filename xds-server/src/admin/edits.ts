/**
 * Routing edits applied to the text of inferencehub.yaml through the yaml library's document
 * model, so the operator's comments, key order and layout survive. Pure: text in, text out; the
 * result still has to pass parseConfig, like any edit of the file.
 */
import { status } from "@grpc/grpc-js";
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from "yaml";
import { AdminError } from "./errors.js";

export type Edit =
  | { op: "addVersion"; model: string; version: string; nodes: string[]; weight: number }
  | { op: "removeVersion"; model: string; version: string }
  | { op: "setWeights"; model: string; weights: Record<string, number> }
  | { op: "pin"; model: string; version: string }
  | { op: "unpin"; model: string }
  | { op: "setShadow"; model: string; version: string; percent: number }
  | { op: "drain"; node: string }
  | { op: "undrain"; node: string };

function seq(doc: Document, key: string): YAMLSeq {
  const s = doc.get(key, true);
  if (!isSeq(s)) throw new AdminError(status.FAILED_PRECONDITION, `the config has no '${key}' list`);
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
  if (!found) throw new AdminError(status.NOT_FOUND, `model '${name}' is not in the config`);
  return found.item;
}

function versions(m: YAMLMap): YAMLSeq {
  const v = m.get("versions", true);
  if (!isSeq(v))
    throw new AdminError(status.FAILED_PRECONDITION, `model '${String(m.get("name"))}' has no versions list`);
  return v;
}

function version(m: YAMLMap, name: string): YAMLMap {
  const found = findByName(versions(m), name, "version");
  if (!found)
    throw new AdminError(status.NOT_FOUND, `model '${String(m.get("name"))}' has no version '${name}'`);
  return found.item;
}

const weightOf = (v: unknown) =>
  isMap(v) && typeof v.get("weight") === "number" ? (v.get("weight") as number) : 0;

/**
 * Scales `weights` to add up to `total` with whole numbers (largest remainder), so a version
 * that comes or goes leaves the others in the same proportions.
 */
export function rescale(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (weights.length === 0) return [];
  const raw =
    sum === 0 ? weights.map((_, i) => (i === 0 ? total : 0)) : weights.map((w) => (w * total) / sum);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    left--;
  }
  return out;
}

function setWeights(list: YAMLSeq, weights: readonly number[]): void {
  list.items.forEach((v, i) => {
    if (isMap(v)) v.set("weight", weights[i] ?? 0);
  });
}

export function applyEdit(text: string, edit: Edit): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new AdminError(status.FAILED_PRECONDITION, "the config file does not parse; fix it by hand first");
  switch (edit.op) {
    case "addVersion": {
      const list = versions(model(doc, edit.model));
      if (findByName(list, edit.version, "version")) {
        throw new AdminError(
          status.ALREADY_EXISTS,
          `model '${edit.model}' already has version '${edit.version}'`,
        );
      }
      setWeights(list, rescale(list.items.map(weightOf), 100 - edit.weight));
      const entry = doc.createNode({ version: edit.version, weight: edit.weight, nodes: edit.nodes });
      // Match the neighbours' style, so a file written with one-line versions stays that way.
      const first = list.items[0];
      if (isMap(first) && first.flow) entry.flow = true;
      list.add(entry);
      break;
    }
    case "removeVersion": {
      const m = model(doc, edit.model);
      const list = versions(m);
      version(m, edit.version);
      if (list.items.length === 1) {
        throw new AdminError(
          status.FAILED_PRECONDITION,
          `'${edit.version}' is the only version of '${edit.model}'; remove the model instead`,
        );
      }
      if (m.getIn(["shadow", "version"]) === edit.version) {
        throw new AdminError(
          status.FAILED_PRECONDITION,
          `'${edit.version}' is the shadow of '${edit.model}'; remove the shadow first`,
        );
      }
      if (m.get("pin") === edit.version) {
        throw new AdminError(
          status.FAILED_PRECONDITION,
          `'${edit.model}' is pinned to '${edit.version}'; unpin it first`,
        );
      }
      const index = findByName(list, edit.version, "version")!.index;
      list.delete(index);
      setWeights(list, rescale(list.items.map(weightOf), 100));
      break;
    }
    case "setWeights": {
      const m = model(doc, edit.model);
      const names = versions(m).items.map((v) => (isMap(v) ? String(v.get("version")) : ""));
      const missing = names.filter((n) => !(n in edit.weights));
      const unknown = Object.keys(edit.weights).filter((n) => !names.includes(n));
      if (unknown.length > 0)
        throw new AdminError(
          status.NOT_FOUND,
          `model '${edit.model}' has no version(s) ${unknown.join(", ")}`,
        );
      if (missing.length > 0) {
        throw new AdminError(
          status.INVALID_ARGUMENT,
          `give a weight for every version of '${edit.model}'; missing: ${missing.join(", ")}`,
          [{ field: "weights", message: `missing ${missing.join(", ")}` }],
        );
      }
      for (const n of names) version(m, n).set("weight", edit.weights[n]);
      break;
    }
    case "pin":
      version(model(doc, edit.model), edit.version);
      model(doc, edit.model).set("pin", edit.version);
      break;
    case "unpin":
      model(doc, edit.model).delete("pin");
      break;
    case "setShadow": {
      const m = model(doc, edit.model);
      if (edit.percent === 0) {
        m.delete("shadow");
        break;
      }
      version(m, edit.version);
      m.set("shadow", doc.createNode({ version: edit.version, percent: edit.percent }));
      break;
    }
    case "drain":
    case "undrain": {
      const found = findByName(seq(doc, "nodes"), edit.node);
      if (!found) throw new AdminError(status.NOT_FOUND, `node '${edit.node}' is not in the config`);
      if (edit.op === "drain") found.item.set("drain", true);
      else found.item.delete("drain");
      break;
    }
  }
  return doc.toString();
}
