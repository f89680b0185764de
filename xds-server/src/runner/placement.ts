/**
 * The control plane's side of placed versions: the reconciler, and with several replicas on etcd
 * the election and the shared state that make every replica route alike. What the runner needs of
 * it: the config to translate (`effective`), who drives nodes and rollouts (`leader`), what
 * /status and GetFleet show, and whether a placed version is ready for a rollout's first step.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Config } from "@inferencehub/contracts/config";
import type { EtcdSecurity } from "@inferencehub/contracts/etcd-config";
import {
  createPlacedConfigMemo,
  createReconciler,
  createRepositoryClient,
  placedConfig,
  versionKey,
  type FleetStatus,
} from "../fleet/index.js";
import { EtcdCoordination } from "../source/index.js";

/** The etcd state key where the leader shares where each placed version is ready. */
const FLEET_READY = "fleet-ready";
/** How long start-up waits for the nodes' indexes before serving without them (then it follows). */
const FIRST_SYNC_MS = 3_000;

export interface PlacementOptions {
  log: Logger;
  registry: Registry;
  /** The nodes' operator token, for the repository calls. */
  token: string | undefined;
  /** Several replicas may share this store: elect one to drive the nodes. */
  etcd?: { endpoints: string[]; prefix?: string; security?: EtcdSecurity } | undefined;
  /** What is ready where changed: probe and publish `effective(config)` again. */
  onChange: () => void;
}

export interface Placement {
  /** The config as translated: each placed version's nodes where it is ready now. */
  effective(config: Config): Config;
  /** This replica drives the nodes and rollouts (always, alone; the elected one on etcd). */
  leader(): boolean;
  /** A new config: the reconciler reassigns at once, before the caller publishes. */
  update(config: Config): void;
  /** A node's health went down: read the nodes now. */
  nudge(): void;
  status(): FleetStatus;
  /** Ready for a rollout's first step: loaded on as many nodes as it asks for (undefined: not placed). */
  readiness(model: string, version: string): { ready: boolean; detail: string } | undefined;
  /**
   * Before the first snapshot is served: the leader's shared state (etcd), or the nodes' indexes
   * read once (alone), so a restart does not publish placed versions without their nodes.
   */
  start(current: () => Config | undefined): Promise<void>;
  stop(): Promise<void>;
}

export function createPlacement(options: PlacementOptions): Placement {
  const { log } = options;
  const repository = createRepositoryClient({ log: log.child({ component: "fleet" }) });
  const memo = createPlacedConfigMemo();
  const coordination = options.etcd
    ? new EtcdCoordination({
        ...options.etcd,
        log: log.child({ component: "leader" }),
        id: `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
      })
    : undefined;
  let leader = coordination === undefined;
  let shared: Record<string, string[]> = {};
  const fleet = createReconciler({
    repository,
    log: log.child({ component: "fleet" }),
    token: options.token,
    registry: options.registry,
    isLeader: () => leader,
    onChange: () => {
      if (leader && coordination)
        void coordination
          .publish(FLEET_READY, JSON.stringify(fleet.readyMap()))
          .catch((err: unknown) => log.error({ err }, "sharing the fleet's state in etcd failed"));
      options.onChange();
    },
  });
  const readyOf = (key: string): readonly string[] => (leader ? fleet.ready(key) : (shared[key] ?? []));

  const status = (): FleetStatus => {
    if (leader) return { ...(coordination ? { role: "leader" as const } : {}), ...fleet.status() };
    const own = fleet.status();
    return {
      role: "follower",
      versions: own.versions.map((v) => {
        const ready = shared[versionKey(v.model, v.version)] ?? [];
        return { ...v, assigned: ready, nodes: ready.map((node) => ({ node, state: "ready" as const })) };
      }),
      nodes: own.nodes,
    };
  };

  return {
    effective: (config) => placedConfig(config, readyOf, memo),
    leader: () => leader,
    update: (config) => fleet.update(config),
    nudge: () => fleet.nudge(),
    status,
    readiness(model, version) {
      const placed = status().versions.find((v) => v.model === model && v.version === version);
      if (!placed) return undefined;
      const ready = placed.nodes.filter((n) => n.state === "ready").length;
      const want = placed.replicas === "all" ? Math.max(1, placed.assigned.length) : placed.replicas;
      return ready >= want
        ? { ready: true, detail: `loaded on ${ready} node(s)` }
        : {
            ready: false,
            detail: `loaded on ${ready} of ${want} node(s)${placed.unplaced ? `: ${placed.unplaced}` : ""}`,
          };
    },
    async start(current) {
      if (!coordination) {
        await withinMs(fleet.sync(), FIRST_SYNC_MS);
        return;
      }
      await coordination.follow(FLEET_READY, (value) => {
        try {
          shared = value ? (JSON.parse(value) as Record<string, string[]>) : {};
        } catch {
          log.error({ value }, "the fleet state in etcd is not JSON; ignored");
          return;
        }
        if (!leader) options.onChange();
      });
      coordination.campaign((elected) => {
        leader = elected;
        if (elected) {
          // Start from what the last leader published; the reads of the nodes then correct it.
          fleet.seed(shared);
          const config = current();
          if (config) fleet.update(config);
          fleet.nudge();
        }
        options.onChange();
      });
    },
    async stop() {
      await fleet.stop();
      await coordination?.close();
      repository.close();
    },
  };
}

function withinMs(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
}
