export { buildSnapshots, startControlPlane } from "./control-plane.js";
export type { ControlPlane, ControlPlaneOptions, ControlPlaneStatus } from "./control-plane.js";
export { ConfigFile } from "./config-file.js";
export type { ConfigFileOptions, EditBase, EditPlan, EditResult, LoadResult } from "./config-file.js";
export { groupOf } from "./groups.js";
export { proxylessLimits } from "./proxyless-limits.js";
