export { translate, translationUnits } from "./translate.js";
export type { TranslateResult, TranslationUnit } from "./translate.js";
export { checkRecords, checkResourceSet, ConsistencyIndex, recordOf, recordsOf } from "./check.js";
export type { RecordSet, ResourceProblem, ResourceRecord } from "./check.js";
export { resourceKinds } from "./types.js";
export type { ClientGroup, Named, ResourceKind, ResourceSet } from "./types.js";
export {
  ingressListenerName,
  ingressRouteConfigName,
  ingressScopedRoutesName,
  noModelRouteConfigName,
  proxylessListenerName,
  proxylessRouteConfigName,
} from "./names.js";
export { buildHttpFilters, httpFilterChain } from "./filters/index.js";
export type { HttpFilterSpec } from "./filters/index.js";
export { duration } from "./durations.js";
