/**
 * Reads a request body into memory up to a limit: a declared Content-Length over it is refused
 * before a byte is read, and a body that grows past it stops being read there (never buffered
 * whole). A client that goes away mid-body is an abort, not a hang.
 */
import type { IncomingMessage } from "node:http";

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than this node's limit of ${limit} bytes (--max-message-bytes)`);
    this.name = "BodyTooLarge";
  }
}

export class BodyAborted extends Error {
  constructor() {
    super("the client closed the connection before the request body ended");
    this.name = "BodyAborted";
  }
}

/** The declared Content-Length when it is over the limit: such a body need not be read at all. */
export function declaredTooLarge(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers["content-length"]);
  return Number.isFinite(declared) && declared > limit;
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (declaredTooLarge(req, limit)) {
      reject(new BodyTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        req.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onClose = () => {
      cleanup();
      reject(new BodyAborted());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", onClose);
  });
}
