/**
 * A node's capacity, as the reference node reports it in RepositoryIndex's response headers
 * (node/src/capacity-headers.ts: the same names; test/fleet-repository-client.test.ts checks them
 * against a real node). Stock servers send none.
 */
import type { Metadata } from "@grpc/grpc-js";

export const MODELS_HEADER = "x-inferencehub-capacity-models";
export const MAX_MODELS_HEADER = "x-inferencehub-capacity-max-models";
export const MEMORY_HEADER = "x-inferencehub-capacity-memory-bytes";

export interface NodeCapacity {
  /** Model versions loaded or being loaded. */
  models: number;
  /** The most it takes (the node's --max-models); undefined: no limit. */
  maxModels: number | undefined;
  /** The node process's resident memory; undefined when not reported. */
  memoryBytes: number | undefined;
}

function count(headers: Metadata, name: string): number | undefined {
  const [raw] = headers.get(name);
  if (typeof raw !== "string" || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** The capacity in a set of response headers; undefined when the server reports none (or garbage). */
export function parseCapacity(headers: Metadata): NodeCapacity | undefined {
  const models = count(headers, MODELS_HEADER);
  if (models === undefined) return undefined;
  return { models, maxModels: count(headers, MAX_MODELS_HEADER), memoryBytes: count(headers, MEMORY_HEADER) };
}

/** How many more model versions fit; Infinity without a limit. */
export function freeSlots(capacity: NodeCapacity): number {
  return capacity.maxModels === undefined ? Infinity : Math.max(0, capacity.maxModels - capacity.models);
}
