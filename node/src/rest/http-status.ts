/**
 * The one table from a gRPC status to an HTTP status, for errors the REST port answers: the
 * mapping grpc-gateway uses (runtime.HTTPStatusFromCode), so a failure reads the same on both
 * ports and behind any proxy that translates between them.
 */
import { status } from "@grpc/grpc-js";

const table: Readonly<Record<status, number>> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

/** The HTTP status for a gRPC status code; 500 for a code outside the table. */
export function httpStatusOf(code: number): number {
  return table[code as status] ?? 500;
}
