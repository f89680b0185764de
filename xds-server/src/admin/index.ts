export { AdminCore, type AdminCoreOptions } from "./admin-core.js";
export { createAdminGrpcService } from "./admin-grpc.js";
export { handleAdminHttp, type HttpResult } from "./admin-http.js";
export { AdminAuth } from "./auth.js";
export { applyEdit, type Edit } from "./edits.js";
export type {
  AdminClientStatus,
  AdminConfigStore,
  AdminRollouts,
  AdminStatus,
  ConfigEditRequest,
  ConfigEditResult,
  EditScope,
} from "./ports.js";
