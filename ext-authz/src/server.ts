/**
 * ext-authz: Envoy's external authorization service (envoy.service.auth.v3.Authorization) on
 * grpc-js, with Prometheus metrics and a status page on a second port.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/service/auth/v3/external_auth.proto
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { wallClock, type Clock } from "@inferencehub/contracts/clock";
import {
  AuthorizationService,
  type CheckRequest,
  type CheckResponse,
} from "../../gen/envoy/envoy/service/auth/v3/external_auth.js";
import { callAttributes, isGrpc } from "./check-request.js";
import { deniedResponse, okResponse } from "./check-response.js";
import { decide, type Decision } from "./decide.js";
import { createAuthzMetrics, type AuthzMetrics } from "./metrics.js";
import { AuthSources } from "./sources.js";

export interface ExtAuthzOptions {
  /** inferencehub.yaml: the same file the control plane reads. */
  configPath: string;
  log: Logger;
  host?: string;
  /** gRPC port for Envoy's Check calls; 0 picks a free port. */
  port: number;
  metricsHost?: string;
  /** /metrics and /status; 0 picks a free port. */
  metricsPort: number;
  /** Follow edits of the config, keys and JWKS files (default true). */
  watch?: boolean;
  /** Rate limits and JWT expiry are judged by it (default: the wall clock, as a token's issuer keeps). */
  clock?: Pick<Clock, "now">;
  /** The nodes' repository token, sent with the repository calls of tenants allowed them. */
  repositoryToken?: string;
}

export interface ExtAuthzServer {
  port: number;
  metricsPort: number;
  sources: AuthSources;
  metrics: AuthzMetrics;
  /** Finishes the calls in flight, then closes both ports. */
  stop(): Promise<void>;
}

const resultName = (code: status): string => (status[code] ?? String(code)).toLowerCase();

export async function startExtAuthz(options: ExtAuthzOptions): Promise<ExtAuthzServer> {
  const log = options.log;
  const metrics = createAuthzMetrics();
  const sources = new AuthSources({
    configPath: options.configPath,
    log: log.child({ component: "sources" }),
    metrics,
    clock: options.clock ?? wallClock,
    ...(options.repositoryToken !== undefined ? { repositoryToken: options.repositoryToken } : {}),
  });
  await sources.load();
  if (options.watch ?? true) sources.watch();

  const record = (decision: Decision, seconds: number) => {
    const result = decision.allowed ? "ok" : resultName(decision.error.code);
    metrics.decisions.inc({ result, tenant: decision.tenant ?? "" });
    metrics.latency.observe({ result }, seconds);
    if (decision.modelSource) metrics.modelSource.inc({ source: decision.modelSource });
  };

  const check = (
    call: ServerUnaryCall<CheckRequest, CheckResponse>,
    callback: sendUnaryData<CheckResponse>,
  ) => {
    const started = process.hrtime.bigint();
    const attributes = callAttributes(call.request);
    metrics.bodyBytes.inc(attributes.body.length);
    decide(attributes, sources.context).then(
      (decision) => {
        record(decision, Number(process.hrtime.bigint() - started) / 1e9);
        if (decision.allowed) {
          log.debug(
            { path: attributes.path, tenant: decision.tenant, model: decision.modelSource },
            "allowed",
          );
          callback(null, okResponse(decision.set, decision.remove));
        } else {
          log.debug(
            {
              path: attributes.path,
              tenant: decision.tenant,
              code: resultName(decision.error.code),
              err: decision.error.cause,
            },
            decision.error.message,
          );
          callback(null, deniedResponse(decision.error, isGrpc(attributes)));
        }
      },
      (err: unknown) => {
        // A bug, not a verdict: Envoy gets an error and answers the call UNAVAILABLE (fail closed).
        metrics.decisions.inc({ result: "internal", tenant: "" });
        log.error({ err, path: attributes.path }, "Check failed");
        callback({ code: status.INTERNAL, details: "ext-authz failed to decide; see its log" });
      },
    );
  };

  const server = new Server({ "grpc.max_receive_message_length": 1024 * 1024 });
  server.addService(AuthorizationService, { check });
  let port: number;
  try {
    port = await new Promise<number>((resolvePort, reject) =>
      server.bindAsync(
        `${options.host ?? "0.0.0.0"}:${options.port}`,
        ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolvePort(p)),
      ),
    );
  } catch (err) {
    sources.close();
    throw err;
  }

  let http: HttpServer;
  let metricsPort: number;
  try {
    http = createServer((req, res) => {
      if (req.url === "/metrics") {
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else if (req.url === "/status") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(sources.status()));
      } else {
        res.writeHead(404).end("only /metrics and /status here\n");
      }
    });
    metricsPort = await new Promise<number>((resolvePort, reject) => {
      http.once("error", reject);
      http.listen(options.metricsPort, options.metricsHost ?? "0.0.0.0", () =>
        resolvePort((http.address() as AddressInfo).port),
      );
    });
  } catch (err) {
    server.forceShutdown();
    sources.close();
    throw err;
  }
  log.info({ port, metricsPort, config: sources.configPath }, "ext-authz serving");

  let stopping: Promise<void> | undefined;
  return {
    port,
    metricsPort,
    sources,
    metrics,
    stop: () => {
      stopping ??= (async () => {
        sources.close();
        await new Promise<void>((resolveStop) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolveStop();
          }, 5_000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolveStop();
          });
        });
        await new Promise<void>((resolveStop) => http.close(() => resolveStop()));
      })();
      return stopping;
    },
  };
}
