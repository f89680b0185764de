import { status } from "@grpc/grpc-js";

/** The admin API's one error: a gRPC status (mapped to HTTP by the JSON front) and a message for the operator. */
export class AdminError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** Field-level problems, when the request or the resulting config is invalid. */
    readonly violations: readonly { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = "AdminError";
  }
}

/** gRPC status → HTTP status, as grpc-gateway maps them (FAILED_PRECONDITION aside: 412 here). */
const httpOf: Record<status, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 412,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

export function httpStatusOf(code: status): number {
  return httpOf[code] ?? 500;
}
