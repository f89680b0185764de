/**
 * Command line for the reference inference node.
 *   tsx node/src/main.ts --name node-1 --port 9001 --models-dir models [--metrics-port 9101]
 *     [--version-port scale/2=9012 ...] [--http-port 8001]
 */
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { defaultPorts } from "@inferencehub/contracts/ports";
import { loadRepositoryToken } from "./repository-auth.js";
import { startInferenceNode, type VersionPort } from "./server.js";

const { values } = parseArgs({
  options: {
    name: { type: "string", default: process.env.NODE_NAME ?? "node-1" },
    host: { type: "string", default: process.env.NODE_HOST ?? "127.0.0.1" },
    port: { type: "string", default: process.env.NODE_PORT ?? String(defaultPorts.node) },
    "models-dir": { type: "string", default: process.env.MODELS_DIR ?? "models" },
    models: { type: "string" },
    "metrics-port": { type: "string", default: process.env.METRICS_PORT },
    // The v2 REST/JSON protocol on its own HTTP/1.1 port; off unless set (0 picks a free port).
    "http-port": { type: "string", default: process.env.NODE_HTTP_PORT },
    "http-request-timeout-ms": { type: "string", default: "30000" },
    "max-concurrent": { type: "string", default: "4" },
    "max-queue": { type: "string", default: "64" },
    // Model versions loaded at once; 0 is no limit.
    "max-models": { type: "string", default: process.env.NODE_MAX_MODELS ?? "0" },
    "max-message-bytes": { type: "string", default: String(64 * 1024 * 1024) },
    "infer-delay-ms": { type: "string", default: "0" },
    "load-delay-ms": { type: "string", default: "0" },
    "version-from": { type: "string", default: "header" },
    "drain-delay-ms": { type: "string", default: "0" },
    "shutdown-grace-ms": { type: "string", default: "30000" },
    providers: { type: "string", default: process.env.ORT_PROVIDERS ?? "cpu" },
    "repository-token-file": { type: "string" },
    // model/version=port: a port that serves that version only (for proxyless clients).
    "version-port": { type: "string", multiple: true, default: [] },
  },
});

function int(flag: keyof typeof values): number {
  const raw = values[flag];
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(n) || n < 0) {
    console.error(`--${flag} must be a non-negative integer, got '${String(raw)}'`);
    process.exit(2);
  }
  return n;
}

function versionFrom(): "header" | "body" {
  const raw = values["version-from"];
  if (raw === "header" || raw === "body") return raw;
  console.error(`--version-from must be header or body, got '${String(raw)}'`);
  process.exit(2);
}

function versionPorts(): VersionPort[] {
  return (values["version-port"] ?? []).map((raw) => {
    const m = /^([a-z0-9][a-z0-9-]*)\/([A-Za-z0-9][A-Za-z0-9-]*)=(\d{1,5})$/.exec(raw);
    const port = Number(m?.[3]);
    if (!m?.[1] || !m[2] || port > 65535) {
      console.error(`--version-port takes model/version=port (e.g. scale/2=9012), got '${raw}'`);
      process.exit(2);
    }
    return { model: m[1], version: m[2], port };
  });
}

const log = pino({ name: "inference-node", level: process.env.LOG_LEVEL ?? "info" });

// The operator token for repository calls: --repository-token-file, else INFERENCEHUB_REPOSITORY_TOKEN.
let repositoryToken: string | undefined;
try {
  const file = values["repository-token-file"];
  repositoryToken = loadRepositoryToken({ file });
  if (file !== undefined && (statSync(file).mode & 0o077) !== 0)
    log.warn({ file }, "the repository token file can be read by others than its owner; chmod 600 it");
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
const node = await startInferenceNode({
  name: values.name ?? "node-1",
  host: values.host ?? "127.0.0.1",
  port: int("port"),
  modelRoot: values["models-dir"] ?? "models",
  // --models "" loads none: a node whose models the control plane places.
  ...(values.models !== undefined ? { models: values.models.split(",").filter(Boolean) } : {}),
  ...(values["metrics-port"] !== undefined ? { metricsPort: int("metrics-port") } : {}),
  ...(values["http-port"] !== undefined && values["http-port"] !== "" ? { httpPort: int("http-port") } : {}),
  httpRequestTimeoutMs: int("http-request-timeout-ms"),
  maxConcurrent: int("max-concurrent"),
  maxQueue: int("max-queue"),
  maxModels: int("max-models"),
  maxMessageBytes: int("max-message-bytes"),
  inferDelayMs: int("infer-delay-ms"),
  loadDelayMs: int("load-delay-ms"),
  versionFrom: versionFrom(),
  versionPorts: versionPorts(),
  drainDelayMs: int("drain-delay-ms"),
  shutdownGraceMs: int("shutdown-grace-ms"),
  executionProviders: (values.providers ?? "cpu").split(","),
  ...(repositoryToken !== undefined ? { repositoryToken } : {}),
  log,
}).catch((err: unknown) => {
  log.fatal({ err }, "inference node failed to start");
  process.exit(1);
});

// Tests and the local stack read this line to learn the ports chosen.
console.log(
  JSON.stringify({
    event: "ready",
    name: node.name,
    port: node.port,
    versionPorts: node.versionPorts,
    metricsPort: node.metricsPort,
    httpPort: node.httpPort,
  }),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "shutting down");
    node.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
