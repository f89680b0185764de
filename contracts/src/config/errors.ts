/** One problem in a config file. Validation returns all of them at once, never throws. */
export interface ConfigError {
  /** Field path as an operator reads it, e.g. `models[0].versions[1].weight`; "" for the whole file. */
  path: string;
  /** What is wrong and what was expected, without the path. */
  message: string;
  /** The file or origin parseConfig() was given, when it was given one. */
  source?: string;
  /** 1-based position of the offending YAML node (or of its nearest existing parent). */
  line?: number;
  column?: number;
}

/** A path as a list: `["models", 0, "name"]`. */
export type PathSegments = readonly (string | number)[];

/** `["models", 0, "versions", 1]` → `models[0].versions[1]`. */
export function formatPath(segments: PathSegments): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/**
 * One line per error, compiler style, so editors and terminals can jump to it:
 * `inferencehub.yaml:12:17: models[0].versions[1].weight: must be an integer from 0 to 100`.
 */
export function formatErrors(errors: readonly ConfigError[]): string {
  return errors.map(formatError).join("\n");
}

function formatError(error: ConfigError): string {
  const position = error.line === undefined ? "" : `:${error.line}:${error.column ?? 1}`;
  const where = error.source === undefined && !position ? "" : `${error.source ?? "<config>"}${position}: `;
  return `${where}${error.path ? `${error.path}: ` : ""}${error.message}`;
}

/** `'text'` for strings, JSON for the rest: how messages quote what the operator wrote. */
export function quote(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (value === undefined) return "nothing";
  return JSON.stringify(value);
}
