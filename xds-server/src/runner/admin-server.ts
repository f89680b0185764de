/**
 * The control plane's admin port (18080 by default): status, metrics and liveness. It is never
 * the data port, and binds loopback unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

export type JsonHandler = (req: IncomingMessage) => unknown | Promise<unknown>;

export interface AdminServerOptions {
  host: string;
  port: number;
  metrics: Registry;
  log: Logger;
  /** GET routes answered with JSON, by path. */
  routes: Record<string, JsonHandler>;
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
    const path = new URL(req.url ?? "/", "http://admin").pathname;
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
