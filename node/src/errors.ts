import { Code, GatewayError } from "@inferencehub/contracts/errors";

/*
 * Handlers throw GatewayError (@inferencehub/contracts/errors) on purpose: a gRPC status and a
 * message safe to send to the client, which the REST port maps to HTTP; `cause` is for the log
 * only and never leaves the process.
 */

export const invalidArgument = (message: string): GatewayError =>
  new GatewayError(Code.INVALID_ARGUMENT, message);
export const notFound = (message: string): GatewayError => new GatewayError(Code.NOT_FOUND, message);
