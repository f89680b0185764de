/**
 * The structural check: the published JSON schema, run by ajv, with its errors turned into
 * operator-facing messages. Semantic rules (references, sums, duplicates) live in semantic.ts.
 */
import { Ajv } from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import schema from "../../schema/inferencehub.schema.json" with { type: "json" };
import { quote } from "./errors.js";
import type { PathSegments } from "./errors.js";

/** The published schema (contracts/schema/inferencehub.schema.json), as an object. */
export const configSchema: Readonly<Record<string, unknown>> = schema;

/** A problem found at a path, before it is placed in the file. */
export interface Issue {
  segments: PathSegments;
  message: string;
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({
    allErrors: true,
    // parentSchema and data on each error: messages quote the value and the allowed range.
    verbose: true,
    // Version names may be written as strings or integers.
    allowUnionTypes: true,
  });
  // Annotation only, read back when an error is mapped; same meaning as in ajv-errors.
  ajv.addKeyword({ keyword: "errorMessage", schemaType: ["string", "object"] });
  compiled = ajv.compile(schema);
  return compiled;
}

/** Every structural problem of a parsed document, in schema order. */
export function checkSchema(value: unknown): Issue[] {
  const validate = validator();
  if (validate(value)) return [];
  return (validate.errors ?? []).flatMap(toIssue);
}

function toIssue(error: ErrorObject): Issue[] {
  // A key that breaks `propertyNames` (label keys) is reported once, by the rule it breaks, at the key.
  if (error.keyword === "propertyNames") return [];
  const segments = [
    ...pointerToSegments(error.instancePath),
    ...(error.propertyName === undefined ? [] : [error.propertyName]),
  ];
  const custom = customMessage(error);
  if (custom) return [{ segments, message: `${quote(error.data)} ${custom}` }];
  switch (error.keyword) {
    case "required":
      return [{ segments: [...segments, String(error.params.missingProperty)], message: "is required" }];
    case "additionalProperties": {
      const allowed = Object.keys(propertiesOf(error.parentSchema));
      return [
        {
          segments: [...segments, String(error.params.additionalProperty)],
          message: `unknown field (expected one of: ${allowed.join(", ")})`,
        },
      ];
    }
    case "type":
    case "minimum":
    case "maximum":
      return [{ segments, message: expectedValue(error) }];
    case "enum":
      return [{ segments, message: `${quote(error.data)} is not one of: ${enumOf(error).join(", ")}` }];
    case "minItems":
      return [{ segments, message: minItemsMessage(Number(error.params.limit)) }];
    case "uniqueItems":
      return [{ segments, message: `lists ${quote(itemAt(error.data, error.params.j))} twice` }];
    // `not`, `pattern`, `maxLength` without an errorMessage and anything unforeseen: ajv's words.
    default:
      return [{ segments, message: `${quote(error.data)} ${error.message ?? "is invalid"}` }];
  }
}

/** The schema's own wording for this error: `errorMessage` as a string, or keyed by keyword. */
function customMessage(error: ErrorObject): string | undefined {
  const message: unknown = (error.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  if (typeof message === "string") return message;
  if (message && typeof message === "object") {
    const byKeyword = (message as Record<string, unknown>)[error.keyword];
    if (typeof byKeyword === "string") return byKeyword;
  }
  return undefined;
}

/** "must be an integer from 0 to 100", "must be a list", ...: the whole expectation at once. */
function expectedValue(error: ErrorObject): string {
  const parent = (error.parentSchema ?? {}) as { type?: unknown; minimum?: unknown; maximum?: unknown };
  const type = typeof parent.type === "string" ? parent.type : String(error.params.type ?? "");
  const noun = typeNouns[type] ?? `of type ${type}`;
  const { minimum, maximum } = parent;
  if (typeof minimum === "number" && typeof maximum === "number") {
    return `must be ${noun} from ${minimum} to ${maximum}`;
  }
  if (typeof minimum === "number") return `must be ${noun} of at least ${minimum}`;
  if (typeof maximum === "number") return `must be ${noun} of at most ${maximum}`;
  return `must be ${noun}`;
}

const typeNouns: Record<string, string> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping (key: value)",
};

const minItemsMessage = (limit: number): string =>
  limit === 1 ? "must not be empty" : `must list at least ${limit} items`;

function propertiesOf(schemaNode: unknown): Record<string, unknown> {
  const properties = (schemaNode as { properties?: unknown } | undefined)?.properties;
  return properties && typeof properties === "object" ? (properties as Record<string, unknown>) : {};
}

function enumOf(error: ErrorObject): string[] {
  const values: unknown = error.params.allowedValues;
  return Array.isArray(values) ? values.map(String) : [];
}

function itemAt(list: unknown, index: unknown): unknown {
  return Array.isArray(list) && typeof index === "number" ? list[index] : undefined;
}

/** "/models/0/versions/1/weight" → ["models", 0, "versions", 1, "weight"] (RFC 6901 unescaping). */
export function pointerToSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((segment) => (/^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment));
}
