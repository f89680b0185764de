/**
 * The running control plane: config file → IR → resources → snapshots → cache → ADS, with the
 * admin port beside it. Stages stay apart; this file only wires them.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { formatErrors, parseConfig, type Config, type RawConfig } from "@inferencehub/contracts/config";
import type { EtcdSecurity } from "@inferencehub/contracts/etcd-config";
import type { Rollout } from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { AggregatedDiscoveryServiceService } from "../../../gen/envoy/envoy/service/discovery/v3/ads.js";
import { AdminServiceService } from "../../../gen/inference/inferencehub/admin/v1/admin.js";
import { GRPCInferenceServiceService } from "../../../gen/inference/inference/grpc_service.js";
import { GatewayIndexService } from "../../../gen/inference/inferencehub/gateway/v1/repository_index.js";
import { AdminAuth, AdminCore, createAdminGrpcService, handleAdminHttp } from "../admin/index.js";
import { createSnapshotCache, type SnapshotCache } from "../cache/index.js";
import {
  buildIR,
  createIRMemo,
  noAuthFiles,
  unknownHealth,
  type AuthFiles,
  type GatewayIR,
  type IRMemo,
  type HealthView,
} from "../ir/index.js";
import {
  createAdsService,
  createClientRegistry,
  createXdsMetrics,
  type ClientRegistry,
  type XdsMetrics,
} from "../server/index.js";
import { createSnapshotBuilder, type Snapshot, type SnapshotBuilder } from "../snapshot/index.js";
import type { ClientGroup } from "../translate/index.js";
import { createHealthProber, type HealthProber, type HealthSnapshot } from "../health/index.js";
import type { FleetStatus } from "../fleet/index.js";
import { startAdminServer, type AdminServer } from "./admin-server.js";
import { AuthFilesSource, ConfigFile, EtcdConfigStore, type ConfigStore } from "../source/index.js";
import { proxylessLimits, proxylessLimitsLog } from "./proxyless-limits.js";
import { publishChecked, type BuiltGroup } from "./publish.js";
import { rateLimitConfigFile } from "./ratelimit-config-file.js";
import { gatewayIndex } from "./gateway-index.js";
import { createGatewayIndexService, createServerCallsService, gatewayReady } from "./server-calls.js";
import { groupOf } from "./groups.js";
import { createPlacement } from "./placement.js";
import {
  envoyAdminSampler,
  EtcdRolloutStore,
  FileRolloutStore,
  prometheusSampler,
  readyWhenHealthy,
  RolloutDriver,
  rolloutsFileOf,
  versionHealth,
  type VersionReady,
} from "../rollout/index.js";

export interface ControlPlaneOptions {
  /**
   * The config file; with `etcd`, the seed written into an empty store (optional). Relative paths
   * in the config's auth section resolve against its folder (the working directory without one).
   */
  configPath?: string;
  /** Keep the config in etcd instead of the file, shared by every replica. */
  etcd?: { endpoints: string[]; prefix?: string; security?: EtcdSecurity };
  log: Logger;
  adsHost?: string;
  /** 0 picks a free port. */
  adsPort: number;
  adminHost?: string;
  adminPort: number;
  /** Follow edits of the config file (default true). */
  watch?: boolean;
  /** Probe nodes and feed endpoint health (default true). */
  probe?: boolean;
  /** Admin API tokens: a YAML list of { name, sha256 }, and/or one token (named "admin"). */
  adminTokensFile?: string;
  /**
   * Where to write the rate limit service's config (envoyproxy/ratelimit's YAML, generated from
   * each config published), for a service that reads it from a shared folder; absent = nowhere.
   */
  rateLimitConfigPath?: string;
  adminToken?: string;
  /** The nodes' operator token, sent on the repository calls that load and unload placed versions. */
  repositoryToken?: string;
  /**
   * Whether this replica drives rollouts; default: it is alone, or the elected leader among the
   * replicas on one etcd (the one that also drives the nodes).
   */
  isLeader?: () => boolean;
  /**
   * Read rollout gates from this Prometheus (the targets of its Envoy scrape job, default "envoy")
   * instead of each connected Envoy's admin.
   */
  prometheus?: { url: string; envoyJob?: string };
  /** Whether a version may get a rollout's first step (default: one of its nodes is HEALTHY). */
  versionReady?: VersionReady;
}

export interface ControlPlane {
  adsPort: number;
  adminPort: number;
  cache: SnapshotCache;
  clients: ClientRegistry;
  config: ConfigStore;
  /** The status the admin port serves at /status. */
  status(): ControlPlaneStatus;
  stop(): Promise<void>;
}

export interface ControlPlaneStatus {
  /** Where the config is read from: the file, or etcd (its endpoints and prefix). */
  configStore: { kind: "file" | "etcd"; location: string };
  /** The file's path (file store only). */
  configFile?: string;
  /** The version of the config now serving: the file's content hash, or the etcd revision. */
  configVersion: string;
  /** Errors of the last refused edit, if what is stored is not what serves. */
  refusedEdit: { path: string; message: string; line?: number | undefined }[];
  snapshots: Partial<Record<ClientGroup, string>>;
  clients: ReturnType<ClientRegistry["list"]>;
  /** node → "model/version" → HEALTHY, UNHEALTHY, DRAINING or UNKNOWN, when probing. */
  health?: Record<string, Record<string, string>>;
  /** The prober's detail per node: reachability, last error, counters. */
  probes?: HealthSnapshot;
  /**
   * Models whose split is degraded: the versions down (no node up) and the weights unpinned calls
   * get now (moved to the versions up under `versionFailover: share`).
   */
  degradedSplits: Record<string, { versionsDown: string[]; weights: Record<string, number> }>;
  /** What proxyless clients cannot be given as configured (proxyless-limits.ts). */
  proxylessLimits: string[];
  /** Who authorizes calls and who holds the tenants' rate limits; absent without an auth section. */
  auth?: AuthStatus;
  /** Placed versions (versions[].placement): where each is loaded, loading, failed or draining. */
  fleet: FleetStatus;
  /** The last rollout of each model (live or ended), as the admin API's GetRollout gives it. */
  rollouts: Rollout[];
}

export interface AuthStatus {
  mode: "native" | "ext-authz";
  /**
   * global: the rate limit service, across every Envoy; local: each Envoy alone; ext-authz: each
   * ext-authz replica alone; none: no tenant has a limit.
   */
  rateLimits: "global" | "local" | "ext-authz" | "none";
  /** What Envoy verifies itself (native mode): the JWT providers it has a usable JWKS for. */
  verifiedByEnvoy: ("jwt" | "api-keys")[];
  /** Signed API keys Envoy accepts now (the keys file's entries). */
  keys: number;
}

function authStatus(config: Config | undefined, files: AuthFiles): AuthStatus | undefined {
  const auth = config?.auth;
  if (!auth) return undefined;
  const limited = auth.tenants.some((t) => t.rateLimit || t.models.some((g) => g.rateLimit));
  const native = auth.mode === "native";
  return {
    mode: auth.mode,
    rateLimits: !limited ? "none" : !native ? "ext-authz" : auth.rateLimitService ? "global" : "local",
    verifiedByEnvoy: native
      ? [
          ...(auth.jwt && (auth.jwt.jwksUrl !== undefined || files.idpJwks !== undefined)
            ? (["jwt"] as const)
            : []),
          ...(auth.apiKeys && files.apiKeysJwks !== undefined ? (["api-keys"] as const) : []),
        ]
      : [],
    keys: native && auth.apiKeys ? files.keys.length : 0,
  };
}

function healthByNode(snapshot: HealthSnapshot): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(snapshot).map(([node, n]) => [
      node,
      Object.fromEntries(Object.entries(n.models).map(([k, m]) => [k, m.status])),
    ]),
  );
}

/**
 * Builds every group's snapshot from a config: pure stages, timed as one. Pass the builder of the
 * last build to reuse what an edit did not change; without one, everything is built.
 */
export function buildSnapshots(
  config: Config,
  health: HealthView = unknownHealth,
  builder: SnapshotBuilder = createSnapshotBuilder(),
): Record<ClientGroup, Snapshot> {
  return snapshotsOf(buildIR(config, health), builder);
}

function snapshotsOf(ir: GatewayIR, builder: SnapshotBuilder): Record<ClientGroup, Snapshot> {
  const built = builtGroups(ir, builder);
  for (const [group, { problems }] of Object.entries(built)) {
    // A dangling reference would leave clients warming forever: a translator bug, not an operator's.
    if (problems.length > 0) throw new Error(`snapshot for ${group} is inconsistent: ${problems.join("; ")}`);
  }
  return { envoy: built.envoy.snapshot, proxyless: built.proxyless.snapshot };
}

/** Each group's snapshot with its consistency problems. */
function builtGroups(ir: GatewayIR, builder: SnapshotBuilder): Record<ClientGroup, BuiltGroup> {
  const snapshots = builder.build(ir);
  const problems = builder.lastProblems;
  return {
    envoy: { snapshot: snapshots.envoy, problems: problems.envoy },
    proxyless: { snapshot: snapshots.proxyless, problems: problems.proxyless },
  };
}

interface Publisher {
  cache: SnapshotCache;
  metrics: XdsMetrics;
  log: Logger;
  builder: SnapshotBuilder;
  /** What the last build made of each model (buildIR's memo), kept beside the builder's units. */
  irMemo: IRMemo;
  degradedSplits: ControlPlaneStatus["degradedSplits"];
  /** What ServerReady answers: the last IR published had every model servable. */
  ready: boolean;
  /** What the auth section's files hold now (native mode). */
  authFiles: AuthFiles;
}

function publish(p: Publisher, config: Config, health: HealthView, why: string): void {
  const end = p.metrics.snapshotBuild.startTimer();
  const ir = buildIR(config, health, { authFiles: p.authFiles, memo: p.irMemo });
  const built = builtGroups(ir, p.builder);
  end();
  recordSplits(p, ir);
  p.ready = gatewayReady(ir);
  // Checked before it is served: an inconsistent snapshot is refused, the last good one serves.
  publishChecked(p, built, { why, ...p.builder.lastBuild });
}

/** Follows which models' splits are degraded: status, a gauge per model, a log line per change. */
function recordSplits(p: Publisher, ir: GatewayIR): void {
  const now: ControlPlaneStatus["degradedSplits"] = {};
  for (const model of ir.models) {
    if (!model.versionsDown) continue;
    now[model.name] = {
      versionsDown: model.versionsDown,
      weights: Object.fromEntries(model.versions.map((v) => [v.version, v.weight])),
    };
  }
  for (const model of new Set([...Object.keys(p.degradedSplits), ...Object.keys(now)])) {
    const before = p.degradedSplits[model];
    const after = now[model];
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    p.metrics.versionsDown.set({ model }, after?.versionsDown.length ?? 0);
    if (after)
      p.log.warn({ model, ...after }, "split degraded: versions down, unpinned calls follow these weights");
    else p.log.info({ model }, "split restored: every version that takes calls is up");
  }
  p.degradedSplits = now;
}

/**
 * The store the options name, read and serving: etcd (waits for a valid config there, seeding an
 * empty store from the file when one is named), or the file (which must be valid to start).
 */
async function openStore(
  options: ControlPlaneOptions,
  log: Logger,
  onConfig: (config: Config, version: string) => void,
): Promise<ConfigStore> {
  if (options.etcd) {
    const seed = options.configPath ? await readSeed(options.configPath) : undefined;
    const store = new EtcdConfigStore({ ...options.etcd, log, onConfig, ...(seed ? { seed } : {}) });
    await store.start();
    return store;
  }
  if (!options.configPath) throw new Error("cannot start: name a config file, or etcd endpoints");
  const file = new ConfigFile({ path: options.configPath, log, onConfig });
  const first = await file.load();
  if (first.status !== "applied") {
    const why =
      first.status === "invalid"
        ? `${first.errors.length} error(s), logged above`
        : first.status === "unreadable"
          ? first.error
          : first.status;
    throw new Error(`cannot start: ${file.path} is not a valid config (${why})`);
  }
  if (options.watch ?? true) file.watch();
  return file;
}

/** The seed for an empty etcd: the file as written, once it parses as a valid config. */
async function readSeed(path: string): Promise<RawConfig> {
  const text = await readFile(path, "utf8");
  const parsed = parseConfig(text, path);
  if (!parsed.ok)
    throw new Error(`cannot start: the seed ${path} is not a valid config:\n${formatErrors(parsed.errors)}`);
  return parseYaml(text) as RawConfig;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createXdsMetrics(registry);
  const cache = createSnapshotCache();
  const clients = createClientRegistry();

  const publisher: Publisher = {
    cache,
    metrics,
    log: log.child({ component: "snapshot" }),
    builder: createSnapshotBuilder(),
    irMemo: createIRMemo(),
    degradedSplits: {},
    ready: false,
    authFiles: noAuthFiles,
  };
  // Created on the first valid config; until then nothing is probed and health is UNKNOWN.
  let prober: HealthProber | undefined;
  const watch = options.watch ?? true;
  const limitsFile = options.rateLimitConfigPath
    ? rateLimitConfigFile(options.rateLimitConfigPath, log.child({ component: "ratelimit-config" }))
    : undefined;
  // The config serving, set by onConfig: the store calls it while it opens, before `config` is set.
  let serving: Config | undefined;
  const placement = createPlacement({
    log,
    registry,
    token: options.repositoryToken,
    etcd: options.etcd,
    onChange: () => placementChanged(),
  });
  /** What is translated: the config with each placed version's nodes where it is ready now. */
  const effective = (cfg: Config): Config => placement.effective(cfg);
  const republish = (why: string) => {
    const current = serving;
    if (current) publish(publisher, effective(current), prober?.view() ?? unknownHealth, why);
  };
  const placementChanged = () => {
    const current = serving;
    if (!current) return;
    // New nodes of a placed version are probed from now on; routing follows at once.
    prober?.update(effective(current));
    republish("fleet");
  };
  const authFiles = new AuthFilesSource({
    configPath: options.configPath ?? join(process.cwd(), "inferencehub.yaml"),
    log: log.child({ component: "auth-files" }),
    onChange: (files) => {
      publisher.authFiles = files;
      republish("auth files");
    },
  });
  /**
   * Reads the files a config's auth section names, when it names other files than the config
   * before it (their edits are the watcher's); republishes when what Envoy gets changed.
   */
  let followed: { named: string; done: Promise<void> } | undefined;
  const followAuthFiles = (cfg: Config): Promise<void> => {
    const named = JSON.stringify([
      cfg.auth?.mode,
      cfg.auth?.keysFile,
      cfg.auth?.apiKeys,
      cfg.auth?.jwt?.jwksFile,
    ]);
    // The same files: the read under way (or done) is the one to wait for.
    if (followed?.named === named) return followed.done;
    const done = (async () => {
      const before = JSON.stringify(publisher.authFiles);
      publisher.authFiles = await authFiles.load(cfg.auth);
      if (watch) authFiles.watch();
      if (JSON.stringify(publisher.authFiles) !== before && serving === cfg) republish("auth files");
    })();
    followed = { named, done };
    return done;
  };
  const logProxylessLimits = proxylessLimitsLog(log);
  const onConfig = (cfg: Config, version: string) => {
    serving = cfg;
    placement.update(cfg);
    const placed = effective(cfg);
    metrics.configReloads.inc({ result: "applied" });
    if (cfg.auth?.extAuthz.failOpen) {
      log.warn(
        "auth.extAuthz.failOpen is true: when ext-authz is down or slow, Envoy lets calls through unchecked",
      );
    }
    prober?.update(placed);
    logProxylessLimits(cfg);
    void limitsFile?.write(cfg);
    publish(publisher, placed, prober?.view() ?? unknownHealth, `config ${version}`);
    // An edit may name other files: read them, then publish again if Envoy's part changed.
    void followAuthFiles(cfg).catch((err: unknown) =>
      log.error({ err }, "reading the auth section's files failed"),
    );
  };
  const config = await openStore(options, log.child({ component: "config" }), onConfig);
  const first = config.current;
  if (!first) throw new Error(`cannot start: no config from ${config.location}`);
  // The first routing ADS serves already names the nodes placed versions are ready on.
  await placement.start(() => serving);
  placementChanged();
  // The first snapshot ADS serves already holds them: the ADS port opens below.
  await followAuthFiles(first);
  // The service starts with the limits of the first config, before any Envoy asks it.
  await limitsFile?.write(first);

  if (options.probe ?? true) {
    prober = createHealthProber({
      config: effective(first),
      log: log.child({ component: "health" }),
      registry,
    });
    // Health changes move endpoints only; the prober coalesces flapping into bounded pushes.
    prober.subscribe(({ view, changes }) => {
      const current = serving;
      if (!current) return;
      publisher.log.info(
        { changes: changes.map((c) => `${c.node} ${c.model}/${c.version}: ${c.from} → ${c.to}`) },
        "health changed",
      );
      publish(publisher, effective(current), view, "health");
      // A node that went down may hold placed versions: the reconciler reads the nodes now.
      if (changes.some((c) => c.to === "UNHEALTHY")) placement.nudge();
    });
    prober.start();
  }

  const server = new Server({
    // Envoy and grpc-js keep one ADS stream open for hours: keepalives find dead peers.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_send_message_length": -1,
  });
  server.addService(
    AggregatedDiscoveryServiceService,
    createAdsService({ cache, registry: clients, metrics, log: log.child({ component: "ads" }), groupOf }),
  );
  const auth = AdminAuth.fromSources({ tokensFile: options.adminTokensFile, envToken: options.adminToken });
  if (!auth.configured)
    log.warn(
      "no admin token configured: the admin API refuses every call (set INFERENCEHUB_ADMIN_TOKEN or --admin-tokens-file)",
    );
  // status is defined below; the core only calls it on a request.
  const adminCore = new AdminCore({ config, log: log.child({ component: "admin" }), status: () => status() });
  // Envoy sends server-level calls that name no model here (controlPlane.address in the config).
  const gatewayAnswers = {
    ready: () => publisher.ready,
    index: (tenant: string | undefined, readyOnly: boolean) =>
      serving ? gatewayIndex(effective(serving), prober?.view() ?? unknownHealth, tenant, readyOnly) : [],
  };
  server.addService(GRPCInferenceServiceService, createServerCallsService(gatewayAnswers));
  // The REST form's index, as Envoy's transcoder sends it (translate/filters/rest-index.ts).
  server.addService(GatewayIndexService, createGatewayIndexService(gatewayAnswers));
  server.addService(
    AdminServiceService,
    createAdminGrpcService(adminCore, auth, log.child({ component: "admin" })),
  );
  // Rollouts: the engine edits through the admin core and keeps its state beside the config.
  // Placed versions are judged on the nodes where they are ready (the config as translated).
  const healthOf = (model: string, version: string) =>
    versionHealth(serving && effective(serving), prober?.snapshot(), model, version);
  /** A placed version is ready for its first step once loaded on as many nodes as it asks for. */
  const placedReady = (model: string, version: string): { ready: boolean; detail: string } => {
    const placed = placement.readiness(model, version);
    return placed && !placed.ready ? placed : readyWhenHealthy(healthOf(model, version));
  };
  const rollouts = new RolloutDriver({
    core: adminCore,
    config,
    store: options.etcd
      ? new EtcdRolloutStore(options.etcd)
      : new FileRolloutStore(rolloutsFileOf(config.location)),
    sample: options.prometheus
      ? prometheusSampler(options.prometheus.url, {
          ...(options.prometheus.envoyJob ? { job: options.prometheus.envoyJob } : {}),
        })
      : envoyAdminSampler(() => clients.list()),
    health: healthOf,
    versionReady: options.versionReady ?? placedReady,
    envoysSynced: () => {
      const current = cache.get("envoy")?.version;
      return clients.list().every((c) => c.group !== "envoy" || c.syncedVersion === current);
    },
    // The replica that drives the nodes drives rollouts too (the etcd election; always alone).
    isLeader: options.isLeader ?? placement.leader,
    log: log.child({ component: "rollout" }),
    registry,
  });
  adminCore.attachRollouts(rollouts);
  await rollouts.open();
  const adsPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${options.adsHost ?? "0.0.0.0"}:${options.adsPort}`,
      ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );

  const status = (): ControlPlaneStatus => ({
    configStore: { kind: config.kind, location: config.location },
    ...(config.kind === "file" ? { configFile: config.location } : {}),
    configVersion: config.version,
    refusedEdit: config.lastErrors.map((e) => ({ path: e.path, message: e.message, line: e.line })),
    snapshots: Object.fromEntries(cache.groups().map((g) => [g, cache.get(g)?.version ?? ""])),
    clients: clients.list(),
    ...(prober ? { health: healthByNode(prober.snapshot()), probes: prober.snapshot() } : {}),
    degradedSplits: publisher.degradedSplits,
    proxylessLimits: config.current ? proxylessLimits(config.current) : [],
    ...(config.current?.auth ? { auth: authStatus(config.current, publisher.authFiles) } : {}),
    fleet: placement.status(),
    rollouts: rollouts.list(),
  });

  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      host: options.adminHost ?? "127.0.0.1",
      port: options.adminPort,
      metrics: registry,
      log: log.child({ component: "admin" }),
      routes: { "/status": () => status() },
      api: (req) => handleAdminHttp(adminCore, auth, req),
    });
  } catch (err) {
    server.forceShutdown();
    await rollouts.stop();
    throw err;
  }
  log.info(
    { adsPort, adminPort: admin.port, configStore: config.location, configVersion: config.version },
    "control plane serving",
  );

  return {
    adsPort,
    adminPort: admin.port,
    cache,
    clients,
    config,
    status,
    stop: async () => {
      await rollouts.stop();
      await config.close();
      await placement.stop();
      authFiles.close();
      await prober?.stop();
      await admin.close();
      // Open ADS streams never end by themselves; clients reconnect to another replica.
      server.forceShutdown();
    },
  };
}
