import { Code, httpStatusOf } from "@inferencehub/contracts/errors";

/**
 * The admin API's JSON front maps a GatewayError's code to HTTP as grpc-gateway does, but for
 * FAILED_PRECONDITION: a stale base_version is 412 Precondition Failed, which is what it means here.
 */
export function adminHttpStatusOf(code: number): number {
  return code === Code.FAILED_PRECONDITION ? 412 : httpStatusOf(code);
}
