/**
 * inference.GRPCInferenceService on the node: the KServe v2 calls and Triton's extensions
 * (ModelConfig, ModelStatistics, ModelStreamInfer), answered by the InferenceCore, and the
 * repository calls, which need the operator token (repository-auth.ts).
 */
import { EventEmitter } from "node:events";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { servedVersionHeader } from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelInferResponse,
  ModelStatistics,
  ModelStreamInferResponse,
  RepositoryModelLoadRequest,
} from "../../gen/inference/inference/grpc_service.js";
import { capacityHeaders } from "./capacity-headers.js";
import { boundDetails } from "./client-text.js";
import { invalidArgument } from "./errors.js";
import type { InferContext, InferenceCore } from "./infer.js";
import { checkRoutedModel, routedVersion } from "./infer-core.js";
import { unaryWrapper, type Handler } from "./grpc-unary.js";
import { modelConfig } from "./model-config.js";
import { versionPolicyOf } from "./load-parameters.js";
import { checkModelName, type ModelRepository } from "./model-repository.js";
import { repositoryGuard } from "./repository-auth.js";
import type { ModelStatisticsStore } from "./statistics.js";

export interface InferenceServiceOptions {
  /** Names the node in error trailers and messages. */
  name: string;
  log: Logger;
  core: InferenceCore;
  repository: ModelRepository;
  statistics: ModelStatisticsStore;
  /** See InferenceNodeOptions.versionFrom (server.ts). */
  versionFrom?: "header" | "body";
  /** How long RepositoryModelUnload reports the model not ready (and still serves it) before freeing it. */
  drainDelayMs?: number;
  /** The operator token repository calls must carry; without one they are refused. */
  repositoryToken?: string;
  /** Models reporting not ready while their unload waits out the drain delay: this service fills it. */
  unloading: Set<string>;
}

export function createInferenceService(options: InferenceServiceOptions): GRPCInferenceServiceServer {
  const { log, core, repository, statistics, unloading } = options;
  const unary = unaryWrapper(options.name, log);
  const checkRepositoryToken = repositoryGuard(options.repositoryToken);
  if (options.repositoryToken === undefined) {
    log.info(
      "no repository token: RepositoryIndex, RepositoryModelLoad and RepositoryModelUnload are refused",
    );
  }

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

  const modelInfer: Handler<ModelInferRequest, ModelInferResponse> = async (call) => {
    const { loaded, response } = await core.infer(call, call.request);
    call.sendMetadata(core.responseHeaders(call, loaded.version));
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
        const headers = core.responseHeaders(call, version ?? "");
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

  return {
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
      return { config: modelConfig(repository.get(name, routedVersion(call, version, options.versionFrom))) };
    }),
    modelStatistics: unary("ModelStatistics", async (call) => {
      const { name, version } = call.request as { name: string; version: string };
      if (name !== "") checkRoutedModel(call, name);
      const wanted = routedVersion(call, version, options.versionFrom);
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
    repositoryIndex: repositoryUnary("RepositoryIndex", async (call) => {
      const models = repository.index((call.request as { ready: boolean }).ready, unloading);
      call.sendMetadata(capacityHeaders(repository.capacity()));
      return { models };
    }),
    repositoryModelLoad: repositoryUnary("RepositoryModelLoad", async (call) => {
      const { modelName: model, parameters } = call.request as RepositoryModelLoadRequest;
      checkModelName(model);
      checkRoutedModel(call, model);
      await repository.load(model, versionPolicyOf(parameters ?? {}));
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
}
