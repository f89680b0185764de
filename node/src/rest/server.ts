/**
 * The v2 REST/JSON protocol (KServe's Open Inference Protocol over HTTP/1.1, with Triton's binary
 * tensor extension) on a port of its own: a grpc-js server speaks only HTTP/2, and Triton and
 * MLServer serve REST on a separate port too. Every answer comes from the same InferenceCore the
 * gRPC services use, so versions, queueing, statistics, metrics and errors match; a gRPC status
 * becomes an HTTP status by grpc-gateway's table (httpStatusOf, @inferencehub/contracts/errors).
 * Errors are JSON `{"error": "..."}`.
 */
import { EventEmitter } from "node:events";
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  routedModelHeader,
  routedVersionHeader,
  servedByHeader,
  tenantHeader,
} from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";
import { httpStatusOf } from "@inferencehub/contracts/errors";
import { boundDetails, clip } from "../client-text.js";
import { invalidArgument } from "../errors.js";
import type { InferContext, InferenceCore } from "../infer.js";
import { headerLengthHeader, headerLengthResponseHeader } from "./binary-data.js";
import { inferResponseBody, parseInferRequest } from "./infer-message.js";
import { BodyAborted, BodyTooLarge, declaredTooLarge, readBody } from "./request-body.js";
import { matchRoute, type Route } from "./routes.js";

export interface RestServerOptions {
  core: InferenceCore;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Larger bodies get 413 (the node's --max-message-bytes). */
  maxBodyBytes: number;
  /** How long a whole request (headers and body) may take to arrive; then 408. */
  requestTimeoutMs: number;
  log: Logger;
}

export interface RestServer {
  port: number;
  /** Stops taking connections, lets in-flight requests finish (up to graceMs), then closes. */
  close(graceMs: number): Promise<void>;
}

/** The request headers the core reads, as gRPC metadata: the gateway's routing, the tenant, credentials. */
const forwardedHeaders = [routedModelHeader, routedVersionHeader, tenantHeader, "authorization"];

function callMetadata(req: IncomingMessage): Metadata {
  const metadata = new Metadata();
  for (const name of forwardedHeaders) {
    for (const value of req.headersDistinct[name] ?? []) {
      try {
        metadata.add(name, value);
      } catch {
        throw invalidArgument(`header ${name} must be printable ASCII`);
      }
    }
  }
  return metadata;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), "utf8");

/** An HTTP/1.1 response written straight to a socket, for errors raised before any ServerResponse. */
function rawResponse(node: string, code: number, message: string): string {
  const body = JSON.stringify({ error: message });
  return (
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ""}\r\nContent-Type: application/json\r\n${servedByHeader}: ${node}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

export async function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const { core, log } = options;
  let closing = false;
  /** The response in progress on each socket: the 408 for a slow body is written only before it starts. */
  const responding = new WeakMap<Socket, ServerResponse>();

  const send = (res: ServerResponse, code: number, body?: Buffer, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    if (closing) res.setHeader("connection", "close");
    res.writeHead(code, {
      ...(body ? { "content-type": "application/json" } : {}),
      "content-length": String(body?.length ?? 0),
      ...headers,
    });
    res.end(body);
  };
  const sendError = (res: ServerResponse, code: number, message: string, headers?: Record<string, string>) =>
    send(res, code, json({ error: boundDetails(message) }), headers);

  /** A failure as the gRPC port would report it, in HTTP terms; anything unexpected is logged and 500. */
  const fail = (res: ServerResponse, err: unknown, what: string) => {
    if (err instanceof GatewayError) {
      sendError(res, httpStatusOf(err.code), err.message);
      return;
    }
    log.error({ err, endpoint: what }, "unexpected error in REST handler");
    sendError(res, 500, `${what} failed on node ${core.name}; see its log`);
  };

  /** The REST request as the core's call: headers as metadata, no deadline, cancelled if the client leaves. */
  const context = (req: IncomingMessage, res: ServerResponse): InferContext => {
    const cancel = new EventEmitter();
    // Gone already (between the body's end and here): the call is dropped before it queues.
    let cancelled = res.destroyed;
    res.once("close", () => {
      if (res.writableFinished) return;
      cancelled = true;
      cancel.emit("cancelled");
    });
    return {
      metadata: callMetadata(req),
      get cancelled() {
        return cancelled;
      },
      getDeadline: () => Infinity,
      once: (event, listener) => cancel.once(event, listener),
      off: (event, listener) => cancel.off(event, listener),
    };
  };

  /**
   * 413 for a body over the limit. Nothing more of it is stored; what the client still sends is
   * read and dropped, up to as much again as the limit (at least 1 MiB) and within the request
   * timeout, because an HTTP/1.1 client sends its whole body before it reads the answer, and a
   * connection closed under it would show it a reset instead of the 413. Past that, it is reset.
   */
  const tooLarge = (req: IncomingMessage, res: ServerResponse) => {
    sendError(res, 413, new BodyTooLarge(options.maxBodyBytes).message);
    const cap = Math.max(options.maxBodyBytes, 1 << 20);
    let dropped = 0;
    req.removeAllListeners("data");
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > cap) req.socket.destroy();
    });
    req.resume();
  };

  const infer = async (req: IncomingMessage, res: ServerResponse, model: string, version: string) => {
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) tooLarge(req, res);
      else if (!(err instanceof BodyAborted)) throw err;
      return;
    }
    const call = context(req, res);
    const headerLength = req.headersDistinct[headerLengthHeader];
    if (headerLength && headerLength.length > 1)
      throw invalidArgument(`${headerLengthResponseHeader} is given ${headerLength.length} times`);
    const parsed = parseInferRequest(model, version, body, headerLength?.[0]);
    const { loaded, response } = await core.infer(call, parsed.request);
    const out = inferResponseBody(response, parsed.binaryOutput);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(core.responseHeaders(call, loaded.version).getMap()))
      headers[k] = String(v);
    if (out.headerLength !== undefined) headers[headerLengthResponseHeader] = String(out.headerLength);
    send(res, 200, out.body, {
      ...headers,
      "content-type": out.headerLength !== undefined ? "application/octet-stream" : "application/json",
    });
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, route: Route) => {
    switch (route.kind) {
      case "live":
        return send(res, 200);
      case "ready":
        return core.serverReady() ? send(res, 200) : sendError(res, 503, "the node is shutting down");
      case "serverMetadata":
        return send(res, 200, json(core.serverMetadata()));
      case "modelMetadata": {
        const m = core.modelMetadata({ metadata: callMetadata(req) }, route.model, route.version);
        const tensor = (t: { name: string; datatype: string; shape: number[] }) => ({
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
        });
        return send(
          res,
          200,
          json({
            name: m.name,
            versions: m.versions,
            platform: m.platform,
            inputs: m.inputs.map(tensor),
            outputs: m.outputs.map(tensor),
          }),
        );
      }
      case "modelReady": {
        const call = { metadata: callMetadata(req) };
        if (core.modelReady(call, route.model, route.version)) return send(res, 200);
        // Not served here at all: 404 (the core says which); served but not ready: 400, as Triton.
        core.modelMetadata(call, route.model, route.version);
        const v = route.version === "" ? "" : ` version '${route.version}'`;
        return sendError(res, 400, `model '${route.model}'${v} is not ready`);
      }
      case "infer":
        return infer(req, res, route.model, route.version);
      case "unsupported":
        return sendError(res, 501, `${route.what} is not served over REST by this node`);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    responding.set(req.socket, res);
    res.once("finish", () => {
      responding.delete(req.socket);
      if (closing) server.closeIdleConnections();
    });
    res.setHeader(servedByHeader, core.name);
    const match = matchRoute(req.method ?? "", req.url ?? "/");
    if (!match.ok) {
      if (match.status === 405)
        return sendError(res, 405, `${clip(req.method ?? "", 16)} is not allowed here; use ${match.allow}`, {
          allow: match.allow,
        });
      return sendError(
        res,
        404,
        `no such endpoint: ${clip(req.method ?? "", 16)} ${clip((req.url ?? "").split("?")[0] ?? "", 200)}`,
      );
    }
    const encoding = req.headers["content-encoding"];
    if (encoding !== undefined && encoding !== "identity")
      return sendError(
        res,
        415,
        `Content-Encoding '${clip(encoding, 32)}' is not supported; send the body uncompressed`,
      );
    serve(req, res, match.route)
      .catch((err: unknown) => fail(res, err, match.route.kind))
      .catch((err: unknown) => {
        // Not even the error could be written: drop the connection rather than the process.
        log.error({ err }, "REST response failed");
        res.destroy();
      });
  };

  const server = createServer(
    {
      // 0 turns the whole-request limit off (as in Node); the headers keep theirs.
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.requestTimeoutMs > 0 ? Math.min(options.requestTimeoutMs, 20_000) : 20_000,
      // Timeouts are checked on this interval; the default (30 s) would let a short one run long.
      connectionsCheckingInterval:
        options.requestTimeoutMs > 0
          ? Math.max(50, Math.min(1000, Math.floor(options.requestTimeoutMs / 4)))
          : 1000,
    },
    handle,
  );
  // Expect: 100-continue: a body over the limit is refused before the client sends it.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (declaredTooLarge(req, options.maxBodyBytes)) {
      // The client waits for 100 Continue before it sends the body: it will not come; close after.
      res.setHeader(servedByHeader, core.name);
      res.shouldKeepAlive = false;
      sendError(res, 413, new BodyTooLarge(options.maxBodyBytes).message, { connection: "close" });
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  // Malformed requests and slow ones (requestTimeout) get a JSON answer, not Node's plain one.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    const res = responding.get(socket);
    if (socket.writable && !res?.headersSent && err.code !== "ECONNRESET") {
      const [code, message] =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, `the request did not arrive within ${options.requestTimeoutMs} ms`]
          : err.code === "HPE_HEADER_OVERFLOW"
            ? [431, "the request headers are too large"]
            : [400, "the request is not valid HTTP/1.1"];
      // Like Node's own answer to these, then the connection closes (at once if the client lingers).
      socket.end(rawResponse(core.name, code, message));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.destroy();
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  const close = (graceMs: number): Promise<void> =>
    new Promise<void>((resolve) => {
      closing = true;
      const force = setTimeout(() => {
        log.warn("REST requests outlived the grace period; closing them");
        server.closeAllConnections();
      }, graceMs);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });

  return { port, close };
}
