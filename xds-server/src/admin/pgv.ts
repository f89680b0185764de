/**
 * protoc-gen-validate rules, read from the admin API's .proto file at run time and enforced here.
 * PGV has no JavaScript target (and its successor, protovalidate, uses other annotations), so
 * this interprets the rules the admin API uses; a rule it does not know fails at load, so no
 * rule in the .proto can go unenforced.
 * https://github.com/bufbuild/protoc-gen-validate#constraint-rules
 */
import protobuf from "protobufjs";

export interface Violation {
  /** The field as the API names it (snake_case, as in the .proto and in JSON errors). */
  field: string;
  message: string;
}

type Rules = Record<string, Record<string, unknown>>;

interface FieldRule {
  name: string;
  /** ts-proto's property name. */
  property: string;
  rules: Rules;
}

const known: Record<string, readonly string[]> = {
  string: ["min_len", "max_len", "pattern"],
  uint32: ["lte", "gte", "lt", "gt"],
  double: ["lte", "gte", "lt", "gt"],
  repeated: ["min_items", "max_items", "unique"],
  map: ["min_pairs", "max_pairs"],
};

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A field's proto3 type, for the JSON shape check. */
interface FieldShape {
  name: string;
  property: string;
  type: string;
  repeated: boolean;
  map: boolean;
}

const integerTypes: Record<string, [number, number]> = {
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
  fixed32: [0, 4294967295],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
};

/** Why a JSON value is not a proto3 JSON `type`, or undefined when it is (types not listed pass). */
function scalarProblem(type: string, v: unknown): string | undefined {
  if (type === "string") return typeof v === "string" ? undefined : `must be a string, got ${jsonKind(v)}`;
  if (type === "bool")
    return typeof v === "boolean" ? undefined : `must be true or false, got ${jsonKind(v)}`;
  if (type === "double" || type === "float")
    return typeof v === "number" && Number.isFinite(v) ? undefined : `must be a number, got ${jsonKind(v)}`;
  const range = integerTypes[type];
  if (!range) return undefined;
  // proto3 JSON takes integers as numbers or as strings of digits.
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n === "number" && Number.isInteger(n) && n >= range[0] && n <= range[1]) return undefined;
  return `must be a whole number from ${range[0]} to ${range[1]}, got ${JSON.stringify(v)}`;
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

export class RuleSet {
  readonly #byMessage = new Map<string, FieldRule[]>();
  readonly #shapes = new Map<string, FieldShape[]>();

  /** Loads every message of the file; imports (validate.proto itself) are not needed to read options. */
  static load(protoPath: string, pkg: string): RuleSet {
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) =>
      target.startsWith("validate/") ? null : protobuf.util.path.resolve(origin, target);
    root.loadSync(protoPath, { keepCase: true });
    const set = new RuleSet();
    const ns = root.lookup(pkg);
    if (!(ns instanceof protobuf.Namespace)) throw new Error(`${protoPath}: no package ${pkg}`);
    for (const type of ns.nestedArray) {
      if (!(type instanceof protobuf.Type)) continue;
      const fields: FieldRule[] = [];
      set.#shapes.set(
        type.name,
        type.fieldsArray.map((f) => ({
          name: f.name,
          property: camel(f.name),
          type: f.type,
          repeated: f.repeated,
          map: f instanceof protobuf.MapField,
        })),
      );
      for (const field of type.fieldsArray) {
        const parsed = (field.parsedOptions ?? []) as Record<string, unknown>[];
        const rules = parsed.find((o) => "(validate.rules)" in o)?.["(validate.rules)"] as Rules | undefined;
        if (!rules) continue;
        for (const [kind, body] of Object.entries(rules)) {
          const allowed = known[kind];
          const unknown = Object.keys(body).filter((k) => !allowed?.includes(k));
          if (!allowed || unknown.length > 0) {
            throw new Error(
              `${type.name}.${field.name}: rule ${kind}.${unknown.join(",") || "*"} is not enforced by pgv.ts; add it there first`,
            );
          }
        }
        fields.push({ name: field.name, property: camel(field.name), rules });
      }
      set.#byMessage.set(type.name, fields);
    }
    return set;
  }

  /**
   * Every field of a proto3 JSON object (snake_case or lowerCamel names) whose value has the
   * wrong JSON type: what a JSON decoder would otherwise coerce ("abc" to NaN, [1] to "1").
   * Absent and null fields take their defaults; fields the message does not have are left alone.
   */
  checkJson(message: string, json: Record<string, unknown>): Violation[] {
    const shapes = this.#shapes.get(message);
    if (!shapes) throw new Error(`no fields loaded for ${message}`);
    const out: Violation[] = [];
    for (const f of shapes) {
      const v = Object.hasOwn(json, f.name)
        ? json[f.name]
        : Object.hasOwn(json, f.property)
          ? json[f.property]
          : undefined;
      if (v === undefined || v === null) continue;
      if (f.map) {
        if (typeof v !== "object" || Array.isArray(v)) {
          out.push({ field: f.name, message: `must be an object of key: value, got ${jsonKind(v)}` });
          continue;
        }
        for (const [k, item] of Object.entries(v)) {
          const problem = scalarProblem(f.type, item);
          if (problem) out.push({ field: `${f.name}["${k}"]`, message: problem });
        }
      } else if (f.repeated) {
        if (!Array.isArray(v)) {
          out.push({ field: f.name, message: `must be an array, got ${jsonKind(v)}` });
          continue;
        }
        v.forEach((item: unknown, i) => {
          const problem = scalarProblem(f.type, item);
          if (problem) out.push({ field: `${f.name}[${i}]`, message: problem });
        });
      } else {
        const problem = scalarProblem(f.type, v);
        if (problem) out.push({ field: f.name, message: problem });
      }
    }
    return out;
  }

  /** Every rule the message breaks; empty when valid. */
  check(message: string, value: Record<string, unknown>): Violation[] {
    const fields = this.#byMessage.get(message);
    if (!fields) throw new Error(`no rules loaded for ${message}`);
    return fields.flatMap((f) => checkField(f, value[f.property]));
  }
}

function checkField(f: FieldRule, v: unknown): Violation[] {
  const out: Violation[] = [];
  const bad = (message: string) => out.push({ field: f.name, message });
  const s = f.rules.string;
  if (s) {
    const text = typeof v === "string" ? v : "";
    const len = [...text].length;
    if (typeof s.min_len === "number" && len < s.min_len)
      bad(s.min_len === 1 ? "is required" : `must be at least ${s.min_len} characters`);
    else if (typeof s.max_len === "number" && len > s.max_len) bad(`must be at most ${s.max_len} characters`);
    else if (typeof s.pattern === "string" && text !== "" && !new RegExp(s.pattern, "u").test(text))
      bad(`'${text}' must match ${s.pattern}`);
  }
  for (const n of [f.rules.uint32, f.rules.double]) {
    if (!n) continue;
    const num = typeof v === "number" ? v : 0;
    if (typeof n.lte === "number" && num > n.lte) bad(`must be <= ${n.lte}, got ${num}`);
    if (typeof n.lt === "number" && num >= n.lt) bad(`must be < ${n.lt}, got ${num}`);
    if (typeof n.gte === "number" && num < n.gte) bad(`must be >= ${n.gte}, got ${num}`);
    if (typeof n.gt === "number" && num <= n.gt) bad(`must be > ${n.gt}, got ${num}`);
  }
  const r = f.rules.repeated;
  if (r) {
    const items = Array.isArray(v) ? (v as unknown[]) : [];
    if (typeof r.min_items === "number" && items.length < r.min_items)
      bad(`needs at least ${r.min_items} item(s)`);
    if (typeof r.max_items === "number" && items.length > r.max_items)
      bad(`allows at most ${r.max_items} items`);
    if (r.unique === true && new Set(items).size !== items.length) bad("items must be unique");
  }
  const m = f.rules.map;
  if (m) {
    const pairs = v && typeof v === "object" ? Object.keys(v).length : 0;
    if (typeof m.min_pairs === "number" && pairs < m.min_pairs)
      bad(`needs at least ${m.min_pairs} entr${m.min_pairs === 1 ? "y" : "ies"}`);
    if (typeof m.max_pairs === "number" && pairs > m.max_pairs) bad(`allows at most ${m.max_pairs} entries`);
  }
  return out;
}
