export { createSnapshotCache, type SnapshotCache, type SnapshotListener } from "./snapshot-cache.js";
