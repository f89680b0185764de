/**
 * The production transport: one grpc-js channel per node, shared by the grpc.health.v1 client
 * and the Open Inference Protocol client, kept open between rounds.
 */
import {
  Channel,
  Metadata,
  credentials,
  status as grpcStatus,
  type CallOptions,
  type ChannelOptions,
  type ClientUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as WireServingStatus,
  HealthClient,
  type HealthCheckResponse,
} from "../../../gen/inference/grpc/health/v1/health.js";
import {
  GRPCInferenceServiceClient,
  type ModelReadyResponse,
  type ServerReadyResponse,
} from "../../../gen/inference/inference/grpc_service.js";
import type { ConnectTarget, NodeConnection, ProbeResult, ProbeTransport, ServingStatus } from "./types.js";

export interface GrpcProbeTransportOptions {
  /** Extra grpc-js channel options; they override the ones chosen here. */
  channelOptions?: ChannelOptions;
}

/**
 * Channel options, and why:
 * - `grpc.use_local_subchannel_pool`: grpc-js shares connections process-wide by address and
 *   options; a private pool keeps the prober's connection state (and backoff) its own, so no
 *   other client in the process can make a dead node look alive or the reverse.
 * - Reconnect backoff capped at the probe interval: after a failed connect grpc-js stays in
 *   TRANSIENT_FAILURE for the backoff (1 s, ×1.6 per attempt, up to 120 s by default) and fails
 *   every call at once without trying to connect. After a long outage a restarted node would stay
 *   UNHEALTHY for up to two minutes. With the cap, a restarted node is seen within about two
 *   intervals; connect attempts still happen at most about once per interval.
 * - No keepalive: a hung node (SIGSTOP) keeps its TCP connection open, and the probe deadline
 *   already turns it UNHEALTHY; keepalive would only add reconnects against a stopped process.
 */
function channelOptionsFor(target: ConnectTarget, extra: ChannelOptions | undefined): ChannelOptions {
  return {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.initial_reconnect_backoff_ms": Math.min(1_000, target.intervalMs),
    "grpc.max_reconnect_backoff_ms": target.intervalMs,
    ...extra,
  };
}

const servingStatuses: Record<number, ServingStatus> = {
  [WireServingStatus.UNKNOWN]: "UNKNOWN",
  [WireServingStatus.SERVING]: "SERVING",
  [WireServingStatus.NOT_SERVING]: "NOT_SERVING",
  [WireServingStatus.SERVICE_UNKNOWN]: "SERVICE_UNKNOWN",
};

type UnaryInvoker<Res> = (
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** One unary call with a deadline; resolves with the answer or the status, never rejects. */
function unary<Res, T>(
  invoke: UnaryInvoker<Res>,
  timeoutMs: number,
  map: (res: Res) => T,
): Promise<ProbeResult<T>> {
  return new Promise((resolve) => {
    try {
      invoke(new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        resolve(err ? { ok: false, code: err.code, message: err.details } : { ok: true, value: map(res) }),
      );
    } catch (err) {
      // grpc-js throws synchronously for a call on a closed channel.
      resolve({
        ok: false,
        code: grpcStatus.UNAVAILABLE,
        message: err instanceof Error ? err.message : String(err),
      });
    }
  });
}

export function createGrpcProbeTransport(options: GrpcProbeTransportOptions = {}): ProbeTransport {
  return {
    connect(target): NodeConnection {
      const creds = credentials.createInsecure();
      const channel = new Channel(target.address, creds, channelOptionsFor(target, options.channelOptions));
      const health = new HealthClient(target.address, creds, { channelOverride: channel });
      const inference = new GRPCInferenceServiceClient(target.address, creds, { channelOverride: channel });
      return {
        healthCheck: (timeoutMs) =>
          unary<HealthCheckResponse, ServingStatus>(
            (md, opts, cb) => health.check({ service: "" }, md, opts, cb),
            timeoutMs,
            (res) => servingStatuses[res.status] ?? "UNKNOWN",
          ),
        serverReady: (timeoutMs) =>
          unary<ServerReadyResponse, boolean>(
            (md, opts, cb) => inference.serverReady({}, md, opts, cb),
            timeoutMs,
            (res) => res.ready,
          ),
        modelReady: (model, version, timeoutMs) =>
          unary<ModelReadyResponse, boolean>(
            (md, opts, cb) => inference.modelReady({ name: model, version }, md, opts, cb),
            timeoutMs,
            (res) => res.ready,
          ),
        close: () => channel.close(),
      };
    },
  };
}
