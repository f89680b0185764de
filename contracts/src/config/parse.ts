/**
 * inferencehub.yaml text → normalized Config, or every problem in it: YAML syntax, then the
 * schema (structure) and the semantic rules (references, sums, duplicates) together.
 */
import { LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import { formatPath } from "./errors.js";
import type { ConfigError } from "./errors.js";
import { locate } from "./locate.js";
import { normalize } from "./normalize.js";
import type { RawConfig } from "./raw.js";
import { fail, ok } from "./result.js";
import type { Result } from "./result.js";
import { checkSchema } from "./schema.js";
import type { Issue } from "./schema.js";
import { checkSemantics } from "./semantic.js";
import type { Config } from "./types.js";

/** Aliases expand on read; a small cap stops a "billion laughs" file. */
const maxAliasCount = 100;

export function parseConfig(yamlText: string, source?: string): Result<Config, ConfigError[]> {
  const withSource = (error: ConfigError): ConfigError =>
    source === undefined ? error : { ...error, source };
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return withSource({ path: "", message: firstLine(error.message), line, column: col });
      }),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount });
  } catch (err) {
    return fail([withSource({ path: "", message: err instanceof Error ? err.message : String(err) })]);
  }
  if (value === null || value === undefined) {
    return fail([
      withSource({ path: "", message: "the file is empty: expected a mapping with nodes and models" }),
    ]);
  }
  const issues = [...checkSchema(value), ...checkSemantics(value)];
  if (issues.length > 0) return fail(placeAll(issues, doc, lineCounter).map(withSource));
  return ok(normalize(value as RawConfig));
}

/**
 * A config that is already a value (assembled from a store's entries, say) → normalized Config,
 * or every problem in it: the same schema and semantic rules as parseConfig, without positions.
 */
export function parseConfigValue(value: unknown, source?: string): Result<Config, ConfigError[]> {
  const issues = [...checkSchema(value), ...checkSemantics(value)];
  if (issues.length === 0) return ok(normalize(value as RawConfig));
  return fail(unplacedErrors(issues, source));
}

/** Issues → errors without positions (a value has no lines), without repeats, in their order. */
export function unplacedErrors(issues: readonly Issue[], source?: string): ConfigError[] {
  return distinct(issues).map(({ path, message }) => ({
    path,
    message,
    ...(source === undefined ? {} : { source }),
  }));
}

/** Each issue once (the schema and the semantic rules may both report one), with its path. */
function distinct(issues: readonly Issue[]): (Issue & { path: string })[] {
  const seen = new Set<string>();
  const out: (Issue & { path: string })[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.segments);
    const key = `${path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...issue, path });
  }
  return out;
}

/** Issues → errors with positions, without repeats, in file order (unplaceable ones last). */
function placeAll(issues: readonly Issue[], doc: Document, lineCounter: LineCounter): ConfigError[] {
  const errors: ConfigError[] = distinct(issues).map(({ path, message, segments }) => ({
    path,
    message,
    ...(locate(doc, lineCounter, segments) ?? {}),
  }));
  const rank = (e: ConfigError) => [e.line ?? Number.MAX_SAFE_INTEGER, e.column ?? 0] as const;
  return errors
    .map((error, index) => ({ error, index }))
    .sort((a, b) => {
      const [la, ca] = rank(a.error);
      const [lb, cb] = rank(b.error);
      return la - lb || ca - cb || a.index - b.index;
    })
    .map(({ error }) => error);
}

/** yaml's messages can carry a code frame after the first line; the position is reported apart. */
function firstLine(message: string): string {
  return message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? message;
}
