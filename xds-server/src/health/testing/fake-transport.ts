/**
 * Nodes that exist only in memory, set by the test. Answers come at once (as a microtask), except
 * from a hung node, which answers DEADLINE_EXCEEDED when the probe's timeout has passed on the
 * fake clock, as grpc-js does for a SIGSTOPped server.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import type { Clock } from "@inferencehub/contracts/clock";
import type { ConnectTarget, NodeConnection, ProbeResult, ProbeTransport, ServingStatus } from "../types.js";

export interface FakeNode {
  /** up: answers; down: UNAVAILABLE at once (kill -9, port closed); hung: times out (SIGSTOP). */
  mode: "up" | "down" | "hung";
  /** The Health/Check answer, or a gRPC status code to fail with (UNIMPLEMENTED: no health service). */
  health: ServingStatus | { code: number };
  serverReady: boolean | { code: number };
  /** `<model>/<version>` → ready; a version not listed answers NOT_FOUND. */
  models: Record<string, boolean>;
}

export interface ProbeCall {
  node: string;
  probe: "health_check" | "server_ready" | "model_ready";
  at: number;
  timeoutMs: number;
}

export interface FakeTransport extends ProbeTransport {
  /** Sets (part of) a node's behaviour; a node never set is down. */
  set(address: string, node: Partial<FakeNode>): void;
  calls: ProbeCall[];
  /** Connections opened and not closed, by address. */
  open(): string[];
  connects: ConnectTarget[];
}

export function createFakeTransport(options: { clock: Clock }): FakeTransport {
  const nodes = new Map<string, FakeNode>();
  const openConnections: string[] = [];
  const calls: ProbeCall[] = [];
  const connects: ConnectTarget[] = [];
  const get = (address: string): FakeNode =>
    nodes.get(address) ?? { mode: "down", health: "SERVING", serverReady: true, models: {} };

  return {
    calls,
    connects,
    set(address, node) {
      nodes.set(address, { ...get(address), ...node });
    },
    open: () => [...openConnections],
    connect(target): NodeConnection {
      connects.push(target);
      openConnections.push(target.address);
      let closed = false;
      const answer = <T>(
        probe: ProbeCall["probe"],
        timeoutMs: number,
        value: (n: FakeNode) => T | { code: number },
      ): Promise<ProbeResult<T>> => {
        calls.push({ node: target.node, probe, at: options.clock.now(), timeoutMs });
        const n = get(target.address);
        if (closed || n.mode === "down") {
          return Promise.resolve({
            ok: false,
            code: grpcStatus.UNAVAILABLE,
            message: "connect ECONNREFUSED",
          });
        }
        if (n.mode === "hung") {
          return new Promise((resolve) =>
            options.clock.setTimer(timeoutMs, () =>
              resolve({ ok: false, code: grpcStatus.DEADLINE_EXCEEDED, message: "Deadline exceeded" }),
            ),
          );
        }
        const v = value(n);
        return Promise.resolve(
          typeof v === "object" && v !== null && "code" in v
            ? { ok: false, code: v.code, message: "fake error" }
            : { ok: true, value: v as T },
        );
      };
      return {
        healthCheck: (timeoutMs) => answer<ServingStatus>("health_check", timeoutMs, (n) => n.health),
        serverReady: (timeoutMs) => answer<boolean>("server_ready", timeoutMs, (n) => n.serverReady),
        modelReady: (model, version, timeoutMs) =>
          answer<boolean>(
            "model_ready",
            timeoutMs,
            (n) => n.models[`${model}/${version}`] ?? { code: grpcStatus.NOT_FOUND },
          ),
        close() {
          if (closed) return;
          closed = true;
          openConnections.splice(openConnections.indexOf(target.address), 1);
        },
      };
    },
  };
}
