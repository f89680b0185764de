/**
 * Helpers every section's checks share: reading the raw document without trusting its shape,
 * reporting duplicates, and splitting "<ip>:<port>" addresses.
 */
import { formatPath, quote } from "../errors.js";
import type { PathSegments } from "../errors.js";
import type { Issue } from "../schema.js";

export type Raw = Record<string, unknown>;

export const isRecord = (value: unknown): value is Raw =>
  typeof value === "object" && value !== null && !Array.isArray(value);
export const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const stringOf = (value: unknown): string | undefined =>
  typeof value === "string" ? value : undefined;
/** Versions may be written as integers; they are names all the same. */
export const versionOf = (value: unknown): string | undefined =>
  typeof value === "string" ? value : Number.isInteger(value) ? String(value) : undefined;

/** Reports the second and later occurrence of each key, pointing back at the first. */
export function duplicates(
  items: readonly { key: string | undefined; at: PathSegments }[],
  what: string,
  keyField?: string,
): Issue[] {
  const first = new Map<string, PathSegments>();
  const issues: Issue[] = [];
  for (const { key, at } of items) {
    if (key === undefined) continue;
    const earlier = first.get(key);
    if (earlier) {
      issues.push({
        segments: keyField ? [...at, keyField] : at,
        message: `duplicate ${what} ${quote(key)} (also ${formatPath(earlier)})`,
      });
    } else first.set(key, at);
  }
  return issues;
}

/** "<ip>:<port>" (IPv6 in brackets) split, or undefined when it does not have that shape. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  if (!match) return undefined;
  const host = match[1] ?? match[2] ?? "";
  return { host, port: Number(match[3]) };
}
