/** Errors carrying the gRPC status of the failed call, one class per status a caller acts on. */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

export { status };

/** Every failed call: `code` is the gRPC status, `details` the server's message. */
export class InferenceHubError extends Error {
  override name = "InferenceHubError";
  readonly code: status;
  readonly details: string;
  /** The trailers the status came with. */
  readonly metadata: Metadata;

  constructor(code: status, details: string, metadata: Metadata = new Metadata()) {
    super(`${status[code] ?? code}: ${details}`);
    this.code = code;
    this.details = details;
    this.metadata = metadata;
  }
}

/** NOT_FOUND: no such model, or no such version of it. */
export class NotFoundError extends InferenceHubError {
  override name = "NotFoundError";
}
/** PERMISSION_DENIED: the key or token is valid but may not call this model or version. */
export class PermissionDeniedError extends InferenceHubError {
  override name = "PermissionDeniedError";
}
/** UNAUTHENTICATED: no credentials, or ones the gateway does not accept. */
export class UnauthenticatedError extends InferenceHubError {
  override name = "UnauthenticatedError";
}
/** UNAVAILABLE: no node could take the call (or the gateway is unreachable). */
export class UnavailableError extends InferenceHubError {
  override name = "UnavailableError";
}
/** DEADLINE_EXCEEDED: the call's timeout passed before an answer came. */
export class DeadlineExceededError extends InferenceHubError {
  override name = "DeadlineExceededError";
}
/** INVALID_ARGUMENT: the server refused the request as malformed (wrong input, shape, datatype). */
export class InvalidArgumentError extends InferenceHubError {
  override name = "InvalidArgumentError";
}
/** RESOURCE_EXHAUSTED: over a rate limit; `retryAfterMs` is the server's hint, when it gave one. */
export class ResourceExhaustedError extends InferenceHubError {
  override name = "ResourceExhaustedError";
  readonly retryAfterMs: number | undefined;

  constructor(code: status, details: string, metadata: Metadata = new Metadata()) {
    super(code, details, metadata);
    this.retryAfterMs = retryHint(metadata, details);
  }
}

/** `grpc-retry-pushback-ms` (gRFC A6), else `retry-after` in seconds, else "retry in N ms" in the message. */
function retryHint(metadata: Metadata, details: string): number | undefined {
  const first = (key: string) => {
    const v = metadata.get(key)[0];
    return v === undefined ? undefined : Number(String(v));
  };
  const pushback = first("grpc-retry-pushback-ms");
  if (pushback !== undefined && Number.isFinite(pushback) && pushback >= 0) return pushback;
  const after = first("retry-after");
  if (after !== undefined && Number.isFinite(after) && after >= 0) return after * 1000;
  const m = /retry in (\d+) ?ms/.exec(details);
  return m ? Number(m[1]) : undefined;
}

const classes: Partial<Record<status, typeof InferenceHubError>> = {
  [status.NOT_FOUND]: NotFoundError,
  [status.PERMISSION_DENIED]: PermissionDeniedError,
  [status.UNAUTHENTICATED]: UnauthenticatedError,
  [status.UNAVAILABLE]: UnavailableError,
  [status.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [status.INVALID_ARGUMENT]: InvalidArgumentError,
  [status.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
};

/** The typed error for a grpc-js error (anything else is returned as it is). */
export function toError(err: unknown): unknown {
  if (err instanceof InferenceHubError) return err;
  const e = err as Partial<ServiceError> | null;
  if (!e || typeof e.code !== "number") return err;
  const Class = classes[e.code as status] ?? InferenceHubError;
  return new Class(e.code, e.details ?? e.message ?? "", e.metadata ?? new Metadata());
}
