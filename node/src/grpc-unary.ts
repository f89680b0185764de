/**
 * How the node's gRPC handlers answer: a unary handler is an async function, and its failure
 * becomes the call's status here, for every service alike.
 */
import { Metadata, status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { servedByHeader } from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";
import { boundDetails } from "./client-text.js";

export type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>) => Promise<Res>;

export type UnaryWrapper = <Req, Res>(
  method: string,
  handler: Handler<Req, Res>,
) => (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/**
 * Wraps a handler: GatewayError becomes its status, anything else INTERNAL with the cause logged.
 * Either way the trailers name the node.
 */
export function unaryWrapper(nodeName: string, log: Logger): UnaryWrapper {
  return (method, handler) => (call, callback) => {
    handler(call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        const trailers = new Metadata();
        trailers.set(servedByHeader, nodeName);
        if (err instanceof GatewayError) {
          callback({ code: err.code, details: boundDetails(err.message), metadata: trailers });
          return;
        }
        log.error({ err, method }, "unexpected error in handler");
        callback({
          code: status.INTERNAL,
          details: `${method} failed on node ${nodeName}; see its log`,
          metadata: trailers,
        });
      },
    );
  };
}
