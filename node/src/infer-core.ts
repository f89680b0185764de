/**
 * The node's InferenceCore (infer.ts): what the gRPC services and the REST port both answer with.
 * The version a call is for (the routed header, else the body's or the path's, else the model's
 * default), the routed-model check, the bounded queue, statistics, metrics, and the model run.
 */
import { Metadata, status } from "@grpc/grpc-js";
import {
  routedModelHeader,
  routedVersionHeader,
  servedByHeader,
  servedVersionHeader,
  tenantHeader,
} from "@inferencehub/contracts/headers";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { ModelInferRequest, ModelInferResponse } from "../../gen/inference/inference/grpc_service.js";
import { clip } from "./client-text.js";
import { invalidArgument } from "./errors.js";
import { buildFeeds, buildResponse, outputNames, type InferContext, type InferenceCore } from "./infer.js";
import type { Limiter } from "./limiter.js";
import type { NodeMetrics } from "./metrics.js";
import type { LoadedVersion, ModelRepository } from "./model-repository.js";
import type { ModelStatisticsStore } from "./statistics.js";

const CLOCK_SLACK_MS = 20;

export interface InferenceCoreOptions {
  /** Names the node in response headers. */
  name: string;
  repository: ModelRepository;
  limiter: Limiter;
  metrics: NodeMetrics;
  statistics: ModelStatisticsStore;
  /** See InferenceNodeOptions.versionFrom (server.ts). */
  versionFrom?: "header" | "body";
  /** Added to every inference. */
  inferDelayMs?: number;
  /** Whether the node is shutting down: then neither it nor any of its models is ready. */
  draining: () => boolean;
  /** Models reporting not ready while their unload waits out the drain delay. */
  unloading: ReadonlySet<string>;
}

function statusName(code: number): string {
  return status[code] ?? String(code);
}

/**
 * The gateway routes and authorizes on headers (x-inferencehub-model, set by the version cluster
 * that picked this node); a body naming another model must not be answered here, whatever the call.
 */
export function checkRoutedModel(call: { metadata: Metadata }, bodyModel: string): void {
  const routedModel = call.metadata.get(routedModelHeader)[0];
  if (typeof routedModel === "string" && routedModel !== "" && bodyModel !== routedModel) {
    throw invalidArgument(
      `the call was routed for model '${clip(routedModel)}' but its body names '${clip(bodyModel)}'; set inferencehub-model to the model in the body`,
    );
  }
}

/**
 * The version a model call is for. Behind the gateway, the version cluster that picked this node
 * names its version (unless the node reads only the body, as a stock server does). A body naming
 * another version was not routed on (ext-authz off, or a proxyless client): refused rather than
 * answered by a version the caller did not ask for.
 */
export function routedVersion(
  call: { metadata: Metadata },
  bodyVersion: string,
  versionFrom: "header" | "body" | undefined,
): string {
  const routed = versionFrom === "body" ? undefined : call.metadata.get(routedVersionHeader)[0];
  if (typeof routed !== "string" || routed === "") return bodyVersion;
  if (bodyVersion !== "" && bodyVersion !== routed) {
    throw invalidArgument(
      `model_version '${clip(bodyVersion)}' in the request is not version '${clip(routed)}', which the gateway routed the call to; pin the version with the inferencehub-model-version header, or leave model_version empty`,
    );
  }
  return routed;
}

export function createInferenceCore(options: InferenceCoreOptions): InferenceCore {
  const { repository, limiter, metrics, statistics, unloading } = options;

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

  /** One inference, for ModelInfer or one message of ModelStreamInfer: queued, run, counted. */
  const infer = async (
    call: InferContext,
    request: ModelInferRequest,
  ): Promise<{ loaded: LoadedVersion; response: ModelInferResponse }> => {
    checkRoutedModel(call, request.modelName);
    const { loaded, done } = repository.checkout(
      request.modelName,
      routedVersion(call, request.modelVersion, options.versionFrom),
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

  return {
    name: options.name,
    serverReady: () => !options.draining(),
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
      return !options.draining() && !unloading.has(name) && repository.isReady(name, version);
    },
    infer,
    responseHeaders,
  };
}
