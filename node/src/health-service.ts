/**
 * grpc.health.v1.Health for the node: Check and Watch, for service "" and
 * inference.GRPCInferenceService. SERVING until the node drains, then NOT_SERVING, so load
 * balancers move away before the port closes.
 */
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { inferenceService as inferenceServiceName } from "@inferencehub/contracts/protocol";
import { GatewayError } from "@inferencehub/contracts/errors";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "../../gen/inference/grpc/health/v1/health.js";
import { unaryWrapper } from "./grpc-unary.js";

export interface HealthServiceOptions {
  /** Names the node in error trailers. */
  name: string;
  log: Logger;
  /** Whether the node is shutting down. */
  draining: () => boolean;
}

export interface NodeHealth {
  /** The implementation, for Server.addService with HealthService. */
  service: HealthServer;
  /** Tells every open Watch the node is NOT_SERVING (once draining() says so). */
  reportNotServing(): void;
  /** Ends every open Watch. */
  endWatches(): void;
}

export function createHealthService(options: HealthServiceOptions): NodeHealth {
  const unary = unaryWrapper(options.name, options.log);
  const healthWatchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();

  const servingStatus = (service: string): ServingStatus => {
    if (service !== "" && service !== inferenceServiceName) return ServingStatus.SERVICE_UNKNOWN;
    return options.draining() ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  };

  return {
    service: {
      check: unary("Check", async (call) => {
        const s = servingStatus((call.request as HealthCheckRequest).service);
        if (s === ServingStatus.SERVICE_UNKNOWN) throw new GatewayError(status.NOT_FOUND, "unknown service");
        return { status: s };
      }),
      watch: (call) => {
        call.write({ status: servingStatus(call.request.service) });
        healthWatchers.add(call);
        call.on("cancelled", () => healthWatchers.delete(call));
      },
    },
    reportNotServing: () => {
      for (const w of healthWatchers) w.write({ status: ServingStatus.NOT_SERVING });
    },
    endWatches: () => {
      for (const w of healthWatchers) w.end();
    },
  };
}
