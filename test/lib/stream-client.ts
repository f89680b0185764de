/** ModelStreamInfer for tests: send requests, await each answer in turn, and the stream's end. */
import type { Metadata } from "@grpc/grpc-js";
import { status, type StatusObject } from "@grpc/grpc-js";
import type {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  ModelStreamInferResponse,
} from "../../gen/inference/inference/grpc_service.js";
import { fullRequest, toMetadata } from "../../scripts/lib/infer-client.js";

export interface InferStream {
  send(request: Partial<ModelInferRequest>): void;
  /** The next answer; rejects if the stream ends first (with its status in the message). */
  next(): Promise<ModelStreamInferResponse>;
  /** Half-closes: no more requests. */
  end(): void;
  cancel(): void;
  /** The response headers (empty if the stream ended without any). */
  headers: Promise<Record<string, string>>;
  /** How the stream ended. */
  status: Promise<StatusObject>;
}

export function openStream(
  client: GRPCInferenceServiceClient,
  opts: { metadata?: Record<string, string>; deadlineMs?: number } = {},
): InferStream {
  const call = client.modelStreamInfer(toMetadata(opts.metadata), {
    deadline: Date.now() + (opts.deadlineMs ?? 20_000),
  });
  const received: ModelStreamInferResponse[] = [];
  const waiting: ((r: ModelStreamInferResponse) => void)[] = [];
  let ended: StatusObject | undefined;
  const statusPromise = new Promise<StatusObject>((resolve) =>
    call.on("status", (s: StatusObject) => {
      ended = s;
      resolve(s);
    }),
  );
  const headers = new Promise<Record<string, string>>((resolve) => {
    call.on("metadata", (md: Metadata) =>
      resolve(Object.fromEntries(Object.entries(md.getMap()).map(([k, v]) => [k, String(v)]))),
    );
    void statusPromise.then(() => resolve({}));
  });
  // The status carries any error; without a listener, 'error' would throw.
  call.on("error", () => undefined);
  call.on("data", (r: ModelStreamInferResponse) => {
    const w = waiting.shift();
    if (w) w(r);
    else received.push(r);
  });
  const endedError = (s: StatusObject) =>
    new Error(`the stream ended before the next answer: ${status[s.code]} ${s.details}`);
  return {
    send: (request) => call.write(fullRequest(request)),
    next: () => {
      const queued = received.shift();
      if (queued) return Promise.resolve(queued);
      if (ended) return Promise.reject(endedError(ended));
      return Promise.race([
        new Promise<ModelStreamInferResponse>((resolve) => waiting.push(resolve)),
        statusPromise.then((s) => {
          // Data delivered together with the status still counts.
          const late = received.shift();
          if (late) return late;
          throw endedError(s);
        }),
      ]);
    },
    end: () => call.end(),
    cancel: () => call.cancel(),
    headers,
    status: statusPromise,
  };
}
