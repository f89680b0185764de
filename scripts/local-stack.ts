/**
 * The README's main command: InferenceHub on one machine, as processes, in the foreground until
 * Ctrl-C. It reads inferencehub.yaml (or $INFERENCEHUB_CONFIG), starts a reference node for each
 * node there with a loopback address, the control plane (ADS 18000, admin 18080) and an Envoy
 * steered by it (admin 127.0.0.1:9901; data port from the file, 8080 by default).
 *
 * It supervises what it starts: a component that exits (a crash, kill -9) is started again with a
 * backoff (0.5 s doubling to 30 s, back to 0.5 s after a minute up), and each exit and restart is
 * printed. Ctrl-C stops everything and restarts nothing.
 *
 * `npm start -- --ha` (or INFERENCEHUB_HA=1) runs the control plane as it runs on several
 * machines: 3 etcd members and 2 control plane replicas (ADS 18000 and 18001, admin 18080 and
 * 18081), seeded from inferencehub.yaml; Envoy lists both replicas. Edits go through the admin API
 * or `hubctl apply -f`, and last as long as this run (etcd's data is this run's, in a temp dir).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { parseConfig, formatErrors, type AuthConfig, type Config } from "@inferencehub/contracts/config";
import { createSigningKey, issueSignedApiKey } from "@inferencehub/contracts/signed-keys";
import { defaultPorts } from "@inferencehub/contracts/ports";
import { generateApiKey, hashApiKey } from "../ext-authz/src/api-keys.js";
import { renderBootstrap, startEnvoy, withXdsReplicas } from "./lib/envoy-process.js";
import { etcdUnavailableReason, startEtcdCluster } from "./lib/etcd-process.js";
import { startExtAuthzProcess } from "./lib/ext-authz-process.js";
import { startNode } from "./lib/node-process.js";
import { freePort } from "./lib/ports.js";
import { ratelimitUnavailableReason, startRateLimit } from "./lib/ratelimit-process.js";
import { redisUnavailableReason, startRedis } from "./lib/redis-process.js";
import { repoRoot } from "./lib/paths.js";
import { Supervisor } from "./lib/supervisor.js";
import { startXdsServer } from "./lib/xds-process.js";
import { rateLimitServiceConfig } from "../xds-server/src/ratelimit/index.js";

const configPath = resolve(process.env.INFERENCEHUB_CONFIG ?? `${repoRoot}/inferencehub.yaml`);
const adsPort = Number(process.env.ADS_PORT ?? defaultPorts.ads);
const ha = process.argv.includes("--ha") || process.env.INFERENCEHUB_HA === "1";
const envoyAdminPort = Number(process.env.ENVOY_ADMIN_PORT ?? defaultPorts.envoyAdmin);
// The admin API fails closed without a token: the local stack makes one per run unless given one.
const adminToken = process.env.INFERENCEHUB_ADMIN_TOKEN ?? randomBytes(18).toString("base64url");

const step = (msg: string) => console.log(`\x1b[1m[inferencehub]\x1b[0m ${msg}`);
const supervisor = new Supervisor({ report: step });

/**
 * This run's state, kept per ADS port so two stacks on other ports do not meet: the pids of its
 * processes (a stack that crashed, or was killed with -9, leaves them running and holding its
 * ports; the next start ends them first) and the repository token.
 */
const stateDir = join(repoRoot, ".cache", `local-stack-${adsPort}`);
const pidFile = join(stateDir, "pids");
/** Where runs before the state dir kept their pids. */
const legacyPidFile = join(repoRoot, ".cache", `local-stack-${adsPort}.pids`);
/**
 * The operator token for repository calls on the nodes, one per run (or
 * $INFERENCEHUB_REPOSITORY_TOKEN): every node reads it from this file, ext-authz from its
 * environment (it adds it to the repository calls of tenants allowed them), and the control plane
 * from its environment too (it loads placed versions).
 */
const repositoryTokenFile = join(stateDir, "repository-token");
const repositoryToken = process.env.INFERENCEHUB_REPOSITORY_TOKEN || randomBytes(24).toString("base64url");

function writeRepositoryToken(): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  // A fresh file, so that its mode is ours whatever an older one had.
  rmSync(repositoryTokenFile, { force: true });
  writeFileSync(repositoryTokenFile, `${repositoryToken}\n`, { mode: 0o600, flag: "wx" });
}

function endLeftovers(): void {
  let pids: number[] = [];
  for (const file of [pidFile, legacyPidFile]) {
    try {
      pids.push(...readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number));
    } catch {
      // none
    }
  }
  pids = [...new Set(pids)];
  for (const pid of pids) {
    try {
      // Only our own processes: a recycled pid may belong to anything.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (
        cmdline.includes(repoRoot) ||
        cmdline.includes("envoy") ||
        cmdline.includes("inferencehub-local-")
      ) {
        process.kill(pid, "SIGKILL");
        step(`ended process ${pid} left over from a previous run`);
      }
    } catch {
      // already gone
    }
  }
  rmSync(pidFile, { force: true });
  rmSync(legacyPidFile, { force: true });
}

/** Each component's pid now; the file is rewritten after every start and restart. */
const pids = new Map<string, number>();
const recordPid =
  (component: string) =>
  (started: { process: { pid?: number | undefined } }): void => {
    if (started.process.pid !== undefined) pids.set(component, started.process.pid);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(pidFile, [...pids.values()].join("\n"));
  };

async function stopAll(): Promise<void> {
  // The last started first: Envoy, ext-authz, the control plane, the nodes.
  await supervisor.stop();
  rmSync(pidFile, { force: true });
  rmSync(repositoryTokenFile, { force: true });
}

/**
 * A fresh key for the first tenant, every run: signed by a signing key made for this run when the
 * file has `auth.apiKeys` (Envoy verifies it; its public half goes where apiKeys.jwksFile says, the
 * private half is never written), a random `ihk_` key otherwise (ext-authz checks it). The keys
 * file gets its hash.
 */
async function makeApiKey(auth: AuthConfig): Promise<string | undefined> {
  const tenant = auth.tenants[0]?.name;
  if (!auth.keysFile || !tenant) return undefined;
  const inConfigDir = (file: string) => {
    const path = resolve(dirname(configPath), file);
    mkdirSync(dirname(path), { recursive: true });
    return path;
  };
  let key = generateApiKey();
  if (auth.apiKeys) {
    const signing = await createSigningKey(`local-${Date.now()}`);
    writeFileSync(inConfigDir(auth.apiKeys.jwksFile), JSON.stringify(signing.publicJwks, null, 2));
    key = await issueSignedApiKey({
      privateJwk: signing.privateJwk,
      issuer: auth.apiKeys.issuer,
      id: "local-stack",
      tenant,
    });
  }
  writeFileSync(
    inConfigDir(auth.keysFile),
    stringify({ keys: [{ id: "local-stack", tenant, sha256: hashApiKey(key) }] }),
    {
      mode: 0o600,
    },
  );
  return key;
}

/**
 * Rate limits shared by every Envoy (auth.rateLimitService): Redis on a free port, and
 * envoyproxy/ratelimit on the port the file names. Its limits are generated from the file: first
 * here, then by the control plane on every edit (--ratelimit-config), into this run's folder.
 */
const rateLimitDir = join(stateDir, "ratelimit");
const rateLimitConfigFile = join(rateLimitDir, "runtime/ratelimit/config/config.yaml");

async function startRateLimits(config: Config): Promise<void> {
  const service = config.auth?.rateLimitService;
  if (!service) return;
  const reason = redisUnavailableReason() ?? ratelimitUnavailableReason();
  if (reason) throw new Error(`auth.rateLimitService is set, but ${reason}`);
  const redisPort = await freePort();
  step(`starting Redis (:${redisPort}) and the rate limit service (${service.address})`);
  await supervisor.start(
    "Redis",
    async () => {
      const redis = await startRedis({ port: redisPort });
      return { process: redis.current().process, stop: () => redis.stop() };
    },
    { onStart: recordPid("Redis") },
  );
  await supervisor.start(
    "rate limit service",
    () =>
      startRateLimit({
        redisAddress: `127.0.0.1:${redisPort}`,
        grpcPort: service.port,
        dir: rateLimitDir,
        config: rateLimitServiceConfig(config),
      }),
    { onStart: recordPid("rate limit service"), lastWords: (p) => p.logs },
  );
}

/** 3 etcd members on free loopback ports, each supervised (a member that exits rejoins). */
async function startEtcd(): Promise<string[]> {
  const reason = etcdUnavailableReason();
  if (reason) throw new Error(`--ha needs etcd, but ${reason}`);
  step("starting etcd (3 members)");
  const cluster = await startEtcdCluster({ size: 3, name: "local" });
  await Promise.all(
    cluster.members.map((member) => {
      let first = true;
      return supervisor.start(
        `etcd ${member.name}`,
        async () => {
          if (!first) await member.restart();
          first = false;
          return { process: member.current().process, stop: () => member.stop() };
        },
        { onStart: recordPid(`etcd ${member.name}`), lastWords: () => member.current().logs },
      );
    }),
  );
  // The supervisor stops the members; their data dirs go when this process exits.
  return cluster.endpoints;
}

async function main(): Promise<void> {
  const parsed = parseConfig(readFileSync(configPath, "utf8"), configPath);
  if (!parsed.ok) throw new Error(`${configPath} is not valid:\n${formatErrors(parsed.errors)}`);
  const config = parsed.value;
  endLeftovers();
  writeRepositoryToken();
  const local = config.nodes.filter((n) => n.host === "127.0.0.1" || n.host === "::1");
  step(
    `starting ${local.length} reference node(s): ${local
      .map((n) => `${n.name} on :${n.port}${n.restPort !== undefined ? ` (REST :${n.restPort})` : ""}`)
      .join(", ")}`,
  );
  await Promise.all(
    local.map((n) =>
      supervisor.start(
        `node ${n.name}`,
        () =>
          startNode({
            name: n.name,
            port: n.port,
            ...(n.restPort !== undefined ? { httpPort: n.restPort } : {}),
            args: ["--repository-token-file", repositoryTokenFile],
          }),
        { onStart: recordPid(`node ${n.name}`), lastWords: (p) => p.logs },
      ),
    ),
  );

  // The API key, written before the control plane starts, which reads the keys file (and the
  // gateway's public key) so that Envoy accepts the key from its first call.
  const apiKey = config.auth ? await makeApiKey(config.auth) : undefined;
  if (config.auth?.rateLimitService) await startRateLimits(config);

  const xdsAdminPort = Number(process.env.XDS_ADMIN_PORT ?? defaultPorts.xdsAdmin);
  // With --ha, a second replica beside the first, on the next ports (or ADS_PORT_2, XDS_ADMIN_PORT_2).
  const replicaPorts = [
    { ads: adsPort, admin: xdsAdminPort },
    ...(ha
      ? [
          {
            ads: Number(process.env.ADS_PORT_2 ?? adsPort + 1),
            admin: Number(process.env.XDS_ADMIN_PORT_2 ?? xdsAdminPort + 1),
          },
        ]
      : []),
  ];
  const etcdEndpoints = ha ? await startEtcd() : undefined;
  const replicas = await Promise.all(
    replicaPorts.map((ports, i) => {
      const name = ha ? `control plane ${i + 1}` : "control plane";
      step(
        `starting the ${name} (ADS :${ports.ads}, admin 127.0.0.1:${ports.admin}) on ${
          etcdEndpoints ? `etcd, seeded from ${configPath}` : configPath
        }`,
      );
      return supervisor.start(
        name,
        () =>
          startXdsServer({
            configPath,
            ...(etcdEndpoints ? { etcd: { endpoints: etcdEndpoints } } : {}),
            adsPort: ports.ads,
            adminPort: ports.admin,
            env: {
              INFERENCEHUB_ADMIN_TOKEN: adminToken,
              // It loads placed versions (versions[].placement) on the nodes: it needs their token.
              INFERENCEHUB_REPOSITORY_TOKEN: repositoryToken,
              ...(config.auth?.rateLimitService
                ? { INFERENCEHUB_RATELIMIT_CONFIG: rateLimitConfigFile }
                : {}),
            },
          }),
        { onStart: recordPid(name), lastWords: (p) => p.logs },
      );
    }),
  );
  const xds = replicas[0]!;

  // ext-authz, when the file has an auth section: it decides what Envoy does not (native mode).
  if (config.auth) {
    step(`starting ext-authz on ${config.auth.extAuthz.address}`);
    const authzPort = config.auth.extAuthz.port;
    await supervisor.start(
      "ext-authz",
      () =>
        startExtAuthzProcess({
          configPath,
          port: authzPort,
          env: { INFERENCEHUB_REPOSITORY_TOKEN: repositoryToken },
        }),
      { onStart: recordPid("ext-authz"), lastWords: (p) => p.logs },
    );
  }

  step(`starting Envoy (data :${config.listener.port}, admin 127.0.0.1:${envoyAdminPort})`);
  const bootstrap = renderBootstrap("bootstrap-ads.template.yaml", {
    NODE_ID: "local-gateway",
    NODE_CLUSTER: "inferencehub",
    ADMIN_PORT: envoyAdminPort,
    XDS_HOST: "127.0.0.1",
    XDS_PORT: adsPort,
    ADS_API_TYPE: "GRPC",
  });
  await supervisor.start(
    "Envoy",
    () =>
      startEnvoy({
        name: "gateway",
        adminPort: envoyAdminPort,
        bootstrap: withXdsReplicas(
          bootstrap,
          replicaPorts.map((p) => ({ host: "127.0.0.1", port: p.ads })),
        ),
      }),
    { onStart: recordPid("Envoy"), lastWords: (p) => p.outputTail(3).split("\n") },
  );
  const controlPlane = xds.current;
  if (!controlPlane) throw new Error("the control plane exited during the start");
  await controlPlane.waitForSync("local-gateway");

  const target = `127.0.0.1:${config.listener.port}`;
  const models = config.models.map(
    (m) => `${m.name} (${m.versions.map((v) => `v${v.version} ${v.weight}%`).join(", ")})`,
  );
  console.log(`
  InferenceHub is up. Envoy on ${target}, steered by ${
    etcdEndpoints
      ? `2 control plane replicas (admin 127.0.0.1:${replicaPorts.map((p) => p.admin).join(" and :")}) on 3 etcd members (${etcdEndpoints.join(", ")}), seeded from ${configPath}`
      : `the control plane from ${configPath}`
  }.
  Models: ${models.join("; ")}

  Call a model${apiKey ? ` (API key for tenant '${config.auth?.tenants[0]?.name}', made for this run)` : ""}:
    ${apiKey ? `export INFERENCEHUB_API_KEY=${apiKey}\n    ` : ""}npx tsx scripts/infer.ts --target ${target} --model mlp --input '[[1,2,3,4]]'
    grpcurl -plaintext -import-path proto -proto inference/grpc_service.proto -H 'inferencehub-model: scale'${apiKey ? ` -H "authorization: Bearer $INFERENCEHUB_API_KEY"` : ""} \\
      -d '{"model_name":"scale","inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"contents":{"fp32_contents":[1,2,3,4]}}]}' \\
      ${target} inference.GRPCInferenceService/ModelInfer
    curl${apiKey ? ` -H "authorization: Bearer $INFERENCEHUB_API_KEY"` : ""} http://${target}/v2/models/scale/infer \\
      -d '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}'

  Operate it (the admin token is made for this run):
    export INFERENCEHUB_ADMIN_TOKEN=${adminToken} INFERENCEHUB_SERVER=http://127.0.0.1:${controlPlane.adminPort}
    hubctl/bin/hubctl status
    hubctl/bin/hubctl weights scale 1=50 2=50 3=0

  Repository calls on the nodes (load, unload, index) need this run's token, in ${repositoryTokenFile},
  sent as x-inferencehub-repository-token; through Envoy, ext-authz adds it for tenants with repository: true.

  ${
    etcdEndpoints
      ? `The config lives in etcd: edit it with hubctl, or save ${configPath} and run
    hubctl/bin/hubctl apply -f ${configPath} --etcd ${etcdEndpoints.join(",")}
  (hubctl export --etcd ... prints what etcd holds). It lasts as long as this run.`
      : `Edit ${configPath} and save: Envoy follows at once.`
  }
  Control plane status: curl http://127.0.0.1:${controlPlane.adminPort}/status   Envoy admin: http://127.0.0.1:${envoyAdminPort}/
  A component that exits is restarted (printed here). Ctrl-C stops everything.
`);
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    step("stopping");
    stopAll().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch(async (err: unknown) => {
  // Ctrl-C during the start: the signal handler stops what did start, and exits 0.
  if (supervisor.stopping) return;
  console.error(`[inferencehub] failed to start: ${err instanceof Error ? err.message : String(err)}`);
  console.error(
    "  Is another copy running, or something else on its ports? Ports: see inferencehub.yaml, ADS_PORT, XDS_ADMIN_PORT, ENVOY_ADMIN_PORT.",
  );
  await stopAll();
  process.exit(1);
});
