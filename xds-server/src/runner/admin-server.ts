/**
 * The control plane's admin port (18080 by default): status, metrics and liveness. It is never
 * the data port, and binds loopback unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

export type JsonHandler = (req: IncomingMessage) => unknown | Promise<unknown>;

export interface ApiRequest {
  method: string;
  url: URL;
  authorization: string[];
  body: string;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  metrics: Registry;
  log: Logger;
  /** GET routes answered with JSON, by path. */
  routes: Record<string, JsonHandler>;
  /** Everything under /v1/: the admin API's HTTP/JSON front. */
  api?: (req: ApiRequest) => Promise<{ status: number; body: unknown }>;
}

/** The largest admin API request body taken. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * A body over the limit is still read (and dropped) up to this much, so that the 413 answer
 * comes after the client has sent it all: a socket closed on unread data is a TCP reset, and the
 * client may never see the answer. Past this, the answer goes out and the connection is cut.
 */
const MAX_DRAIN_BYTES = 64 * MAX_BODY_BYTES;

type Body = { ok: true; text: string } | { ok: false; size: number; complete: boolean };

function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else if (size > MAX_DRAIN_BYTES) {
        req.pause();
        resolve({ ok: false, size, complete: false });
      }
    });
    req.on("end", () =>
      resolve(
        size <= MAX_BODY_BYTES
          ? { ok: true, text: Buffer.concat(chunks).toString("utf8") }
          : { ok: false, size, complete: true },
      ),
    );
    req.on("error", reject);
  });
}

/** The 413 answer, then the connection closes (after the whole body was read, when it was). */
function sendTooLarge(res: ServerResponse, body: Body & { ok: false }): void {
  const error =
    `the request body is ${body.complete ? "" : "more than "}${body.size} bytes; ` +
    `the admin API takes at most ${MAX_BODY_BYTES} bytes (1 MiB)`;
  res.shouldKeepAlive = false;
  res
    .writeHead(413, { "content-type": "application/json", "cache-control": "no-store", connection: "close" })
    .end(JSON.stringify({ error, code: "RESOURCE_EXHAUSTED" }, null, 2), () => {
      if (!body.complete) res.socket?.destroy();
    });
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = "application/json"): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    const path = url.pathname;
    if (path.startsWith("/v1/") && options.api) {
      const api = options.api;
      const auth = req.headers.authorization;
      readBody(req)
        .then(async (body) => {
          if (!body.ok) return sendTooLarge(res, body);
          const r = await api({
            method: req.method ?? "GET",
            url,
            authorization: auth === undefined ? [] : [auth].flat(),
            body: body.text,
          });
          send(res, r.status, JSON.stringify(r.body, null, 2));
        })
        .catch((err: unknown) => {
          options.log.error({ err, path }, "admin API call failed");
          if (!res.headersSent)
            send(
              res,
              500,
              JSON.stringify({ error: "internal error; see the control plane's log", code: "INTERNAL" }),
            );
        });
      return;
    }
    if (req.method !== "GET") return send(res, 405, JSON.stringify({ error: "only GET is served here" }));
    if (path === "/metrics") {
      options.metrics.metrics().then(
        (text) => send(res, 200, text, options.metrics.contentType),
        (err: unknown) => send(res, 500, String(err), "text/plain"),
      );
      return;
    }
    if (path === "/healthz") return send(res, 200, JSON.stringify({ ok: true }));
    const handler = options.routes[path];
    if (!handler) {
      return send(
        res,
        404,
        JSON.stringify({
          error: `no ${path}; try ${["/status", "/metrics", "/healthz", ...Object.keys(options.routes)].join(", ")}`,
        }),
      );
    }
    Promise.resolve()
      .then(() => handler(req))
      .then(
        (body) => send(res, 200, JSON.stringify(body, null, 2)),
        (err: unknown) => {
          options.log.error({ err, path }, "admin handler failed");
          send(res, 500, JSON.stringify({ error: "internal error; see the control plane's log" }));
        },
      );
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve((server.address() as AddressInfo).port));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
