/**
 * RepositoryIndex's answer carries the node's capacity in its response headers: Triton's index
 * message has no field for it, and headers leave the message as stock clients know it. A
 * reconciler reads them to place a version where it fits before RepositoryModelLoad would refuse
 * it with RESOURCE_EXHAUSTED.
 */
import { Metadata } from "@grpc/grpc-js";
import type { Capacity } from "./model-repository.js";

/** Model versions loaded or being loaded (what --max-models counts). */
export const MODELS_HEADER = "x-inferencehub-capacity-models";
/** --max-models; absent when the node has no limit. */
export const MAX_MODELS_HEADER = "x-inferencehub-capacity-max-models";
/** The node process's resident memory in bytes. */
export const MEMORY_HEADER = "x-inferencehub-capacity-memory-bytes";

export function capacityHeaders(capacity: Capacity): Metadata {
  const md = new Metadata();
  md.set(MODELS_HEADER, String(capacity.models));
  if (capacity.maxModels !== undefined) md.set(MAX_MODELS_HEADER, String(capacity.maxModels));
  md.set(MEMORY_HEADER, String(capacity.memoryBytes));
  return md;
}
