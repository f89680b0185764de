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
export { createReconciler, backoff } from "./reconciler.js";
export type { FleetStatus, PlacementState, Reconciler, ReconcilerOptions } from "./reconciler.js";
export { createPlacedConfigMemo, placedConfig } from "./placed-config.js";
export type { PlacedConfigMemo, ReadyNodes } from "./placed-config.js";
export { assign, eligibleNodes, placedVersions, versionKey } from "./placement.js";
export type { NodeFacts, PlacedVersion } from "./placement.js";
