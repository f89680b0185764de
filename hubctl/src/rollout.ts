/**
 * hubctl's side of a rollout: the control plane drives it (xds-server/src/rollout/); hubctl
 * starts it, shows it, follows its events and aborts it. Stopping hubctl never stops a rollout.
 */
import { ROLLOUT_ENDED_STATES, type AdminApiRollout } from "@inferencehub/contracts/admin-api";
import { Code, GatewayError } from "@inferencehub/contracts/errors";
import type { AdminApi } from "./api.js";

export function parseSteps(text: string): number[] {
  const steps = text.split(",").map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100))
    throw new Error(`--steps: '${text}' must be whole percents from 1 to 100, e.g. 5,25,50,100`);
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) throw new Error(`--steps: '${text}' must increase`);
  if (steps.at(-1) !== 100) throw new Error(`--steps: '${text}' must end at 100`);
  return steps;
}

export const rolloutEnded = (r: AdminApiRollout): boolean => ROLLOUT_ENDED_STATES.includes(r.state);

/** The exit status a rollout's outcome gives: 0 completed, 2 rolled back, aborted or failed. */
export const exitCodeOf = (r: AdminApiRollout): number => (r.state === "completed" ? 0 : 2);

export function fmtWeights(weights: Record<string, number> | undefined): string {
  return Object.entries(weights ?? {})
    .map(([v, w]) => `${v}=${w}`)
    .join(" ");
}

/** One line per rollout, for `hubctl rollout status`. */
export function rolloutRow(r: AdminApiRollout): string[] {
  const step = r.step ?? 0;
  return [
    r.model,
    r.toVersion,
    r.state,
    step > 0 ? `${step}/${r.steps.length} (${r.steps[step - 1]}%)` : `0/${r.steps.length}`,
    fmtWeights(r.weights),
    r.reason ?? "",
  ];
}

export interface WatchDeps {
  api: AdminApi;
  log: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** Set by Ctrl-C: stops watching, never the rollout. */
  interrupted: () => boolean;
}

/**
 * Prints each event of the model's rollout (those after `seen`) until it ends; resolves with the
 * last state read (which may still be live when interrupted).
 */
export async function watchRollout(model: string, deps: WatchDeps, seen = 0): Promise<AdminApiRollout> {
  let printed = seen;
  let startedAt: string | undefined;
  let unreachable = false;
  for (;;) {
    let r: AdminApiRollout;
    try {
      ({ rollout: r } = await deps.api.get<{ rollout: AdminApiRollout }>(
        `/v1/rollouts/${encodeURIComponent(model)}`,
      ));
    } catch (err) {
      // A control plane restarting (or a replica taking over) is no reason to stop watching.
      if (!(err instanceof GatewayError) || err.code !== Code.UNAVAILABLE || deps.interrupted()) throw err;
      if (!unreachable) deps.log(`(${err.message}; still watching)`);
      unreachable = true;
      await deps.sleep(500);
      continue;
    }
    unreachable = false;
    // Another rollout of the model replaced the one watched: start over with its events.
    if (startedAt !== undefined && r.startedAt !== startedAt) printed = 0;
    startedAt = r.startedAt;
    const events = r.events ?? [];
    for (const e of events.slice(printed)) deps.log(`${e.at} ${e.kind}: ${e.message}`);
    printed = events.length;
    if (rolloutEnded(r) || deps.interrupted()) return r;
    await deps.sleep(250);
  }
}
