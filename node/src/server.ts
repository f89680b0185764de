/**
 * The reference inference node: an Open Inference Protocol (KServe v2) gRPC server on grpc-js,
 * backed by onnxruntime, with grpc.health.v1, a bounded queue, Prometheus metrics and a graceful
 * shutdown that lets load balancers move away before the port closes. With httpPort, the same
 * calls in the v2 REST/JSON form too (rest/), answered by the same InferenceCore.
 *
 * This file wires the node together: the core (infer-core.ts), the gRPC services (grpc-service.ts,
 * health-service.ts) on the main port and each version port, the REST port, /metrics, and the drain.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, ServerCredentials, ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { routedModelHeader, routedVersionHeader } from "@inferencehub/contracts/headers";
import { GRPCInferenceServiceService } from "../../gen/inference/inference/grpc_service.js";
import { HealthService } from "../../gen/inference/grpc/health/v1/health.js";
import { createInferenceService } from "./grpc-service.js";
import { createHealthService } from "./health-service.js";
import { createInferenceCore } from "./infer-core.js";
import { Limiter } from "./limiter.js";
import { createNodeMetrics, registerCapacityMetrics, type NodeMetrics } from "./metrics.js";
import { ModelRepository } from "./model-repository.js";
import { startRestServer, type RestServer } from "./rest/server.js";
import { ModelStatisticsStore } from "./statistics.js";

export interface InferenceNodeOptions {
  /** Names the node in response headers, metrics and logs. */
  name: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  modelRoot: string;
  /** Models to load at start; all on disk when absent. */
  models?: readonly string[];
  log: Logger;
  maxConcurrent?: number;
  maxQueue?: number;
  /**
   * At most this many model versions loaded at once (0 or absent: no limit); a load beyond it is
   * RESOURCE_EXHAUSTED, and RepositoryIndex reports the count and the limit in its headers.
   */
  maxModels?: number;
  /** Largest request accepted; grpc-js answers RESOURCE_EXHAUSTED beyond it. */
  maxMessageBytes?: number;
  /** Serves /metrics on this port when set (0 picks a free port). */
  metricsPort?: number;
  /** Added to every inference: stands in for a slower accelerator in tests, demos and fault drills. */
  inferDelayMs?: number;
  /** Added to each version's load: stands in for a large model in tests of the control plane's placement. */
  loadDelayMs?: number;
  /**
   * "header" (default): the gateway's x-inferencehub-model-version picks the version. "body": only
   * the request's model_version does, as in a stock server (Triton, MLServer): the gateway's tests
   * use it to stand in for one.
   */
  versionFrom?: "header" | "body";
  /** How long to report NOT_SERVING before the port stops taking calls. */
  drainDelayMs?: number;
  /** How long in-flight calls may take to finish once the port is closing. */
  shutdownGraceMs?: number;
  executionProviders?: readonly string[];
  /**
   * The operator token repository calls must carry in x-inferencehub-repository-token (see
   * repository-auth.ts). Without one, repository calls are refused.
   */
  repositoryToken?: string;
  /**
   * Extra ports, each serving one version of one model: a call there is handled as if the gateway
   * had routed it to that version (x-inferencehub-model and -version set). Proxyless clients
   * (grpc-js-xds) send no headers, so the control plane points each version's cluster at its port.
   */
  versionPorts?: readonly VersionPort[];
  /**
   * Serves the v2 REST/JSON protocol (with Triton's binary tensor extension) on this HTTP/1.1 port
   * when set (0 picks a free port); off when absent. See rest/server.ts.
   */
  httpPort?: number;
  /** How long the REST port waits for a whole request (headers and body); 30 s by default. */
  httpRequestTimeoutMs?: number;
}

export interface VersionPort {
  model: string;
  version: string;
  /** 0 picks a free port. */
  port: number;
}

export interface InferenceNode {
  name: string;
  port: number;
  /** The version ports as bound (a requested 0 replaced by the port chosen). */
  versionPorts: VersionPort[];
  metricsPort: number | undefined;
  /** The REST port as bound; undefined when REST is off. */
  httpPort: number | undefined;
  repository: ModelRepository;
  metrics: NodeMetrics;
  statistics: ModelStatisticsStore;
  /** Report NOT_SERVING, finish in-flight calls, then close. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * A version port's calls arrive as if the gateway had routed them: the model and version headers
 * are the port's, whatever the caller sent.
 */
function routedTo(model: string, version: string): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            metadata.set(routedModelHeader, model);
            metadata.set(routedVersionHeader, version);
            forward(metadata);
          },
        }),
    });
}

export async function startInferenceNode(options: InferenceNodeOptions): Promise<InferenceNode> {
  const log = options.log.child({ node: options.name });
  const repository = new ModelRepository({
    root: options.modelRoot,
    log,
    ...(options.models ? { only: options.models } : {}),
    ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    ...(options.maxModels ? { maxModels: options.maxModels } : {}),
    ...(options.loadDelayMs ? { loadDelayMs: options.loadDelayMs } : {}),
  });
  await repository.loadAll();
  const limiter = new Limiter({
    maxConcurrent: options.maxConcurrent ?? 4,
    maxQueue: options.maxQueue ?? 64,
  });
  const metrics = createNodeMetrics(options.name);
  registerCapacityMetrics(metrics.registry, () => repository.capacity());
  const statistics = new ModelStatisticsStore();
  let draining = false;
  /** Models reporting not ready while their unload waits out the drain delay. */
  const unloading = new Set<string>();

  const core = createInferenceCore({
    name: options.name,
    repository,
    limiter,
    metrics,
    statistics,
    versionFrom: options.versionFrom,
    inferDelayMs: options.inferDelayMs,
    draining: () => draining,
    unloading,
  });
  const inferenceService = createInferenceService({
    name: options.name,
    log,
    core,
    repository,
    statistics,
    versionFrom: options.versionFrom,
    drainDelayMs: options.drainDelayMs,
    repositoryToken: options.repositoryToken,
    unloading,
  });
  const health = createHealthService({ name: options.name, log, draining: () => draining });

  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const serverOptions = {
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": -1,
  };

  const serve = async (port: number, interceptors: ServerInterceptor[] = []) => {
    const server = new Server({ ...serverOptions, interceptors });
    server.addService(GRPCInferenceServiceService, inferenceService);
    server.addService(HealthService, health.service);
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${options.host ?? "127.0.0.1"}:${port}`,
        ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    return { server, port: bound };
  };
  const main = await serve(options.port);
  const port = main.port;
  const versionServers = await Promise.all(
    (options.versionPorts ?? []).map(async (vp) => {
      const served = await serve(vp.port, [routedTo(vp.model, vp.version)]);
      return { ...served, versionPort: { ...vp, port: served.port } };
    }),
  );
  const servers = [main.server, ...versionServers.map((v) => v.server)];

  let metricsServer: HttpServer | undefined;
  let metricsPort: number | undefined;
  if (options.metricsPort !== undefined) {
    metricsServer = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end("only /metrics here\n");
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    metricsPort = await new Promise<number>((resolve) =>
      metricsServer?.listen(options.metricsPort, options.host ?? "127.0.0.1", () =>
        resolve((metricsServer?.address() as AddressInfo).port),
      ),
    );
  }
  let rest: RestServer | undefined;
  if (options.httpPort !== undefined) {
    rest = await startRestServer({
      core,
      host: options.host ?? "127.0.0.1",
      port: options.httpPort,
      maxBodyBytes: maxMessageBytes,
      requestTimeoutMs: options.httpRequestTimeoutMs ?? 30_000,
      log,
    });
  }
  const httpPort = rest?.port;
  const versionPorts = versionServers.map((v) => v.versionPort);
  log.info(
    { port, versionPorts, metricsPort, httpPort, models: repository.index(true) },
    "inference node serving",
  );

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      draining = true;
      health.reportNotServing();
      log.info({ drainDelayMs: options.drainDelayMs ?? 0 }, "draining: reporting NOT_SERVING");
      if (options.drainDelayMs) await new Promise((r) => setTimeout(r, options.drainDelayMs));
      health.endWatches();
      const graceMs = options.shutdownGraceMs ?? 30_000;
      const grpcClosed = new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn("in-flight calls outlived the grace period; closing them");
          for (const server of servers) server.forceShutdown();
          resolve();
        }, graceMs);
        let open = servers.length;
        for (const server of servers)
          server.tryShutdown(() => {
            if (--open > 0) return;
            clearTimeout(force);
            resolve();
          });
      });
      await Promise.all([grpcClosed, rest?.close(graceMs)]);
      await new Promise<void>((resolve) =>
        metricsServer ? metricsServer.close(() => resolve()) : resolve(),
      );
      await repository.unloadAll().catch(() => undefined);
      log.info("inference node stopped");
    })();
    return shutdownPromise;
  };

  return {
    name: options.name,
    port,
    versionPorts,
    metricsPort,
    httpPort,
    repository,
    metrics,
    statistics,
    shutdown,
  };
}
