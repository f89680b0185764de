export { buildSnapshots, startControlPlane } from "./control-plane.js";
export type { ControlPlane, ControlPlaneOptions, ControlPlaneStatus } from "./control-plane.js";
export { groupOf } from "./groups.js";
export { proxylessLimits } from "./proxyless-limits.js";
