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

const MAX_BODY_BYTES = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
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
        .then((body) =>
          api({
            method: req.method ?? "GET",
            url,
            authorization: auth === undefined ? [] : [auth].flat(),
            body,
          }),
        )
        .then(
          (r) => send(res, r.status, JSON.stringify(r.body, null, 2)),
          (err: unknown) => {
            options.log.error({ err, path }, "admin API call failed");
            send(res, 500, JSON.stringify({ error: "internal error; see the control plane's log" }));
          },
        );
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
