import { status } from "@grpc/grpc-js";

/**
 * The one error type ext-authz raises on purpose: a gRPC status for the client, a message safe to
 * send (it never holds a credential) that says what to do next, and a cause for the log only.
 */
export class AuthzError extends Error {
  /** RESOURCE_EXHAUSTED only: how long until a call would be let through. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: status,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AuthzError";
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const unauthenticated = (message: string, cause?: unknown): AuthzError =>
  new AuthzError(status.UNAUTHENTICATED, message, { cause });
export const permissionDenied = (message: string): AuthzError =>
  new AuthzError(status.PERMISSION_DENIED, message);
export const invalidArgument = (message: string): AuthzError =>
  new AuthzError(status.INVALID_ARGUMENT, message);
export const unavailable = (message: string, cause?: unknown): AuthzError =>
  new AuthzError(status.UNAVAILABLE, message, { cause });
export const resourceExhausted = (message: string, retryAfterMs: number): AuthzError =>
  new AuthzError(status.RESOURCE_EXHAUSTED, message, { retryAfterMs });

/**
 * A client-supplied value inside a message: quoted, with control characters escaped and cut to a
 * length that keeps the message readable and the header small.
 */
export function quoteInput(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return `'${JSON.stringify(cut).slice(1, -1)}'`;
}
