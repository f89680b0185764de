/** The admin API as a gRPC service (inferencehub.admin.v1.AdminService). */
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { AdminCore } from "./admin-core.js";
import type { AdminAuth } from "./auth.js";
import { dispatch, operations } from "./operations.js";

export function createAdminGrpcService(
  core: AdminCore,
  auth: AdminAuth,
  log: Logger,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const [name, operation] of Object.entries(operations)) {
    impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      Promise.resolve()
        .then(() =>
          dispatch(operation, core, call.request, auth.check(call.metadata.get("authorization").map(String))),
        )
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            if (err instanceof GatewayError) return callback({ code: err.code, details: err.message });
            log.error({ err, method: operation.method }, "admin call failed");
            callback({ code: status.INTERNAL, details: "internal error; see the control plane's log" });
          },
        );
    };
  }
  return impl;
}
