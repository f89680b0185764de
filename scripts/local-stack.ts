/**
 * The README's main command: InferenceHub on one machine, as processes, in the foreground until
 * Ctrl-C. It reads inferencehub.yaml (or $INFERENCEHUB_CONFIG), starts a reference node for each
 * node there with a loopback address, the control plane (ADS 18000, admin 18080) and an Envoy
 * steered by it (admin 127.0.0.1:9901; data port from the file, 8080 by default).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { generateApiKey, hashApiKey } from "../ext-authz/src/api-keys.js";
import { parseConfig, formatErrors } from "../xds-server/src/config/index.js";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "./lib/envoy-process.js";
import { startExtAuthzProcess, type ExtAuthzProcess } from "./lib/ext-authz-process.js";
import { startNode, type NodeProcess } from "./lib/node-process.js";
import { repoRoot } from "./lib/paths.js";
import { startXdsServer, type XdsProcess } from "./lib/xds-process.js";

const configPath = resolve(process.env.INFERENCEHUB_CONFIG ?? `${repoRoot}/inferencehub.yaml`);
const adsPort = Number(process.env.ADS_PORT ?? 18000);
const envoyAdminPort = Number(process.env.ENVOY_ADMIN_PORT ?? 9901);
// The admin API fails closed without a token: the local stack makes one per run unless given one.
const adminToken = process.env.INFERENCEHUB_ADMIN_TOKEN ?? randomBytes(18).toString("base64url");

const step = (msg: string) => console.log(`\x1b[1m[inferencehub]\x1b[0m ${msg}`);
const nodes: NodeProcess[] = [];
let xds: XdsProcess | undefined;
let authz: ExtAuthzProcess | undefined;
let envoy: EnvoyProcess | undefined;

/**
 * The processes of a stack that crashed (or was killed with -9) outlive it and hold its ports:
 * their pids are kept here, and the next start ends them first.
 */
const pidFile = join(repoRoot, ".cache", `local-stack-${adsPort}.pids`);

function endLeftovers(): void {
  let pids: number[] = [];
  try {
    pids = readFileSync(pidFile, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      // Only our own processes: a recycled pid may belong to anything.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmdline.includes(repoRoot) || cmdline.includes("envoy")) {
        process.kill(pid, "SIGKILL");
        step(`ended process ${pid} left over from a previous run`);
      }
    } catch {
      // already gone
    }
  }
  rmSync(pidFile, { force: true });
}

function recordPids(): void {
  const pids = [...nodes.map((n) => n.process.pid), xds?.process.pid, authz?.process.pid, envoy?.pid];
  mkdirSync(dirname(pidFile), { recursive: true });
  writeFileSync(pidFile, pids.filter((p) => p !== undefined).join("\n"));
}

async function stopAll(): Promise<void> {
  await envoy?.stop();
  await authz?.stop();
  await xds?.stop();
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(pidFile, { force: true });
}

async function main(): Promise<void> {
  const parsed = parseConfig(readFileSync(configPath, "utf8"), configPath);
  if (!parsed.ok) throw new Error(`${configPath} is not valid:\n${formatErrors(parsed.errors)}`);
  const config = parsed.value;
  endLeftovers();
  const local = config.nodes.filter((n) => n.host === "127.0.0.1" || n.host === "::1");
  step(
    `starting ${local.length} reference node(s): ${local.map((n) => `${n.name} on :${n.port}`).join(", ")}`,
  );
  nodes.push(...(await Promise.all(local.map((n) => startNode({ name: n.name, port: n.port })))));
  recordPids();

  step(`starting the control plane (ADS :${adsPort}, admin 127.0.0.1:18080) on ${configPath}`);
  xds = await startXdsServer({
    configPath,
    adsPort,
    adminPort: Number(process.env.XDS_ADMIN_PORT ?? 18080),
    env: { INFERENCEHUB_ADMIN_TOKEN: adminToken },
  });

  recordPids();

  // ext-authz, when the file has an auth section: a fresh key for its first tenant, every run.
  let apiKey: string | undefined;
  if (config.auth) {
    const tenant = config.auth.tenants[0]?.name;
    if (config.auth.keysFile && tenant) {
      apiKey = generateApiKey();
      const keysPath = resolve(dirname(configPath), config.auth.keysFile);
      mkdirSync(dirname(keysPath), { recursive: true });
      writeFileSync(
        keysPath,
        stringify({ keys: [{ id: "local-stack", tenant, sha256: hashApiKey(apiKey) }] }),
        { mode: 0o600 },
      );
    }
    step(`starting ext-authz on ${config.auth.extAuthz.address}`);
    authz = await startExtAuthzProcess({ configPath, port: config.auth.extAuthz.port });
    recordPids();
  }

  step(`starting Envoy (data :${config.listener.port}, admin 127.0.0.1:${envoyAdminPort})`);
  envoy = await startEnvoy({
    name: "gateway",
    adminPort: envoyAdminPort,
    bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
      NODE_ID: "local-gateway",
      NODE_CLUSTER: "inferencehub",
      ADMIN_PORT: envoyAdminPort,
      XDS_HOST: "127.0.0.1",
      XDS_PORT: adsPort,
      ADS_API_TYPE: "GRPC",
    }),
  });
  recordPids();
  await xds.waitForSync("local-gateway");

  const target = `127.0.0.1:${config.listener.port}`;
  const models = config.models.map(
    (m) => `${m.name} (${m.versions.map((v) => `v${v.version} ${v.weight}%`).join(", ")})`,
  );
  console.log(`
  InferenceHub is up. Envoy on ${target}, steered by the control plane from ${configPath}.
  Models: ${models.join("; ")}

  Call a model${apiKey ? ` (API key for tenant '${config.auth?.tenants[0]?.name}', made for this run)` : ""}:
    ${apiKey ? `export INFERENCEHUB_API_KEY=${apiKey}\n    ` : ""}npx tsx scripts/infer.ts --target ${target} --model mlp --input '[[1,2,3,4]]'
    grpcurl -plaintext -import-path proto -proto inference/grpc_service.proto -H 'inferencehub-model: scale'${apiKey ? ` -H "authorization: Bearer $INFERENCEHUB_API_KEY"` : ""} \\
      -d '{"model_name":"scale","inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"contents":{"fp32_contents":[1,2,3,4]}}]}' \\
      ${target} inference.GRPCInferenceService/ModelInfer

  Operate it (the admin token is made for this run):
    export INFERENCEHUB_ADMIN_TOKEN=${adminToken} INFERENCEHUB_SERVER=http://127.0.0.1:${xds.adminPort}
    hubctl/bin/hubctl status
    hubctl/bin/hubctl weights scale 1=50 2=50 3=0

  Edit ${configPath} and save: Envoy follows at once.
  Control plane status: curl http://127.0.0.1:${xds.adminPort}/status   Envoy admin: http://127.0.0.1:${envoyAdminPort}/
  Ctrl-C stops everything.
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
  console.error(`[inferencehub] failed to start: ${err instanceof Error ? err.message : String(err)}`);
  console.error(
    "  Is another copy running, or something else on its ports? Ports: see inferencehub.yaml, ADS_PORT, XDS_ADMIN_PORT, ENVOY_ADMIN_PORT.",
  );
  await stopAll();
  process.exit(1);
});
