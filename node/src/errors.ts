import { status } from "@grpc/grpc-js";

/**
 * The one error type handlers throw on purpose: a gRPC status and a message safe to send to the
 * client. `cause` is for the log only and never leaves the process.
 */
export class NodeError extends Error {
  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "NodeError";
  }
}

export const invalidArgument = (message: string): NodeError =>
  new NodeError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string): NodeError => new NodeError(status.NOT_FOUND, message);
