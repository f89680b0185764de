import { Code, GatewayError } from "@inferencehub/contracts/errors";

/*
 * ext-authz raises GatewayError (@inferencehub/contracts/errors): a gRPC status for the client, a
 * message safe to send (it never holds a credential) that says what to do next, and a cause for
 * the log only. These name the statuses it answers with.
 */

export const unauthenticated = (message: string, cause?: unknown): GatewayError =>
  new GatewayError(Code.UNAUTHENTICATED, message, { cause });
export const permissionDenied = (message: string): GatewayError =>
  new GatewayError(Code.PERMISSION_DENIED, message);
export const invalidArgument = (message: string): GatewayError =>
  new GatewayError(Code.INVALID_ARGUMENT, message);
export const unavailable = (message: string, cause?: unknown): GatewayError =>
  new GatewayError(Code.UNAVAILABLE, message, { cause });
export const resourceExhausted = (message: string, retryAfterMs: number): GatewayError =>
  new GatewayError(Code.RESOURCE_EXHAUSTED, message, { retryAfterMs });

/**
 * A client-supplied value inside a message: quoted, with control characters escaped and cut to a
 * length that keeps the message readable and the header small.
 */
export function quoteInput(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return `'${JSON.stringify(cut).slice(1, -1)}'`;
}
