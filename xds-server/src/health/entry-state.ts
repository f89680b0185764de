/**
 * The threshold state machine of one (node, model, version). Pure: the prober feeds it one
 * verdict per round.
 *
 *   UNKNOWN ──healthyThreshold successes──▶ HEALTHY ──unhealthyThreshold failures──▶ UNHEALTHY
 *   any ──node says NOT_SERVING or not ready (one round)──▶ DRAINING
 *   DRAINING ──healthyThreshold successes──▶ HEALTHY;  ──unhealthyThreshold failures──▶ UNHEALTHY
 *
 * Draining skips the threshold: the node is telling us it is going away, and the endpoint must
 * leave Envoy's rotation before the node closes its port.
 */
import type { HealthStatus } from "../ir/index.js";

export interface EntryState {
  status: HealthStatus;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

/** success: ready; failure: not ready, unreachable or timed out; draining: the node said so. */
export type EntryVerdict = "success" | "failure" | "draining";

export interface Thresholds {
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export const initialEntryState: EntryState = {
  status: "UNKNOWN",
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
};

export function nextEntryState(state: EntryState, verdict: EntryVerdict, t: Thresholds): EntryState {
  switch (verdict) {
    case "draining":
      // Both counters restart: leaving DRAINING takes a full healthyThreshold of successes, and
      // a node that then disappears counts its failures from zero before it turns UNHEALTHY.
      return { status: "DRAINING", consecutiveFailures: 0, consecutiveSuccesses: 0 };
    case "success": {
      const successes = state.consecutiveSuccesses + 1;
      return {
        status: successes >= t.healthyThreshold ? "HEALTHY" : state.status,
        consecutiveFailures: 0,
        consecutiveSuccesses: successes,
      };
    }
    case "failure": {
      const failures = state.consecutiveFailures + 1;
      return {
        status: failures >= t.unhealthyThreshold ? "UNHEALTHY" : state.status,
        consecutiveFailures: failures,
        consecutiveSuccesses: 0,
      };
    }
  }
}
