/**
 * xds-server: the InferenceHub control plane.
 *   tsx xds-server/src/main.ts --config inferencehub.yaml [--ads-port 18000] [--admin-port 18080]
 *     [--ratelimit-config /etc/ratelimit/config/config.yaml]   (writes the rate limit service's limits)
 *   tsx xds-server/src/main.ts --etcd http://127.0.0.1:2379,... [--etcd-prefix /inferencehub/]
 *     [--seed inferencehub.yaml]   (the config in etcd, shared by replicas; the seed fills an empty store)
 *     [--etcd-ca ca.pem] [--etcd-cert client.pem --etcd-key client-key.pem]   (TLS: https:// endpoints)
 *     [--etcd-user name --etcd-password-file file]   (etcd's own users, when its auth is enabled)
 *   [--repository-token-file f]   (the nodes' token, for placed versions; or INFERENCEHUB_REPOSITORY_TOKEN)
 *   [--prometheus-url http://prometheus:9090 [--prometheus-envoy-job envoy]]   (rollout gates read from
 *     Prometheus instead of each Envoy's admin: xds-server/src/rollout/README.md)
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { parseListenPort } from "@inferencehub/contracts/config";
import { loadRepositoryToken } from "@inferencehub/contracts/repository-token";
import { readEtcdSecurity, type EtcdSecurity } from "@inferencehub/contracts/etcd-config";
import { defaultPorts } from "@inferencehub/contracts/ports";
import { startControlPlane } from "./runner/index.js";

const { values } = parseArgs({
  options: {
    config: { type: "string", default: process.env.INFERENCEHUB_CONFIG ?? "inferencehub.yaml" },
    "ads-host": { type: "string", default: "0.0.0.0" },
    "ads-port": { type: "string", default: process.env.ADS_PORT ?? String(defaultPorts.ads) },
    "admin-host": { type: "string", default: process.env.ADMIN_HOST ?? "127.0.0.1" },
    "admin-port": { type: "string", default: process.env.ADMIN_PORT ?? String(defaultPorts.xdsAdmin) },
    "admin-tokens-file": { type: "string", default: process.env.INFERENCEHUB_ADMIN_TOKENS_FILE },
    "ratelimit-config": { type: "string", default: process.env.INFERENCEHUB_RATELIMIT_CONFIG },
    etcd: { type: "string", default: process.env.INFERENCEHUB_ETCD_ENDPOINTS },
    "etcd-prefix": { type: "string", default: process.env.INFERENCEHUB_ETCD_PREFIX },
    seed: { type: "string", default: process.env.INFERENCEHUB_SEED_CONFIG },
    "etcd-ca": { type: "string", default: process.env.INFERENCEHUB_ETCD_CA },
    "etcd-cert": { type: "string", default: process.env.INFERENCEHUB_ETCD_CERT },
    "etcd-key": { type: "string", default: process.env.INFERENCEHUB_ETCD_KEY },
    "etcd-user": { type: "string", default: process.env.INFERENCEHUB_ETCD_USER },
    "etcd-password-file": { type: "string", default: process.env.INFERENCEHUB_ETCD_PASSWORD_FILE },
    // The nodes' operator token, for loading and unloading placed versions (else INFERENCEHUB_REPOSITORY_TOKEN).
    "repository-token-file": { type: "string" },
    "prometheus-url": { type: "string", default: process.env.INFERENCEHUB_PROMETHEUS_URL },
    "prometheus-envoy-job": { type: "string", default: process.env.INFERENCEHUB_PROMETHEUS_ENVOY_JOB },
  },
});

const log = pino({ name: "xds-server", level: process.env.LOG_LEVEL ?? "info" });
const port = (flag: "ads-port" | "admin-port"): number => {
  const n = parseListenPort(values[flag]);
  if (n !== undefined) return n;
  log.fatal(`--${flag} must be a port number, got '${values[flag]}'`);
  process.exit(2);
};

const etcdEndpoints = (values.etcd ?? "")
  .split(",")
  .map((e) => e.trim())
  .filter((e) => e !== "");
if (values.seed && etcdEndpoints.length === 0) {
  log.fatal("--seed fills an empty etcd: it needs --etcd (or INFERENCEHUB_ETCD_ENDPOINTS)");
  process.exit(2);
}
const etcdSecurity = (): EtcdSecurity => {
  try {
    return readEtcdSecurity(etcdEndpoints, {
      caFile: values["etcd-ca"],
      certFile: values["etcd-cert"],
      keyFile: values["etcd-key"],
      user: values["etcd-user"],
      passwordFile: values["etcd-password-file"],
    });
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }
};

try {
  const repositoryToken = loadRepositoryToken({ file: values["repository-token-file"] });
  const cp = await startControlPlane({
    ...(etcdEndpoints.length > 0
      ? {
          etcd: {
            endpoints: etcdEndpoints,
            ...(values["etcd-prefix"] ? { prefix: values["etcd-prefix"] } : {}),
            security: etcdSecurity(),
          },
          ...(values.seed ? { configPath: values.seed } : {}),
        }
      : { configPath: values.config ?? "inferencehub.yaml" }),
    adsHost: values["ads-host"] ?? "0.0.0.0",
    adsPort: port("ads-port"),
    adminHost: values["admin-host"] ?? "127.0.0.1",
    adminPort: port("admin-port"),
    ...(values["admin-tokens-file"] ? { adminTokensFile: values["admin-tokens-file"] } : {}),
    ...(values["ratelimit-config"] ? { rateLimitConfigPath: values["ratelimit-config"] } : {}),
    ...(values["prometheus-url"]
      ? {
          prometheus: {
            url: values["prometheus-url"],
            ...(values["prometheus-envoy-job"] ? { envoyJob: values["prometheus-envoy-job"] } : {}),
          },
        }
      : {}),
    ...(process.env.INFERENCEHUB_ADMIN_TOKEN ? { adminToken: process.env.INFERENCEHUB_ADMIN_TOKEN } : {}),
    ...(repositoryToken !== undefined ? { repositoryToken } : {}),
    log,
  });
  // Tests and the local stack read this line to learn the ports chosen.
  console.log(JSON.stringify({ event: "ready", adsPort: cp.adsPort, adminPort: cp.adminPort }));
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      void cp.stop().then(() => process.exit(0));
    });
  }
} catch (err) {
  log.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
}
