/**
 * Turns the answers of one probe round into a verdict per model version. Pure.
 *
 * Node level (Health/Check and ServerReady): NOT_SERVING or ready=false from either means the
 * node is draining, and that wins over everything else. A failed call (unreachable, timed out,
 * any error but "not implemented") means the node is down: every model version fails. A server
 * that does not implement one of the two (UNIMPLEMENTED, or NOT_FOUND for the health service)
 * gives no opinion, and the other probe and ModelReady decide.
 * Model level: ModelReady true is a success; false or an error fails that version only.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import type { EntryVerdict } from "./entry-state.js";
import type { ProbeResult, ServingStatus } from "./types.js";

export interface RoundAnswers {
  healthCheck: ProbeResult<ServingStatus>;
  serverReady: ProbeResult<boolean>;
  /** Keyed `<model>/<version>`. */
  models: ReadonlyMap<string, ProbeResult<boolean>>;
}

export interface RoundVerdict {
  /** Any node-level probe got an answer from the server (an error status counts). */
  reachable: boolean;
  /** Serving and ready (true), draining (false), no answer (null). */
  serving: boolean | null;
  /** The node-level problem, if any. */
  nodeError: string | null;
  models: Map<string, { verdict: EntryVerdict; error: string | null }>;
}

/**
 * A node-level probe the server does not implement: UNIMPLEMENTED (no such service or method, as
 * MLServer answers grpc.health.v1), or NOT_FOUND for the health service. Such an answer is no
 * opinion, not a failure: it decides nothing and is not counted as a failed probe.
 */
export function notImplemented(probe: "health_check" | "server_ready", r: ProbeResult<unknown>): boolean {
  if (r.ok) return false;
  return r.code === grpcStatus.UNIMPLEMENTED || (probe === "health_check" && r.code === grpcStatus.NOT_FOUND);
}

/** Codes that mean no server answered: the call never reached a handler. */
const noAnswer: ReadonlySet<number> = new Set([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED]);

/** Some server answered the probe (an error status counts): it reached a handler. */
export function answered(r: ProbeResult<unknown>): boolean {
  return r.ok || !noAnswer.has(r.code);
}

export function interpretRound(answers: RoundAnswers): RoundVerdict {
  const { healthCheck: hc, serverReady: sr } = answers;
  const reachable = [hc, sr].some(answered);

  const drainReasons = [
    hc.ok && hc.value === "NOT_SERVING" ? "health: NOT_SERVING" : null,
    sr.ok && !sr.value ? "ServerReady: false" : null,
  ].filter((r) => r !== null);
  if (drainReasons.length > 0) {
    return allModels(answers, {
      reachable,
      serving: false,
      verdict: "draining",
      error: drainReasons.join(", "),
    });
  }

  const problems: string[] = [];
  if (hc.ok && hc.value !== "SERVING") problems.push(`health: ${hc.value}`);
  if (!hc.ok && !notImplemented("health_check", hc)) problems.push(`health: ${describe(hc)}`);
  if (!sr.ok && !notImplemented("server_ready", sr)) problems.push(`ServerReady: ${describe(sr)}`);
  if (problems.length > 0) {
    return allModels(answers, { reachable, serving: null, verdict: "failure", error: problems.join(", ") });
  }

  const models = new Map<string, { verdict: EntryVerdict; error: string | null }>();
  for (const [key, r] of answers.models) {
    if (r.ok && r.value) models.set(key, { verdict: "success", error: null });
    else
      models.set(key, {
        verdict: "failure",
        error: r.ok ? "ModelReady: false" : `ModelReady: ${describe(r)}`,
      });
  }
  const serving = hc.ok || sr.ok ? true : null;
  return { reachable, serving, nodeError: null, models };
}

function allModels(
  answers: RoundAnswers,
  o: { reachable: boolean; serving: boolean | null; verdict: EntryVerdict; error: string },
): RoundVerdict {
  const models = new Map<string, { verdict: EntryVerdict; error: string | null }>();
  for (const key of answers.models.keys()) models.set(key, { verdict: o.verdict, error: o.error });
  return { reachable: o.reachable, serving: o.serving, nodeError: o.error, models };
}

/** `UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:9001`. */
export function describe(r: { code: number; message: string }): string {
  return `${statusName(r.code)}: ${r.message}`;
}

export function statusName(code: number): string {
  return (grpcStatus as unknown as Record<number, string>)[code] ?? `code ${code}`;
}
