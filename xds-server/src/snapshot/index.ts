export { TYPE_URLS, XDS_KINDS, isFullState, isUpstream, kindOf, type XdsKind } from "./kinds.js";
export {
  checkSnapshot,
  contentHash,
  makeSnapshot,
  setVersion,
  type EncodedResource,
  type Snapshot,
  type SnapshotResource,
} from "./snapshot.js";
export { clusterRefs, listenerRefs, routeRefs, scopeRefs, snapshotFromResources } from "./from-resources.js";
export { createSnapshotBuilder, type BuildStats, type SnapshotBuilder } from "./incremental.js";
export { snapshotProblems } from "./problems.js";
