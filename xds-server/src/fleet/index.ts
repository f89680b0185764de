/** The fleet stage: how the control plane drives nodes' model repositories (issue #18). */
export { createRepositoryClient, normalizeState, versionsParameter } from "./repository-client.js";
export type {
  CallOptions,
  IndexedVersion,
  RepositoryClient,
  RepositoryClientOptions,
  RepositoryIndex,
  RepositoryNode,
  RepositoryState,
} from "./repository-client.js";
export { RepositoryError } from "./repository-error.js";
export { freeSlots, parseCapacity } from "./capacity.js";
export type { NodeCapacity } from "./capacity.js";
