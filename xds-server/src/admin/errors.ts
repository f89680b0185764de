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

const httpOf: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ABORTED]: 409,
  [status.FAILED_PRECONDITION]: 412,
  [status.UNAVAILABLE]: 503,
};

export function httpStatusOf(code: status): number {
  return httpOf[code] ?? 500;
}
