/**
 * The reconciler: makes the nodes hold what the config's placed versions ask for, through the
 * nodes' repository API, and tells the control plane where each one is ready.
 *
 * One entry per (node, model, version) it manages, in one of these states:
 *   loading    RepositoryModelLoad sent (or about to be); not routed
 *   ready      ModelReady said true after the load: routed (placedConfig puts the node in)
 *   failed     the load failed; retried after a backoff that doubles per failure; not routed
 *   draining   no longer wanted there: out of routing, still loaded until `fleet.drain` passes
 *   unloading  the unload was sent
 * Every change of what is routed is published before anything is unloaded, and a node is routed
 * only after its load was confirmed: make-before-break both ways. The nodes' own indexes are
 * read every `fleet.syncInterval`, so a node that restarted, lost a model or died is seen, and a
 * control plane that restarts adopts what is already loaded instead of loading it again.
 */
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Config, FleetSettings, NodeConfig } from "@inferencehub/contracts/config";
import type { RepositoryClient, RepositoryIndex, RepositoryNode } from "./repository-client.js";
import { status as grpcStatus } from "@grpc/grpc-js";
import { freeSlots } from "./capacity.js";
import { RepositoryError } from "./repository-error.js";
import {
  assign,
  eligibleNodes,
  placedVersions,
  versionKey,
  type NodeFacts,
  type PlacedVersion,
} from "./placement.js";

export type PlacementState = "loading" | "ready" | "failed" | "draining" | "unloading";

interface Entry {
  node: string;
  model: string;
  version: string;
  serverVersion: string;
  state: PlacementState;
  /** When it entered its state (ms, the reconciler's clock). */
  since: number;
  /** draining: when it may be unloaded. */
  drainUntil?: number;
  /** Set while a call on its (node, model) runs. */
  busy?: boolean;
}

interface Failure {
  count: number;
  retryAt: number;
  reason: string;
}

interface Observation {
  alive: boolean | undefined;
  /** Consecutive index reads that failed. */
  misses: number;
  readAt: number;
  index?: RepositoryIndex;
  error?: string;
}

/** What `hubctl models`, /status and the admin API show of the fleet. */
export interface FleetStatus {
  /** With several control planes on etcd: whether this one drives the nodes or routes by what the leader shares. */
  role?: "leader" | "follower";
  versions: {
    model: string;
    version: string;
    replicas: number | "all";
    /** The nodes chosen for it now. */
    assigned: string[];
    /** Why fewer nodes than its replicas were chosen, when they were. */
    unplaced?: string;
    nodes: {
      node: string;
      state: PlacementState | "waiting";
      since?: string;
      reason?: string;
      retryAt?: string;
    }[];
  }[];
  nodes: {
    node: string;
    /** Its repository answered the last read; undefined before the first. */
    reachable: boolean | undefined;
    error?: string;
    /** Model versions loaded or loading, and the most it takes, as the node reports them. */
    capacity?: { models: number; maxModels?: number; memoryBytes?: number };
    /** `<model>/<version>` READY in its index. */
    loaded: string[];
  }[];
}

export interface ReconcilerOptions {
  repository: RepositoryClient;
  log: Logger;
  /** The operator token the reference node wants on repository calls. */
  token?: string | undefined;
  registry?: Registry;
  /** Called after what is ready where changed: the control plane publishes placedConfig then. */
  onChange: () => void;
  /** Only the leader acts (several control planes on one etcd store); default: always. */
  isLeader?: () => boolean;
  now?: () => number;
}

export interface Reconciler {
  /** A new config: reassigns at once (so routing drops what is no longer wanted), then acts. */
  update(config: Config): void;
  /** The nodes where a placed version is ready now. */
  ready(key: string): readonly string[];
  /** Every placed version's ready nodes: what a leader shares with the other replicas. */
  readyMap(): Record<string, string[]>;
  /**
   * Takes ready versions from elsewhere as its own (a replica that just became leader: what the
   * last one published), so routing holds while it reads the nodes; the reads then correct it.
   */
  seed(ready: Readonly<Record<string, readonly string[]>>): void;
  /** Reads the nodes' indexes again now (a node's health changed) and acts on what they say. */
  nudge(): void;
  /** Reads every node's index and acts once, now: at start, so the first routing already has what is loaded. */
  sync(): Promise<void>;
  status(): FleetStatus;
  /** Resolves once no call is running and nothing is due before `fleet.syncInterval`. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A node that missed this many index reads in a row counts as down: its versions move. */
const MISSES_DOWN = 2;

const entryKey = (node: string, model: string, version: string) => `${node}\u0000${model}\u0000${version}`;
const opKey = (node: string, model: string) => `${node}\u0000${model}`;

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { repository, log } = options;
  const now = options.now ?? Date.now;
  const isLeader = options.isLeader ?? (() => true);
  const metrics = fleetMetrics(options.registry);
  const entries = new Map<string, Entry>();
  const failures = new Map<string, Failure>();
  const observed = new Map<string, Observation>();
  /** (node, model, version) a server kept after being asked to drop it (MLServer loads every version). */
  const keptByServer = new Set<string>();
  const busy = new Set<string>();
  /**
   * Models that had a placed version while this process ran: a node's versions of them that
   * nothing wants are unloaded, even once the model has left the config (its loads were ours).
   */
  const everPlaced = new Set<string>();
  /** When the last load or unload on each node ended: an index read begun before it is stale. */
  const lastOpAt = new Map<string, number>();
  let assigned = new Map<string, string[]>();
  let config: Config | undefined;
  let placed: PlacedVersion[] = [];
  let lastReady = "";
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let forceRead = false;
  let stopped = false;
  const idle: (() => void)[] = [];

  const fleet = (): FleetSettings => config!.fleet;
  const nodeOf = (name: string): NodeConfig | undefined => config?.nodes.find((n) => n.name === name);
  const target = (node: NodeConfig): RepositoryNode => ({
    name: node.name,
    address: node.address,
    token: options.token,
  });

  const facts = (node: string): NodeFacts => {
    const obs = observed.get(node);
    const loaded =
      obs?.index?.versions.filter((v) => v.state === "READY" || v.state === "LOADING").length ?? 0;
    const capacity = obs?.index?.capacity;
    return {
      alive: obs?.alive,
      load: capacity?.models ?? loaded,
      freeSlots: capacity ? freeSlots(capacity) : Infinity,
    };
  };
  const failing = (node: string, key: string) => {
    const f = failures.get(`${node}\u0000${key}`);
    return f !== undefined && f.retryAt > now();
  };
  const readyOnNode = (node: string, model: string, serverVersion: string) =>
    observed
      .get(node)
      ?.index?.versions.some(
        (v) => v.model === model && v.version === serverVersion && v.state === "READY",
      ) ?? false;
  /** Versions listed by hand on this node (`nodes:`): never touched. */
  const explicitVersions = (node: string, model: string): string[] =>
    config?.models
      .find((m) => m.name === model)
      ?.versions.filter((v) => !v.placement && v.nodes.includes(node))
      .map((v) => v.serverVersion) ?? [];

  const setState = (e: Entry, state: PlacementState) => {
    e.state = state;
    e.since = now();
  };

  /** The assignment pass: state changes that need no call, and the calls to make. */
  const step = (): void => {
    if (!config) return;
    const t = now();
    const preference = new Map<string, string[]>();
    for (const p of placed) {
      const mine = [...entries.values()].filter((e) => versionKey(e.model, e.version) === p.key);
      const rank = (s: PlacementState) => (s === "ready" ? 0 : s === "loading" ? 1 : 2);
      const ordered = mine
        .filter((e) => e.state !== "draining" && e.state !== "unloading")
        .sort((a, b) => rank(a.state) - rank(b.state))
        .map((e) => e.node);
      for (const n of assigned.get(p.key) ?? []) if (!ordered.includes(n)) ordered.push(n);
      // Already loaded there (a control plane that restarted): keep it there rather than load it elsewhere.
      for (const n of config.nodes)
        if (!ordered.includes(n.name) && readyOnNode(n.name, p.model, p.serverVersion)) ordered.push(n.name);
      preference.set(p.key, ordered);
    }
    assigned = assign({ config, current: preference, facts, excluded: failing });
    const wanted = new Set<string>();
    for (const p of placed) {
      for (const node of assigned.get(p.key) ?? []) {
        const k = entryKey(node, p.model, p.version);
        wanted.add(k);
        const e = entries.get(k);
        if (!e) {
          // Not read yet (this control plane just started, or the node just joined): its first
          // index read, due at once, says whether to adopt the version or load it.
          if (!observed.has(node)) continue;
          const adopt = readyOnNode(node, p.model, p.serverVersion);
          if (!adopt && failing(node, p.key)) continue;
          entries.set(k, {
            node,
            model: p.model,
            version: p.version,
            serverVersion: p.serverVersion,
            state: adopt ? "ready" : "loading",
            since: t,
          });
          if (adopt)
            log.info({ node, model: p.model, version: p.version }, "adopted: already loaded on the node");
          continue;
        }
        e.serverVersion = p.serverVersion;
        if (e.state === "draining") {
          setState(e, "ready");
          delete e.drainUntil;
        } else if (e.state === "failed" && !failing(node, p.key)) {
          setState(e, "loading");
        } else if (e.state === "ready" && !e.busy) {
          const obs = observed.get(node);
          if (obs?.alive && obs.readAt > e.since && !readyOnNode(node, p.model, p.serverVersion)) {
            log.warn(
              { node, model: p.model, version: p.version },
              "a ready version is no longer READY on the node: out of routing, loading it again",
            );
            setState(e, "loading");
          }
        }
      }
    }
    for (const [k, e] of entries) {
      if (wanted.has(k) || e.busy) continue;
      // A node gone from the config or down cannot be called; what it still holds is unloaded
      // when it is back (the leftover rule below).
      if (!nodeOf(e.node) || observed.get(e.node)?.alive === false) entries.delete(k);
      else if (e.state === "ready") {
        setState(e, "draining");
        e.drainUntil = t + fleet().drainMs;
        log.info(
          { node: e.node, model: e.model, version: e.version, drainMs: fleet().drainMs },
          "no longer wanted on the node: out of routing, unloading after the drain",
        );
      } else if (e.state === "loading" || e.state === "failed") entries.delete(k);
    }
    // Versions of placed models a node holds that nothing wants there: a control plane that
    // restarted, a replica count that went down while the node was away.
    const managed = everPlaced;
    for (const [node, obs] of observed) {
      if (!obs.alive || !obs.index || !nodeOf(node)) continue;
      for (const v of obs.index.versions) {
        if (v.state !== "READY" || !managed.has(v.model)) continue;
        const p = placed.find((x) => x.model === v.model && x.serverVersion === v.version);
        const version = p?.version ?? v.version;
        const k = entryKey(node, v.model, version);
        if (entries.has(k) || keptByServer.has(k) || explicitVersions(node, v.model).includes(v.version))
          continue;
        if (p && assigned.get(p.key)?.includes(node)) continue;
        entries.set(k, {
          node,
          model: v.model,
          version,
          serverVersion: v.version,
          state: "draining",
          since: t,
          drainUntil: t + fleet().drainMs,
        });
        log.info({ node, model: v.model, version }, "loaded on the node but not wanted there: unloading");
      }
    }
    for (const key of [...new Set([...entries.values()].map((e) => opKey(e.node, e.model)))]) act(key);
    publishIfChanged();
  };

  /** Starts the one call a (node, model) needs now, if any and none is running. */
  const act = (key: string): void => {
    if (busy.has(key)) return;
    const mine = [...entries.values()].filter((e) => opKey(e.node, e.model) === key);
    const [first] = mine;
    const node = first && nodeOf(first.node);
    if (!first || !node) return;
    if (observed.get(node.name)?.alive === false) return;
    const t = now();
    const toLoad = mine.filter((e) => e.state === "loading");
    const due = mine.filter((e) => e.state === "draining" && (e.drainUntil ?? 0) <= t);
    if (toLoad.length === 0 && due.length === 0) return;
    const keep = [
      ...new Set([
        ...mine.filter((e) => !due.includes(e) && e.state !== "failed").map((e) => e.serverVersion),
        ...explicitVersions(node.name, first.model),
      ]),
    ];
    busy.add(key);
    for (const e of [...toLoad, ...due]) e.busy = true;
    for (const e of due) setState(e, "unloading");
    const run = async () => {
      const started = now();
      // "" is the server's default version, which no version policy names: let the server choose.
      const versions = keep.includes("") ? undefined : keep;
      try {
        if (keep.length === 0) {
          await repository.unload(target(node), first.model);
          metrics.operations.inc({ operation: "unload", result: "ok" });
        } else {
          await repository.load(target(node), first.model, versions, { timeoutMs: fleet().loadTimeoutMs });
          metrics.operations.inc({ operation: "load", result: "ok" });
          if (toLoad.length > 0) metrics.loadSeconds.observe((now() - started) / 1000);
        }
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        metrics.operations.inc({ operation: keep.length === 0 ? "unload" : "load", result: "error" });
        // The node holds no such model any more (it restarted, or someone unloaded it): done.
        if (keep.length === 0 && err instanceof RepositoryError && err.code === grpcStatus.NOT_FOUND) {
          for (const e of due) entries.delete(entryKey(e.node, e.model, e.version));
          return;
        }
        for (const e of toLoad) fail(e, reason);
        for (const e of due) {
          // Try the unload again after a backoff; the version stays out of routing meanwhile.
          setState(e, "draining");
          e.drainUntil = now() + backoff(fleet(), 1);
        }
        if (due.length > 0)
          log.warn({ node: node.name, model: first.model, err: reason }, "unload failed: retrying");
        return;
      }
      for (const e of due) {
        entries.delete(entryKey(e.node, e.model, e.version));
        if (keep.length > 0) keptByServer.add(entryKey(e.node, e.model, e.version));
        log.info({ node: e.node, model: e.model, version: e.version }, "unloaded");
      }
      for (const e of toLoad) {
        let ready = false;
        let reason = "the load returned but ModelReady is false";
        try {
          ready = await repository.modelReady(target(node), e.model, e.serverVersion);
        } catch (err) {
          reason = err instanceof Error ? err.message : String(err);
        }
        if (!ready) {
          fail(e, reason);
          continue;
        }
        setState(e, "ready");
        failures.delete(`${e.node}\u0000${versionKey(e.model, e.version)}`);
        keptByServer.delete(entryKey(e.node, e.model, e.version));
        log.info(
          { node: e.node, model: e.model, version: e.version, loadMs: now() - started },
          "loaded and ready: routing to it",
        );
      }
    };
    void run().finally(() => {
      busy.delete(key);
      for (const e of [...toLoad, ...due]) delete e.busy;
      // A load confirmed is routed now, not after the next read of the node.
      publishIfChanged();
      // Observe again before the next decision: the server may hold more or less than asked, and
      // what the last read said of this model is stale (a version it listed READY may be gone:
      // adopting it would route calls to a node without it).
      lastOpAt.set(node.name, now());
      const obs = observed.get(node.name);
      if (obs) {
        obs.readAt = 0;
        if (obs.index)
          obs.index = { ...obs.index, versions: obs.index.versions.filter((v) => v.model !== first.model) };
      }
      kick();
    });
  };

  /** What keeps a count of replicas from being met: nothing to say when it is. */
  const unplaced = (p: PlacedVersion): { unplaced?: string } => {
    const want = p.placement.replicas;
    const have = assigned.get(p.key)?.length ?? 0;
    if (want === "all" || have >= want || !config) return {};
    const eligible = eligibleNodes(config.nodes, p.placement);
    const up = eligible.filter((n) => facts(n.name).alive === true);
    const room = up.filter((n) => facts(n.name).freeSlots >= 1);
    const why =
      eligible.length === 0
        ? "no node matches its pools and labels"
        : up.length === 0
          ? `none of the ${eligible.length} matching node(s) answers its repository`
          : room.length === 0
            ? `the ${up.length} matching node(s) up are full (their --max-models)`
            : "the matching nodes with room are waiting out a failed load's backoff, or hold it already";
    return { unplaced: `${want - have} of ${want} replica(s) have no node: ${why}` };
  };

  const fail = (e: Entry, reason: string) => {
    const k = `${e.node}\u0000${versionKey(e.model, e.version)}`;
    const count = (failures.get(k)?.count ?? 0) + 1;
    const retryAt = now() + backoff(fleet(), count);
    failures.set(k, { count, retryAt, reason });
    setState(e, "failed");
    log.warn(
      {
        node: e.node,
        model: e.model,
        version: e.version,
        failures: count,
        retryInMs: retryAt - now(),
        err: reason,
      },
      "load failed: not routed there; retrying after a backoff",
    );
  };

  let quiet = false;
  const publishIfChanged = () => {
    const signature = JSON.stringify(
      [...entries.values()]
        .filter((e) => e.state === "ready")
        .map((e) => entryKey(e.node, e.model, e.version))
        .sort(),
    );
    recordMetrics();
    if (signature === lastReady) return;
    lastReady = signature;
    if (!quiet) options.onChange();
  };

  const recordMetrics = () => {
    metrics.placements.reset();
    for (const e of entries.values())
      metrics.placements.inc({ model: e.model, version: e.version, state: e.state });
  };

  /** Reads the index of every node due for it (all of them when forced), in parallel. */
  const observe = async (): Promise<void> => {
    // Nothing placed and nothing left to unload: the nodes' repositories are none of its business.
    if (!config || (everPlaced.size === 0 && entries.size === 0)) return;
    const t = now();
    const force = forceRead;
    forceRead = false;
    const due = config.nodes.filter(
      (n) =>
        n.protocol === "grpc" && (force || t - (observed.get(n.name)?.readAt ?? 0) >= fleet().syncIntervalMs),
    );
    await Promise.all(
      due.map(async (node) => {
        const before = observed.get(node.name);
        const started = now();
        try {
          const index = await repository.index(target(node));
          if ((lastOpAt.get(node.name) ?? -1) >= started) {
            // A load or unload ended while this read was on its way: it may predate it. Read again.
            const latest = observed.get(node.name);
            if (latest) latest.readAt = 0;
            return;
          }
          observed.set(node.name, { alive: true, misses: 0, readAt: now(), index });
          if (before?.alive === false) log.info({ node: node.name }, "node's repository answers again");
        } catch (err) {
          const misses = (before?.misses ?? 0) + 1;
          const error = err instanceof Error ? err.message : String(err);
          const alive = misses >= MISSES_DOWN ? false : before?.alive;
          observed.set(node.name, {
            alive,
            misses,
            readAt: now(),
            ...(before?.index ? { index: before.index } : {}),
            error,
          });
          if (alive === false && before?.alive !== false)
            log.warn({ node: node.name, err: error }, "node's repository does not answer: its versions move");
        }
      }),
    );
    for (const name of observed.keys()) if (!nodeOf(name)) observed.delete(name);
  };

  const pass = async (): Promise<void> => {
    if (!config || stopped || !isLeader()) return;
    await observe();
    if (stopped) return;
    step();
  };

  const kick = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = undefined;
    running = pass()
      .catch((err: unknown) => log.error({ err }, "reconcile pass failed"))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
          return;
        }
        schedule();
      });
  };

  /** The next pass: the next index read, drain end or retry, whichever comes first. */
  const schedule = (): void => {
    if (stopped || !config) return;
    const t = now();
    let next = t + fleet().syncIntervalMs;
    for (const e of entries.values())
      if (e.state === "draining" && e.drainUntil !== undefined) next = Math.min(next, e.drainUntil);
    for (const f of failures.values()) if (f.retryAt > t) next = Math.min(next, f.retryAt);
    if (busy.size === 0 && [...entries.values()].every((e) => e.state === "ready" || e.state === "failed")) {
      for (const resolve of idle.splice(0)) resolve();
    }
    timer = setTimeout(kick, Math.max(10, next - t));
    timer.unref();
  };

  return {
    update(next) {
      config = next;
      placed = placedVersions(next);
      for (const p of placed) everPlaced.add(p.model);
      if (!isLeader()) return;
      // Synchronous, before the caller publishes: a version no longer wanted somewhere leaves
      // routing in this very publish (the caller's, so onChange is not called for it).
      quiet = true;
      try {
        step();
      } finally {
        quiet = false;
      }
      kick();
    },
    ready(key) {
      const out: string[] = [];
      for (const e of entries.values())
        if (e.state === "ready" && versionKey(e.model, e.version) === key) out.push(e.node);
      return out;
    },
    readyMap() {
      const out: Record<string, string[]> = {};
      for (const e of entries.values()) {
        if (e.state !== "ready") continue;
        (out[versionKey(e.model, e.version)] ??= []).push(e.node);
      }
      for (const nodes of Object.values(out)) nodes.sort();
      return out;
    },
    seed(ready) {
      const t = now();
      for (const p of placed) {
        for (const node of ready[p.key] ?? []) {
          const k = entryKey(node, p.model, p.version);
          if (entries.has(k)) continue;
          entries.set(k, {
            node,
            model: p.model,
            version: p.version,
            serverVersion: p.serverVersion,
            state: "ready",
            since: t,
          });
          const current = assigned.get(p.key) ?? [];
          if (!current.includes(node)) assigned.set(p.key, [...current, node]);
        }
      }
      quiet = true;
      try {
        publishIfChanged();
      } finally {
        quiet = false;
      }
    },
    nudge() {
      forceRead = true;
      kick();
    },
    async sync() {
      forceRead = true;
      kick();
      while (running) await running;
    },
    status() {
      const t = now();
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        versions: placed.map((p) => {
          const nodes = new Set([...(assigned.get(p.key) ?? [])]);
          for (const e of entries.values()) if (versionKey(e.model, e.version) === p.key) nodes.add(e.node);
          return {
            model: p.model,
            version: p.version,
            replicas: p.placement.replicas,
            assigned: assigned.get(p.key) ?? [],
            ...unplaced(p),
            nodes: [...nodes].map((node) => {
              const e = entries.get(entryKey(node, p.model, p.version));
              const f = failures.get(`${node}\u0000${p.key}`);
              return {
                node,
                state: e?.state ?? "waiting",
                ...(e ? { since: iso(e.since) } : {}),
                ...(f ? { reason: f.reason } : {}),
                ...(f && f.retryAt > t ? { retryAt: iso(f.retryAt) } : {}),
              };
            }),
          };
        }),
        nodes: (config?.nodes ?? []).map((n) => {
          const obs = observed.get(n.name);
          const cap = obs?.index?.capacity;
          return {
            node: n.name,
            reachable: obs?.alive,
            ...(obs?.error && obs.alive !== true ? { error: obs.error } : {}),
            ...(cap
              ? {
                  capacity: {
                    models: cap.models,
                    ...(cap.maxModels !== undefined ? { maxModels: cap.maxModels } : {}),
                    ...(cap.memoryBytes !== undefined ? { memoryBytes: cap.memoryBytes } : {}),
                  },
                }
              : {}),
            loaded: (obs?.index?.versions ?? [])
              .filter((v) => v.state === "READY")
              .map((v) => versionKey(v.model, v.version)),
          };
        }),
      };
    },
    settled() {
      return new Promise((resolve) => idle.push(resolve));
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      for (const resolve of idle.splice(0)) resolve();
    },
  };
}

/** The wait before retry `count` (1 = the first): doubling from retryBackoff, capped. */
export function backoff(fleet: FleetSettings, count: number): number {
  return Math.min(fleet.maxRetryBackoffMs, fleet.retryBackoffMs * 2 ** Math.min(30, count - 1));
}

function fleetMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    placements: new Gauge({
      name: "inferencehub_fleet_placements",
      help: "Placed model versions per state (loading, ready, failed, draining, unloading), counted in nodes",
      labelNames: ["model", "version", "state"] as const,
      registers,
    }),
    operations: new Counter({
      name: "inferencehub_fleet_operations_total",
      help: "Repository calls the reconciler made, by operation (load, unload) and result (ok, error)",
      labelNames: ["operation", "result"] as const,
      registers,
    }),
    loadSeconds: new Histogram({
      name: "inferencehub_fleet_load_seconds",
      help: "How long RepositoryModelLoad took for loads that brought a version up",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
  };
}
