/** Where a field path sits in the YAML text, so every error can name a line and column. */
import { isMap, isScalar, isSeq } from "yaml";
import type { Document, LineCounter, Node } from "yaml";
import type { PathSegments } from "./errors.js";

export interface Position {
  line: number;
  column: number;
}

/**
 * The position of the node at `segments`: for a mapping entry its key, for a list item the item.
 * A path that leaves the document (a missing field) stops at the deepest node that exists.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  segments: PathSegments,
): Position | undefined {
  let node: unknown = doc.contents;
  let anchor: Node | undefined = isNode(node) ? node : undefined;
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      anchor = isNode(pair.key) ? pair.key : anchor;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (!isNode(item)) break;
      anchor = item;
      node = item;
    } else break;
  }
  const offset = anchor?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && "range" in value;
}
