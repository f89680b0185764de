/**
 * The rollout engine's driver: keeps the rollouts (in the store beside the config), ticks each
 * live one on a timer, gathers what decide() needs (readiness, health, every Envoy's metrics),
 * and carries its decision out as config edits through the admin core, one edit per step, with
 * base versions and conflicts handled as for any admin edit (a conflict is retried next tick).
 * It runs with no client connected: a CLI that started a rollout may be gone.
 *
 * Single writer: only when isLeader() says so does this replica tick, start or abort rollouts;
 * one that becomes leader reads the store again and resumes what is live there.
 */
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ClusterSample } from "@inferencehub/contracts/envoy-stats";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { Rollout, StartRolloutRequest } from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import type { AdminConfigStore, AdminCore, AdminRollouts } from "../admin/index.js";
import {
  decide,
  ENDED_STATES,
  fitWeights,
  isLive,
  LIVE_STATES,
  stepWeights,
  stepsProblem,
  type Decision,
  type RolloutState,
  type VersionHealth,
} from "./decide.js";
import { stepDelta, type ClusterSampler } from "./envoy-sampler.js";
import type { RolloutStore } from "./store.js";

export type VersionReady = (model: string, version: string) => { ready: boolean; detail: string };

export interface RolloutDriverOptions {
  core: Pick<AdminCore, "edit">;
  config: Pick<AdminConfigStore, "current" | "version">;
  store: RolloutStore;
  sample: ClusterSampler;
  /** The health prober's view of a version's nodes. */
  health: (model: string, version: string) => VersionHealth;
  /**
   * Whether a version can take traffic before the first step; for now "one of its nodes is
   * HEALTHY" (control-plane.ts). One injected function, so that placement can extend it.
   */
  versionReady: VersionReady;
  /** Every Envoy holds the envoy group's current snapshot. */
  envoysSynced: () => boolean;
  /** Only the leader drives rollouts (default: always this replica). */
  isLeader?: () => boolean;
  log: Logger;
  registry?: Registry;
  /** How often live rollouts are looked at (default 250 ms). */
  tickMs?: number;
  now?: () => number;
}

const MAX_EVENTS = 100;
const WHO = "rollout";

interface Runtime {
  startedAt: number;
  stepStartedAt: number;
  holdingSince: number | undefined;
  /** Each Envoy's counters when the step began; taken on the step's first tick. */
  baseline: Map<string, ClusterSample> | undefined;
  abortRequested: boolean;
  /** An end whose edit failed, retried on the next tick. */
  pendingEnd: { state: RolloutState; reason: string; kind: string } | undefined;
}

export class RolloutDriver implements AdminRollouts {
  readonly #o: RolloutDriverOptions;
  readonly #rollouts = new Map<string, Rollout>();
  readonly #runtime = new Map<string, Runtime>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** Ticks, starts and aborts run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #wasLeader = false;
  /** The store has been read (as leader): until then nothing is started, so nothing is overwritten. */
  #loaded = false;
  #stopped = false;
  readonly #metrics: { state: Gauge; percent: Gauge; actions: Counter } | undefined;

  constructor(options: RolloutDriverOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#metrics = options.registry
      ? {
          state: new Gauge({
            name: "inferencehub_rollout_state",
            help: "1 for the state each model's last rollout is in, 0 for the others",
            labelNames: ["model", "state"],
            registers: [options.registry],
          }),
          percent: new Gauge({
            name: "inferencehub_rollout_step_percent",
            help: "Percent of the model's traffic the rollout's step gives the new version (0 before the first)",
            labelNames: ["model"],
            registers: [options.registry],
          }),
          actions: new Counter({
            name: "inferencehub_rollout_actions_total",
            help: "What the rollout engine did: step, hold, rollback, complete, abort, fail",
            labelNames: ["model", "action"],
            registers: [options.registry],
          }),
        }
      : undefined;
  }

  /** Reads the store, resumes live rollouts (as leader), and starts ticking. */
  async open(): Promise<void> {
    await this.#serial(() => this.#takeOver());
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs ?? 250);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#queue.catch(() => undefined);
    await this.#o.store.close();
  }

  #leader(): boolean {
    return this.#o.isLeader?.() ?? true;
  }

  async #takeOver(): Promise<void> {
    this.#wasLeader = this.#leader();
    this.#loaded = false;
    if (!this.#wasLeader) return;
    let loaded: Rollout[];
    try {
      loaded = await this.#o.store.load();
    } catch (err) {
      // Retried on the next tick; the rollouts in the store wait, their weights as they are.
      this.#wasLeader = false;
      this.#o.log.error(
        { err, store: this.#o.store.location },
        "reading the rollouts' state failed; retrying (no rollout is driven or started until it is read)",
      );
      return;
    }
    this.#loaded = true;
    this.#rollouts.clear();
    this.#runtime.clear();
    for (const r of loaded) {
      this.#rollouts.set(r.model, r);
      if (!isLive(r)) {
        this.#gauge(r);
        continue;
      }
      const now = this.#now();
      // A resumed step runs its interval again: the metrics of the time before are not ours.
      this.#runtime.set(r.model, this.#freshRuntime(Date.parse(r.startedAt) || now, now));
      if (r.step > 0) r.stepStartedAt = new Date(now).toISOString();
      this.#event(
        r,
        "resume",
        `resumed by this control plane at step ${r.step}/${r.steps.length} (${r.state})`,
      );
      this.#o.log.info({ model: r.model, to: r.toVersion, step: r.step, state: r.state }, "rollout resumed");
      // The step's weights are in the config already; applying them again changes nothing then.
      if (r.step > 0) await this.#setWeights(r, r.weights).catch(() => undefined);
      await this.#save(r);
    }
  }

  #freshRuntime(startedAt: number, now: number): Runtime {
    return {
      startedAt,
      stepStartedAt: now,
      holdingSince: undefined,
      baseline: undefined,
      abortRequested: false,
      pendingEnd: undefined,
    };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #requireLeader(): void {
    if (!this.#leader())
      throw new GatewayError(
        status.UNAVAILABLE,
        "this control plane replica does not drive rollouts (it is not the leader); call the leader",
      );
    if (!this.#loaded)
      throw new GatewayError(
        status.UNAVAILABLE,
        `the rollouts' state (${this.#o.store.location}) has not been read yet; retry in a moment`,
      );
  }

  // ---- the admin API ----

  start(req: StartRolloutRequest, who: string): Promise<Rollout> {
    return this.#serial(async () => {
      this.#requireLeader();
      const running = this.#rollouts.get(req.model);
      if (running && isLive(running))
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `model '${req.model}' already has a rollout ${running.state}: to version ${running.toVersion}, started ${running.startedAt} by ${running.startedBy}; abort it first (hubctl rollout abort ${req.model})`,
        );
      const problem = stepsProblem(req.steps);
      if (problem)
        throw new GatewayError(status.INVALID_ARGUMENT, `steps ${problem}`, {
          violations: [{ field: "steps", message: problem }],
        });
      const model = this.#o.config.current?.models.find((m) => m.name === req.model);
      if (!model) throw new GatewayError(status.NOT_FOUND, `model '${req.model}' is not in the config`);
      if (!model.versions.some((v) => v.version === req.toVersion))
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `model '${req.model}' has no version '${req.toVersion}'; add it first (hubctl add-version)`,
        );
      const pin = (model as { pin?: string }).pin;
      if (pin)
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `model '${req.model}' is pinned to version '${pin}': its weights do not apply; unpin it first (hubctl unpin ${req.model})`,
        );
      if (model.versions.length < 2)
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          `model '${req.model}' has only version '${req.toVersion}': nothing to roll out from`,
        );
      const now = this.#now();
      const original = Object.fromEntries(model.versions.map((v) => [v.version, v.weight]));
      const r: Rollout = {
        model: req.model,
        toVersion: req.toVersion,
        steps: [...req.steps],
        intervalMs: req.intervalMs,
        maxErrorRate: req.maxErrorRate,
        maxP99Ms: req.maxP99Ms,
        minCalls: req.minCalls,
        removeOld: req.removeOld,
        readyTimeoutMs: req.readyTimeoutMs,
        maxHoldMs: req.maxHoldMs,
        state: "waiting-ready",
        step: 0,
        originalWeights: original,
        weights: { ...original },
        reason: "",
        startedAt: new Date(now).toISOString(),
        stepStartedAt: "",
        endedAt: "",
        startedBy: who,
        events: [],
      };
      this.#rollouts.set(r.model, r);
      this.#runtime.set(r.model, this.#freshRuntime(now, now));
      this.#event(r, "started", `started by ${who}: ${r.toVersion} through ${r.steps.join(",")}%`);
      this.#o.log.info(
        { model: r.model, to: r.toVersion, steps: r.steps, intervalMs: r.intervalMs, who },
        "rollout started",
      );
      this.#count(r, "start");
      this.#gauge(r);
      // The first look now: a version ready gets its first step before the answer.
      await this.#tickOne(r);
      await this.#save(r);
      return structuredClone(r);
    });
  }

  get(model: string): Rollout {
    const r = this.#rollouts.get(model);
    if (!r) throw new GatewayError(status.NOT_FOUND, `model '${model}' has had no rollout here`);
    return structuredClone(r);
  }

  list(): Rollout[] {
    return [...this.#rollouts.values()].map((r) => structuredClone(r));
  }

  abort(model: string, who: string): Promise<Rollout> {
    return this.#serial(async () => {
      this.#requireLeader();
      const r = this.#rollouts.get(model);
      if (!r || !isLive(r))
        throw new GatewayError(
          status.FAILED_PRECONDITION,
          r
            ? `the rollout of '${model}' has ended already (${r.state})`
            : `model '${model}' has no rollout to abort`,
        );
      const rt = this.#runtime.get(model) ?? this.#freshRuntime(this.#now(), this.#now());
      this.#runtime.set(model, rt);
      rt.abortRequested = true;
      this.#event(r, "abort", `abort asked by ${who}`);
      await this.#tickOne(r);
      if (isLive(r))
        throw new GatewayError(
          status.UNAVAILABLE,
          `the abort of '${model}' could not put the weights back yet (${r.reason}); the control plane retries it`,
        );
      return structuredClone(r);
    });
  }

  // ---- ticking ----

  /** One look at every live rollout (the timer calls it; tests may too). */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#serial(async () => {
      const leader = this.#leader();
      // Becoming leader (or a store not read yet): read it first; a failed read is retried next tick.
      if (leader && !this.#wasLeader) await this.#takeOver();
      else this.#wasLeader = leader;
      if (!leader || !this.#loaded) return;
      for (const r of this.#rollouts.values()) {
        if (!isLive(r)) continue;
        try {
          await this.#tickOne(r);
        } catch (err) {
          this.#o.log.error({ err, model: r.model }, "rollout tick failed; retried next tick");
        }
      }
    });
  }

  async #tickOne(r: Rollout): Promise<void> {
    const rt = this.#runtime.get(r.model);
    if (!rt) return;
    // Saved when the state, the step or the kind of reason changes (not every count in it).
    const key = () => JSON.stringify([r.state, r.step, reasonKind(r.reason)]);
    const before = key();
    const model = this.#o.config.current?.models.find((m) => m.name === r.model);
    if (!model?.versions.some((v) => v.version === r.toVersion)) {
      const gone = model
        ? `version '${r.toVersion}' was removed from the config`
        : "the model was removed from the config";
      this.#finish(r, rt, "failed", `${gone} during the rollout; the weights were left as they are`, "fail");
    } else if (rt.pendingEnd && !rt.abortRequested) {
      await this.#end(r, rt, rt.pendingEnd.state, rt.pendingEnd.reason, rt.pendingEnd.kind);
    } else {
      const decision = await this.#decide(r, rt);
      await this.#act(r, rt, decision);
    }
    if (key() !== before) await this.#save(r);
  }

  async #decide(r: Rollout, rt: Runtime): Promise<Decision> {
    const now = this.#now();
    const base = {
      rollout: r,
      now,
      startedAt: rt.startedAt,
      stepStartedAt: rt.stepStartedAt,
      holdingSince: rt.holdingSince,
      abortRequested: rt.abortRequested,
      synced: this.#o.envoysSynced(),
    };
    if (rt.abortRequested || r.state === "waiting-ready")
      return decide({
        ...base,
        ready: this.#o.versionReady(r.model, r.toVersion),
        health: { healthy: 0, unknown: 0, total: 0 },
        sample: undefined,
      });
    const samples = await this.#o.sample(`${r.model}~${r.toVersion}`);
    if (!rt.baseline) {
      // The step's first look: its counters start here.
      rt.baseline = new Map(samples.byEnvoy);
    } else {
      // An Envoy seen for the first time mid-step counts from here on too.
      for (const [k, s] of samples.byEnvoy)
        if (!rt.baseline.has(k) && samples.byEnvoy.size > 0) rt.baseline.set(k, s);
    }
    return decide({
      ...base,
      ready: { ready: true, detail: "" },
      health: this.#o.health(r.model, r.toVersion),
      sample: stepDelta(samples, rt.baseline),
    });
  }

  async #act(r: Rollout, rt: Runtime, d: Decision): Promise<void> {
    switch (d.action) {
      case "continue":
        return;
      case "wait":
        if (r.reason !== d.reason) r.reason = d.reason;
        return;
      case "hold":
        rt.holdingSince ??= this.#now();
        if (r.state !== "holding" || reasonKind(r.reason) !== reasonKind(d.reason)) {
          this.#event(r, "hold", d.reason);
          this.#o.log.warn(
            { model: r.model, to: r.toVersion, step: r.step, reason: d.reason },
            "rollout holds",
          );
          this.#count(r, "hold");
        }
        r.state = "holding";
        r.reason = d.reason;
        this.#gauge(r);
        return;
      case "step": {
        const percent = r.steps[d.step]!;
        const weights = stepWeights(r.originalWeights, r.toVersion, percent);
        const ok = await this.#edit(r, () => this.#setWeights(r, weights));
        if (!ok) return;
        if (r.state === "waiting-ready") this.#event(r, "ready", d.reason);
        r.step = d.step + 1;
        r.weights = this.#current(r) ?? weights;
        r.state = "running";
        r.reason = "";
        const now = this.#now();
        r.stepStartedAt = new Date(now).toISOString();
        Object.assign(rt, { stepStartedAt: now, holdingSince: undefined, baseline: undefined });
        const msg = `step ${d.step + 1}/${r.steps.length}: ${r.toVersion} at ${percent}% (${fmt(r.weights)})${
          d.step > 0 ? `; ${d.reason}` : ""
        }`;
        this.#event(r, "step", msg);
        this.#o.log.info(
          { model: r.model, to: r.toVersion, step: d.step, weights: r.weights },
          "rollout step",
        );
        this.#count(r, "step");
        this.#gauge(r);
        return;
      }
      case "complete": {
        if (r.removeOld) {
          const others = Object.keys(this.#current(r) ?? {}).filter((v) => v !== r.toVersion);
          for (const v of others) {
            const ok = await this.#edit(r, () =>
              this.#o.core.edit(
                { op: "removeVersion", model: r.model, version: v },
                this.#o.config.version,
                WHO,
              ),
            );
            if (!ok) return;
            this.#event(r, "remove", `removed version ${v} (remove_old)`);
          }
          r.weights = this.#current(r) ?? r.weights;
        }
        this.#finish(r, rt, "completed", d.reason, "complete");
        return;
      }
      case "fail":
        this.#finish(r, rt, "failed", d.reason, "fail");
        return;
      case "rollback":
        await this.#end(r, rt, "rolled-back", d.reason, "rollback");
        return;
      case "abort":
        if (r.state === "waiting-ready") {
          this.#finish(
            r,
            rt,
            "aborted",
            "aborted before the first step; the weights were not touched",
            "abort",
          );
          return;
        }
        await this.#end(
          r,
          rt,
          "aborted",
          "aborted: weights back to where they were before the rollout",
          "abort",
        );
        return;
    }
  }

  /** Puts the original weights back, then ends the rollout; a failed edit is retried next tick. */
  async #end(r: Rollout, rt: Runtime, state: RolloutState, reason: string, kind: string): Promise<void> {
    rt.pendingEnd = { state, reason, kind };
    const ok = await this.#edit(r, () => this.#setWeights(r, r.originalWeights));
    if (!ok) return;
    r.weights = this.#current(r) ?? r.originalWeights;
    this.#finish(r, rt, state, reason, kind);
  }

  #finish(r: Rollout, rt: Runtime, state: RolloutState, reason: string, kind: string): void {
    rt.pendingEnd = undefined;
    r.state = state;
    r.reason = reason;
    r.endedAt = new Date(this.#now()).toISOString();
    this.#event(r, kind, `${state}: ${reason} (${fmt(r.weights)})`);
    const level = state === "completed" ? "info" : "warn";
    this.#o.log[level](
      { model: r.model, to: r.toVersion, state, reason, weights: r.weights },
      `rollout ${state}`,
    );
    this.#count(r, kind);
    this.#gauge(r);
  }

  /**
   * Runs one edit. A conflict or an unreachable store is retried next tick (the reason says so);
   * an edit the config refuses (the version or model gone) fails the rollout.
   */
  async #edit(r: Rollout, run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run();
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retry =
        !(err instanceof GatewayError) ||
        err.code === status.ABORTED ||
        err.code === status.UNAVAILABLE ||
        err.code === status.INTERNAL;
      this.#o.log.warn({ err, model: r.model, retry }, "rollout edit failed");
      if (retry) {
        r.reason = `an edit failed (${message}); retrying`;
        return false;
      }
      this.#finish(r, this.#runtime.get(r.model)!, "failed", `an edit was refused: ${message}`, "fail");
      return false;
    }
  }

  async #setWeights(r: Rollout, weights: Record<string, number>): Promise<void> {
    const versions = Object.keys(this.#current(r) ?? weights);
    await this.#o.core.edit(
      { op: "setWeights", model: r.model, weights: fitWeights(weights, versions) },
      this.#o.config.version,
      WHO,
    );
  }

  /** The model's weights in the config now. */
  #current(r: Rollout): Record<string, number> | undefined {
    const m = this.#o.config.current?.models.find((x) => x.name === r.model);
    return m ? Object.fromEntries(m.versions.map((v) => [v.version, v.weight])) : undefined;
  }

  #event(r: Rollout, kind: string, message: string): void {
    r.events.push({ at: new Date(this.#now()).toISOString(), kind, message });
    if (r.events.length > MAX_EVENTS) r.events.splice(0, r.events.length - MAX_EVENTS);
  }

  async #save(r: Rollout): Promise<void> {
    try {
      await this.#o.store.save(r);
    } catch (err) {
      this.#o.log.error(
        { err, model: r.model, store: this.#o.store.location },
        "saving the rollout's state failed; it is saved again on its next change",
      );
    }
  }

  #count(r: Rollout, action: string): void {
    this.#metrics?.actions.inc({ model: r.model, action });
  }

  #gauge(r: Rollout): void {
    if (!this.#metrics) return;
    for (const s of [...LIVE_STATES, ...ENDED_STATES])
      this.#metrics.state.set({ model: r.model, state: s }, s === r.state ? 1 : 0);
    this.#metrics.percent.set({ model: r.model }, r.step > 0 ? (r.steps[r.step - 1] ?? 0) : 0);
  }
}

/** A reason without its numbers: "3 call(s) ... fewer than 10" and "4 call(s) ..." are one kind. */
const reasonKind = (reason: string) => reason.replace(/\d+(\.\d+)?/g, "#");

function fmt(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([v, w]) => `${v}=${w}`)
    .join(" ");
}
