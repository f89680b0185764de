/**
 * The reference inference node: an Open Inference Protocol (KServe v2) gRPC server on grpc-js,
 * backed by onnxruntime, with grpc.health.v1, a bounded queue, Prometheus metrics and a graceful
 * shutdown that lets load balancers move away before the port closes. With httpPort, the same
 * calls in the v2 REST/JSON form too (rest/), answered by the same InferenceCore.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EventEmitter } from "node:events";
import {
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status,
  type ServerInterceptor,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  routedModelHeader,
  routedVersionHeader,
  servedByHeader,
  servedVersionHeader,
  tenantHeader,
} from "@inferencehub/contracts/headers";
import { inferenceService as inferenceServiceName } from "@inferencehub/contracts/protocol";
import { GatewayError } from "@inferencehub/contracts/errors";
import {
  GRPCInferenceServiceService,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelStatistics,
  type ModelStreamInferResponse,
} from "../../gen/inference/inference/grpc_service.js";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/inference/grpc/health/v1/health.js";
import { boundDetails, clip } from "./client-text.js";
import { invalidArgument } from "./errors.js";
import { buildFeeds, buildResponse, outputNames, type InferContext, type InferenceCore } from "./infer.js";
import { Limiter } from "./limiter.js";
import { createNodeMetrics, type NodeMetrics } from "./metrics.js";
import { modelConfig } from "./model-config.js";
import { checkModelName, ModelRepository, type LoadedVersion } from "./model-repository.js";
import { repositoryGuard } from "./repository-auth.js";
import { startRestServer, type RestServer } from "./rest/server.js";
import { ModelStatisticsStore } from "./statistics.js";

const CLOCK_SLACK_MS = 20;

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
  /** Largest request accepted; grpc-js answers RESOURCE_EXHAUSTED beyond it. */
  maxMessageBytes?: number;
  /** Serves /metrics on this port when set (0 picks a free port). */
  metricsPort?: number;
  /** Added to every inference: stands in for a slower accelerator in tests, demos and fault drills. */
  inferDelayMs?: number;
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

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>) => Promise<Res>;

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

function statusName(code: number): string {
  return status[code] ?? String(code);
}

/**
 * The gateway routes and authorizes on headers (x-inferencehub-model, set by the version cluster
 * that picked this node); a body naming another model must not be answered here, whatever the call.
 */
function checkRoutedModel(call: { metadata: Metadata }, bodyModel: string): void {
  const routedModel = call.metadata.get(routedModelHeader)[0];
  if (typeof routedModel === "string" && routedModel !== "" && bodyModel !== routedModel) {
    throw invalidArgument(
      `the call was routed for model '${clip(routedModel)}' but its body names '${clip(bodyModel)}'; set inferencehub-model to the model in the body`,
    );
  }
}

export async function startInferenceNode(options: InferenceNodeOptions): Promise<InferenceNode> {
  const log = options.log.child({ node: options.name });
  const repository = new ModelRepository({
    root: options.modelRoot,
    log,
    ...(options.models ? { only: options.models } : {}),
    ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
  });
  await repository.loadAll();
  const limiter = new Limiter({
    maxConcurrent: options.maxConcurrent ?? 4,
    maxQueue: options.maxQueue ?? 64,
  });
  const metrics = createNodeMetrics(options.name);
  const statistics = new ModelStatisticsStore();
  const checkRepositoryToken = repositoryGuard(options.repositoryToken);
  if (options.repositoryToken === undefined) {
    log.info(
      "no repository token: RepositoryIndex, RepositoryModelLoad and RepositoryModelUnload are refused",
    );
  }
  const healthWatchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  let draining = false;
  /** Models reporting not ready while their unload waits out the drain delay. */
  const unloading = new Set<string>();

  const servingStatus = (service: string): ServingStatus => {
    if (service !== "" && service !== inferenceServiceName) return ServingStatus.SERVICE_UNKNOWN;
    return draining ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  };

  /** Wraps a handler: GatewayError becomes its status, anything else INTERNAL with the cause logged. */
  const unary =
    <Req, Res>(method: string, handler: Handler<Req, Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      handler(call).then(
        (res) => callback(null, res),
        (err: unknown) => {
          const trailers = new Metadata();
          trailers.set(servedByHeader, options.name);
          if (err instanceof GatewayError) {
            callback({ code: err.code, details: boundDetails(err.message), metadata: trailers });
            return;
          }
          log.error({ err, method }, "unexpected error in handler");
          callback({
            code: status.INTERNAL,
            details: `${method} failed on node ${options.name}; see its log`,
            metadata: trailers,
          });
        },
      );
    };

  /** A repository call: the operator token first (logged when refused), then the handler. */
  const repositoryUnary = <Req, Res>(method: string, handler: Handler<Req, Res>) =>
    unary<Req, Res>(method, async (call) => {
      try {
        checkRepositoryToken(call.metadata);
      } catch (err) {
        log.warn({ method, peer: call.getPeer() }, "repository call refused: no valid operator token");
        throw err;
      }
      return handler(call);
    });

  const waitForSlot = async (call: InferContext, labels: { model: string; version: string }) => {
    metrics.queueDepth.inc(labels);
    try {
      let timer: NodeJS.Timeout | undefined;
      const onCancel = { fn: (): void => undefined };
      const release = await limiter
        .acquire((waiter) => {
          const deadline = call.getDeadline();
          const at = deadline instanceof Date ? deadline.getTime() : deadline;
          const expired = () =>
            new GatewayError(status.DEADLINE_EXCEEDED, "deadline passed while queued on the node");
          if (Number.isFinite(at))
            timer = setTimeout(() => waiter.abandon(expired()), Math.max(0, at - Date.now()));
          // grpc-js ends the call itself when the deadline passes, racing the timer above; its timer
          // and Date.now() may disagree by a millisecond or two, hence the slack.
          onCancel.fn = () =>
            waiter.abandon(
              Date.now() >= at - CLOCK_SLACK_MS
                ? expired()
                : new GatewayError(status.CANCELLED, "client cancelled while queued"),
            );
          call.once("cancelled", onCancel.fn);
        })
        .finally(() => {
          clearTimeout(timer);
          call.off("cancelled", onCancel.fn);
        });
      return release;
    } finally {
      metrics.queueDepth.dec(labels);
    }
  };

  /**
   * The version a model call is for. Behind the gateway, the version cluster that picked this node
   * names its version (unless the node reads only the body, as a stock server does). A body naming
   * another version was not routed on (ext-authz off, or a proxyless client): refused rather than
   * answered by a version the caller did not ask for.
   */
  const routedVersion = (call: { metadata: Metadata }, bodyVersion: string): string => {
    const routed = options.versionFrom === "body" ? undefined : call.metadata.get(routedVersionHeader)[0];
    if (typeof routed !== "string" || routed === "") return bodyVersion;
    if (bodyVersion !== "" && bodyVersion !== routed) {
      throw invalidArgument(
        `model_version '${clip(bodyVersion)}' in the request is not version '${clip(routed)}', which the gateway routed the call to; pin the version with the inferencehub-model-version header, or leave model_version empty`,
      );
    }
    return routed;
  };

  /** One inference, for ModelInfer or one message of ModelStreamInfer: queued, run, counted. */
  const infer = async (
    call: InferContext,
    request: ModelInferRequest,
  ): Promise<{ loaded: LoadedVersion; response: ModelInferResponse }> => {
    checkRoutedModel(call, request.modelName);
    const { loaded, done } = repository.checkout(
      request.modelName,
      routedVersion(call, request.modelVersion),
    );
    const labels = { model: loaded.model, version: loaded.version };
    const end = metrics.latency.startTimer(labels);
    const timer = statistics.start(loaded.model, loaded.version);
    metrics.requests.inc(labels);
    // Behind the gateway this stays 0: Envoy removes the caller's credentials before the call leaves it.
    if (call.metadata.get("authorization").length > 0) metrics.withCredentials.inc(labels);
    try {
      const endInput = timer.phase("computeInput");
      const feeds = buildFeeds(loaded, request);
      const names = outputNames(loaded, request);
      endInput();
      const endQueue = timer.phase("queue");
      const release = await waitForSlot(call, labels);
      endQueue();
      metrics.inflight.inc(labels);
      try {
        if (call.cancelled) throw new GatewayError(status.CANCELLED, "client cancelled");
        const endInfer = timer.phase("computeInfer");
        if (options.inferDelayMs) await new Promise((r) => setTimeout(r, options.inferDelayMs));
        const results = await loaded.session.run(feeds, names);
        endInfer();
        const endOutput = timer.phase("computeOutput");
        const response = buildResponse(loaded, request, names, results);
        endOutput();
        timer.succeeded();
        return { loaded, response };
      } finally {
        metrics.inflight.dec(labels);
        release();
      }
    } catch (err) {
      timer.failed();
      const code = err instanceof GatewayError ? err.code : status.INTERNAL;
      metrics.errors.inc({ ...labels, code: statusName(code) });
      throw err;
    } finally {
      end();
      done();
    }
  };

  const responseHeaders = (call: { metadata: Metadata }, version: string): Metadata => {
    const headers = new Metadata();
    headers.set(servedByHeader, options.name);
    headers.set(servedVersionHeader, version);
    // Echoes the x-inferencehub-tenant values that reached the node, for the gateway's tests.
    headers.set("x-inferencehub-seen-tenant", call.metadata.get(tenantHeader).join(","));
    return headers;
  };

  const core: InferenceCore = {
    name: options.name,
    serverReady: () => !draining,
    serverMetadata: () => ({
      name: "inferencehub-node",
      version: "0.1.0",
      extensions: ["model_repository", "model_configuration", "statistics"],
    }),
    modelMetadata: (call, name, version) => {
      checkRoutedModel(call, name);
      const loaded = repository.get(name, version);
      return {
        name: loaded.model,
        versions: repository.versions(loaded.model),
        platform: "onnxruntime_onnx",
        inputs: loaded.inputs,
        outputs: loaded.outputs,
      };
    },
    modelReady: (call, name, version) => {
      checkRoutedModel(call, name);
      return !draining && !unloading.has(name) && repository.isReady(name, version);
    },
    infer,
    responseHeaders,
  };

  const modelInfer: Handler<ModelInferRequest, ModelInferResponse> = async (call) => {
    const { loaded, response } = await core.infer(call, call.request);
    call.sendMetadata(responseHeaders(call, loaded.version));
    return response;
  };

  /**
   * Triton's streaming inference: each request is answered by one response on the stream, in the
   * order the requests came; a request that fails is answered by its error_message and the stream
   * goes on. Requests run concurrently within the node's limits (the same bounded queue as
   * ModelInfer: past it, RESOURCE_EXHAUSTED as that request's error_message). When the client
   * half-closes, the stream ends OK once every request has been answered.
   */
  const modelStreamInfer = (call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>): void => {
    // One listener per queued message would outgrow EventEmitter's warning limit; one relay instead.
    const cancel = new EventEmitter();
    cancel.setMaxListeners(0);
    call.once("cancelled", () => cancel.emit("cancelled"));
    const context: InferContext = {
      metadata: call.metadata,
      get cancelled() {
        return call.cancelled;
      },
      getDeadline: () => call.getDeadline(),
      once: (event, listener) => cancel.once(event, listener),
      off: (event, listener) => cancel.off(event, listener),
    };
    let headersSent = false;
    let answered = Promise.resolve();
    const answer = (reply: ModelStreamInferResponse, version?: string): void => {
      if (call.cancelled || call.destroyed) return;
      if (!headersSent) {
        headersSent = true;
        // The version of the first answer: behind the gateway every message has the routed one.
        const headers = responseHeaders(call, version ?? "");
        if (version === undefined) headers.remove(servedVersionHeader);
        call.sendMetadata(headers);
      }
      call.write(reply);
    };
    call.on("data", (request: ModelInferRequest) => {
      const result = core.infer(context, request).then(
        ({ loaded, response }) => ({
          reply: { errorMessage: "", inferResponse: response },
          version: loaded.version,
        }),
        (err: unknown) => {
          if (!(err instanceof GatewayError))
            log.error({ err, method: "ModelStreamInfer" }, "unexpected error in handler");
          const message =
            err instanceof GatewayError
              ? boundDetails(err.message)
              : `ModelStreamInfer failed on node ${options.name}; see its log`;
          return { reply: { errorMessage: message, inferResponse: undefined }, version: undefined };
        },
      );
      // Answers keep the requests' order, whatever order their inferences finish in.
      answered = answered.then(async () => {
        const { reply, version } = await result;
        answer(reply, version);
      });
    });
    call.on("end", () => {
      void answered.then(() => {
        if (!call.cancelled && !call.destroyed) call.end();
      });
    });
    call.on("error", (err) => log.debug({ err }, "ModelStreamInfer stream error"));
  };

  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const serverOptions = {
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": -1,
  };

  const inferenceService = {
    serverLive: unary("ServerLive", async () => ({ live: true })),
    serverReady: unary("ServerReady", async () => ({ ready: core.serverReady() })),
    modelReady: unary("ModelReady", async (call) => {
      const { name, version } = call.request as { name: string; version: string };
      return { ready: core.modelReady(call, name, version) };
    }),
    serverMetadata: unary("ServerMetadata", async () => core.serverMetadata()),
    modelMetadata: unary("ModelMetadata", async (call) => {
      const { name, version } = call.request as { name: string; version: string };
      return core.modelMetadata(call, name, version);
    }),
    modelInfer: unary("ModelInfer", modelInfer),
    modelStreamInfer,
    modelConfig: unary("ModelConfig", async (call) => {
      const { name, version } = call.request as { name: string; version: string };
      checkRoutedModel(call, name);
      return { config: modelConfig(repository.get(name, routedVersion(call, version))) };
    }),
    modelStatistics: unary("ModelStatistics", async (call) => {
      const { name, version } = call.request as { name: string; version: string };
      if (name !== "") checkRoutedModel(call, name);
      const wanted = routedVersion(call, version);
      if (name === "") {
        if (wanted !== "") throw invalidArgument("a version without a model name; name the model too");
        const modelStats: ModelStatistics[] = [];
        for (const { name: m, version: v } of repository.index(true))
          modelStats.push(statistics.report(m, v));
        return { modelStats };
      }
      // Like Triton: without a version, every loaded version of the model.
      const versions =
        wanted === ""
          ? (repository.get(name), repository.versions(name))
          : [repository.get(name, wanted).version];
      return { modelStats: versions.map((v) => statistics.report(name, v)) };
    }),
    repositoryIndex: repositoryUnary("RepositoryIndex", async (call) => ({
      models: repository.index((call.request as { ready: boolean }).ready),
    })),
    repositoryModelLoad: repositoryUnary("RepositoryModelLoad", async (call) => {
      const model = (call.request as { modelName: string }).modelName;
      checkModelName(model);
      checkRoutedModel(call, model);
      await repository.load(model);
      return {};
    }),
    repositoryModelUnload: repositoryUnary("RepositoryModelUnload", async (call) => {
      const model = (call.request as { modelName: string }).modelName;
      checkModelName(model);
      checkRoutedModel(call, model);
      repository.get(model);
      // Like a shutdown, for one model: report it not ready first, so load balancers move its
      // calls away, and keep serving it until they have; then free it.
      unloading.add(model);
      try {
        if (options.drainDelayMs) await new Promise((r) => setTimeout(r, options.drainDelayMs));
        await repository.unload(model);
      } finally {
        unloading.delete(model);
      }
      return {};
    }),
  };

  const healthService = {
    check: unary("Check", async (call) => {
      const s = servingStatus((call.request as HealthCheckRequest).service);
      if (s === ServingStatus.SERVICE_UNKNOWN) throw new GatewayError(status.NOT_FOUND, "unknown service");
      return { status: s };
    }),
    watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      call.write({ status: servingStatus(call.request.service) });
      healthWatchers.add(call);
      call.on("cancelled", () => healthWatchers.delete(call));
    },
  };

  const serve = async (port: number, interceptors: ServerInterceptor[] = []) => {
    const server = new Server({ ...serverOptions, interceptors });
    server.addService(GRPCInferenceServiceService, inferenceService);
    server.addService(HealthService, healthService);
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
      for (const w of healthWatchers) w.write({ status: ServingStatus.NOT_SERVING });
      log.info({ drainDelayMs: options.drainDelayMs ?? 0 }, "draining: reporting NOT_SERVING");
      if (options.drainDelayMs) await new Promise((r) => setTimeout(r, options.drainDelayMs));
      for (const w of healthWatchers) w.end();
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
