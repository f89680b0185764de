export { SnapshotCache, type SnapshotListener } from "./snapshot-cache.js";
