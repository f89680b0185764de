/**
 * ext-authz: who may call which model, for Envoy's ext_authz filter.
 *   tsx ext-authz/src/main.ts --config inferencehub.yaml [--port 19000] [--metrics-port 19090]
 *     [--repository-token-file <path>]   (or INFERENCEHUB_REPOSITORY_TOKEN)
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { parseListenPort } from "@inferencehub/contracts/config";
import { defaultPorts } from "@inferencehub/contracts/ports";
import { loadRepositoryToken } from "@inferencehub/contracts/repository-token";
import { startExtAuthz } from "./server.js";

const { values } = parseArgs({
  options: {
    config: { type: "string", default: process.env.INFERENCEHUB_CONFIG ?? "inferencehub.yaml" },
    host: { type: "string", default: process.env.EXT_AUTHZ_HOST ?? "0.0.0.0" },
    port: { type: "string", default: process.env.EXT_AUTHZ_PORT ?? String(defaultPorts.extAuthz) },
    "metrics-host": { type: "string", default: process.env.METRICS_HOST ?? "0.0.0.0" },
    "metrics-port": {
      type: "string",
      default: process.env.METRICS_PORT ?? String(defaultPorts.extAuthzMetrics),
    },
    "repository-token-file": { type: "string" },
  },
});

const log = pino({ name: "ext-authz", level: process.env.LOG_LEVEL ?? "info" });
const port = (flag: "port" | "metrics-port"): number => {
  const n = parseListenPort(values[flag]);
  if (n !== undefined) return n;
  log.fatal(`--${flag} must be a port number, got '${values[flag]}'`);
  process.exit(2);
};

try {
  // The nodes' repository token: a file (a mounted secret) or INFERENCEHUB_REPOSITORY_TOKEN; absent = none.
  const token = loadRepositoryToken({ file: values["repository-token-file"] });
  if (token === undefined)
    log.info("no repository token: repository calls reach nodes without it, and nodes refuse them");
  const server = await startExtAuthz({
    ...(token !== undefined ? { repositoryToken: token } : {}),
    configPath: values.config ?? "inferencehub.yaml",
    host: values.host ?? "0.0.0.0",
    port: port("port"),
    metricsHost: values["metrics-host"] ?? "0.0.0.0",
    metricsPort: port("metrics-port"),
    log,
  });
  // Tests and the local stack read this line to learn the ports chosen.
  console.log(JSON.stringify({ event: "ready", port: server.port, metricsPort: server.metricsPort }));
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      void server.stop().then(() => process.exit(0));
    });
  }
} catch (err) {
  log.fatal({ err }, err instanceof Error ? err.message : String(err));
  process.exit(1);
}
