/**
 * A ts-proto message → proto3 JSON that Envoy (and a reader) accepts. ts-proto's toJSON gets
 * field names, enums, wrappers, bytes and oneofs right, but writes two well-known types in a
 * shape of its own:
 * - Any as `{typeUrl, value: <base64>}`: expanded here into `{"@type": ..., ...fields}`, recursively;
 * - Duration as `{seconds, nanos}`: written here as the canonical string ("1.500s").
 * https://protobuf.dev/programming-guides/json/
 *
 * toJSON drops type information, so the message and its JSON are walked side by side: in the
 * message, an Any is `{typeUrl: string, value: Uint8Array}` and a Duration is exactly
 * `{seconds: number, nanos: number}` (ts-proto always sets both fields; Timestamp would be a Date).
 */
import { codecFor, isKnownTypeUrl } from "./registry.js";
import type { KnownTypeUrl, MessageTypes } from "./registry.js";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function toEnvoyJson<U extends KnownTypeUrl>(
  typeUrl: U,
  message: MessageTypes[U],
): Record<string, JsonValue> {
  return expand(message, codecFor(typeUrl).toJSON(message)) as Record<string, JsonValue>;
}

/** Protobuf's JSON spelling of a Duration: seconds with 0, 3, 6 or 9 fractional digits. */
export function durationToJson(seconds: number, nanos: number): string {
  const negative = seconds < 0 || nanos < 0;
  const s = Math.abs(seconds);
  const n = Math.abs(nanos);
  let fraction = "";
  if (n !== 0) {
    const digits = String(n).padStart(9, "0");
    fraction = `.${digits.endsWith("000000") ? digits.slice(0, 3) : digits.endsWith("000") ? digits.slice(0, 6) : digits}`;
  }
  return `${negative ? "-" : ""}${s}${fraction}s`;
}

function expand(message: unknown, json: unknown): JsonValue {
  if (isAny(message)) return anyToJson(message.typeUrl, message.value);
  if (isDuration(message)) return durationToJson(message.seconds, message.nanos);
  if (Array.isArray(message) && Array.isArray(json)) {
    return json.map((item, i) => expand(message[i], item));
  }
  if (isPlainObject(message) && isPlainObject(json)) return expandFields(message, json);
  return json as JsonValue;
}

function expandFields(message: Record<string, unknown>, json: Record<string, unknown>): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(json)) out[key] = value as JsonValue;
  for (const [field, value] of Object.entries(message)) {
    // A oneof (oneof=unions) is `{$case, [$case]: value}` in the message and just `$case` in JSON.
    const [jsonKey, inner] = isOneof(value) ? [value.$case, value[value.$case]] : [field, value];
    if (jsonKey in out) out[jsonKey] = expand(inner, json[jsonKey]);
  }
  return out;
}

function anyToJson(typeUrl: string, value: Uint8Array): JsonValue {
  // An empty Any is a value of its own (route FilterConfig.config: "enable the filter").
  if (typeUrl === "" && value.length === 0) return {};
  if (!isKnownTypeUrl(typeUrl)) {
    throw new Error(`toEnvoyJson: no codec for ${typeUrl}; add it to resources/registry.ts`);
  }
  const inner = codecFor(typeUrl).decode(value);
  return { "@type": typeUrl, ...toEnvoyJson(typeUrl, inner) };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

function isAny(value: unknown): value is { typeUrl: string; value: Uint8Array } {
  return isPlainObject(value) && typeof value.typeUrl === "string" && value.value instanceof Uint8Array;
}

function isDuration(value: unknown): value is { seconds: number; nanos: number } {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && typeof value.seconds === "number" && typeof value.nanos === "number";
}

function isOneof(value: unknown): value is { $case: string } & Record<string, unknown> {
  return isPlainObject(value) && typeof value.$case === "string";
}
