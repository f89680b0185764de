/**
 * Client-derived text in error messages, bounded. A status message travels as the grpc-message
 * trailer, percent-encoded; a client that sends a 5,000-dimension shape or a 10 KB tensor name
 * must not get (or make the node send) a trailer its HTTP/2 stack rejects, so every string a
 * client chose is clipped before it reaches a message, and the message itself is capped last.
 */

/** Characters kept of one client-chosen name (a model, version, tensor or datatype). */
export const NAME_CHARS = 64;
/** Dimensions of a shape shown before "…". */
export const SHAPE_DIMS = 8;
/** Names of a list (a model's inputs, say) shown before "…". */
export const LIST_ITEMS = 8;
/** The most a status message may take on the wire, percent-encoded as grpc-js sends it. */
export const MAX_DETAILS_BYTES = 768;

const ELLIPSIS = "…";

/**
 * A name as a message may quote it: printable ASCII as is, anything else escaped (so one
 * character cannot grow to 9 encoded bytes, nor a control character reach a log line), and at
 * most `max` characters, then "…".
 */
export function clip(text: string, max = NAME_CHARS): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const piece = code >= 0x20 && code < 0x7f ? ch : `\\u{${code.toString(16)}}`;
    if (out.length + piece.length > max) return out + ELLIPSIS;
    out += piece;
  }
  return out;
}

/** A shape as `[1,4]`; past SHAPE_DIMS dimensions `[1,2,…,8,… (5000 dims)]`. */
export function shapeText(shape: readonly number[]): string {
  if (shape.length <= SHAPE_DIMS) return `[${shape.join(",")}]`;
  return `[${shape.slice(0, SHAPE_DIMS).join(",")},${ELLIPSIS} (${shape.length} dims)]`;
}

/** A list of names, each clipped, at most LIST_ITEMS of them, then how many more. */
export function listText(names: readonly string[]): string {
  const shown = names.slice(0, LIST_ITEMS).map((n) => clip(n));
  if (names.length > LIST_ITEMS) shown.push(`${ELLIPSIS} ${names.length - LIST_ITEMS} more`);
  return shown.join(", ");
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The last guard, for whatever a message quoted: cut it so that its encoded form (grpc-js
 * sends `encodeURI(details)`) stays within MAX_DETAILS_BYTES.
 */
export function boundDetails(details: string, maxBytes = MAX_DETAILS_BYTES): string {
  // encodeURI throws on a lone surrogate (grpc-js would too, mid-call): replace them first.
  const text = details.replace(LONE_SURROGATE, "\ufffd");
  if (encodeURI(text).length <= maxBytes) return text;
  const suffix = `${ELLIPSIS} (message cut)`;
  const budget = maxBytes - encodeURI(suffix).length;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const size = encodeURI(ch).length;
    if (used + size > budget) break;
    out += ch;
    used += size;
  }
  return out + suffix;
}
