/**
 * The stack every SDK suite (#19) runs against, whatever its language: real reference nodes (gRPC
 * and REST), the control plane, ext-authz and Envoy, described to the suite by environment
 * variables, plus a small HTTP "faults" server through which a suite kills nodes at the moment it
 * needs (before a call, or while a node holds one) and reads the counters that show whether a
 * call ran twice. The Python and C# suites run as child processes with `env`; the TypeScript
 * suite reads the same variables.
 *
 * env: INFERENCEHUB_TARGET (gRPC host:port), INFERENCEHUB_URL (REST, the same port),
 * INFERENCEHUB_API_KEY (tenant acme: mlp, scale, mixed), INFERENCEHUB_OTHER_API_KEY (tenant other:
 * mlp only), INFERENCEHUB_LIMITED_API_KEY (tenant limited: scale, 1 call/s, burst 1),
 * INFERENCEHUB_VECTORS, INFERENCEHUB_FAULTS_URL, INFERENCEHUB_SLOW_MS, INFERENCEHUB_ADS_PORT.
 *
 * Models: mlp v1 and mixed v1 on node-a; scale v1 and v2 (50/50) on node-a and node-b; scale v3
 * (weight 0) on node-slow-1 and node-slow-2, which take INFERENCEHUB_SLOW_MS per infer.
 *
 * Faults: POST /kill?node=N (SIGKILL; answers once it exited and Envoy saw its connections close,
 * so that the next call meets a node that refuses connections, not one that died under it); POST /kill-busy?model=M&version=V
 * (waits until a node has a call of M/V in flight that arrived after the last GET /requests for
 * M/V, SIGKILLs it; 504 after 10 s); GET
 * /requests?model=M&version=V (requests_total per live node); GET /envoy-retries.
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExtAuthzProcess } from "../../scripts/lib/ext-authz-process.js";
import { metricValue, type NodeProcess } from "../../scripts/lib/node-process.js";
import { repoRoot, vectorsPath } from "../../scripts/lib/paths.js";
import { freePort } from "../../scripts/lib/ports.js";
import { startTestAuthz } from "./auth.js";
import { gatewayConfig, type ModelEntry } from "./configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./gateway-fixture.js";

export const SDK_SLOW_MS = 3000;
const keys = { acme: "ihk_sdk-acme", other: "ihk_sdk-other", limited: "ihk_sdk-limited" };
const busyWaitMs = 10_000;

export interface SdkStack {
  env: Record<string, string>;
  gw: GatewayFixture;
  stop(): Promise<void>;
}

function models(): ModelEntry[] {
  return [
    { name: "mlp", versions: [{ version: "1", nodes: ["node-a"] }] },
    { name: "mixed", versions: [{ version: "1", nodes: ["node-a"] }] },
    {
      name: "scale",
      versions: [
        { version: "1", weight: 50, nodes: ["node-a", "node-b"] },
        { version: "2", weight: 50, nodes: ["node-a", "node-b"] },
        { version: "3", weight: 0, nodes: ["node-slow-1", "node-slow-2"] },
      ],
    },
  ];
}

export interface SuiteRun {
  code: number | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/**
 * Runs another language's suite (or its build) from the repository root with the stack's
 * environment added; killed after `timeoutMs`.
 */
export function runSuite(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<SuiteRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function startSdkStack(): Promise<SdkStack> {
  const extAuthzPort = await freePort();
  const config = (nodes: NodeEntry[], port: number, controlPlane?: string) =>
    gatewayConfig(nodes, port, models(), {
      auth: {
        extAuthz: { address: `127.0.0.1:${extAuthzPort}`, timeout: "1s" },
        keysFile: "keys.yaml",
        tenants: [
          { name: "acme", models: ["mlp", "scale", "mixed"] },
          { name: "other", models: ["mlp"] },
          { name: "limited", models: ["scale"], rateLimit: { callsPerSecond: 1, burst: 1 } },
        ],
      },
      ...(controlPlane ? { controlPlane: { address: controlPlane } } : {}),
    });
  const slow = ["--infer-delay-ms", String(SDK_SLOW_MS)];
  const gw = await startGateway({
    nodes: [
      { name: "node-a", models: ["mlp", "scale", "mixed"], httpPort: 0 },
      { name: "node-b", models: ["scale"], httpPort: 0 },
      { name: "node-slow-1", models: ["scale"], httpPort: 0, args: slow },
      { name: "node-slow-2", models: ["scale"], httpPort: 0, args: slow },
    ],
    config: (nodes, port) => config(nodes, port),
  });
  let authz: ExtAuthzProcess | undefined;
  let faults: Server | undefined;
  try {
    authz = await startTestAuthz(gw, extAuthzPort, [
      { id: "acme", tenant: "acme", key: keys.acme },
      { id: "other", tenant: "other", key: keys.other },
      { id: "limited", tenant: "limited", key: keys.limited },
    ]);
    // The control plane answers ServerReady once the config names it (its ADS port is known now).
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, `127.0.0.1:${gw.xds.adsPort}`));
    faults = await listen(faultHandler(gw));
  } catch (err) {
    await authz?.stop();
    await gw.stop();
    throw err;
  }
  const faultsPort = (faults.address() as AddressInfo).port;
  return {
    gw,
    env: {
      INFERENCEHUB_TARGET: `127.0.0.1:${gw.listenPort}`,
      INFERENCEHUB_URL: `http://127.0.0.1:${gw.listenPort}`,
      INFERENCEHUB_API_KEY: keys.acme,
      INFERENCEHUB_OTHER_API_KEY: keys.other,
      INFERENCEHUB_LIMITED_API_KEY: keys.limited,
      INFERENCEHUB_VECTORS: vectorsPath,
      INFERENCEHUB_FAULTS_URL: `http://127.0.0.1:${faultsPort}`,
      INFERENCEHUB_SLOW_MS: String(SDK_SLOW_MS),
      INFERENCEHUB_ADS_PORT: String(gw.xds.adsPort),
    },
    stop: async () => {
      faults?.closeAllConnections();
      await new Promise((resolve) => faults?.close(resolve));
      await authz?.stop();
      await gw.stop();
    },
  };
}

function listen(handler: (req: IncomingMessage, url: URL) => Promise<[number, object]>): Promise<Server> {
  const server = createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://faults");
    handler(req, url)
      .catch((err: unknown) => [500, { error: String(err) }] as [number, object])
      .then(([code, body]) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

/** Nodes still running (a killed node stays in the fixture's map with its process gone). */
function liveNodes(gw: GatewayFixture): NodeProcess[] {
  return [...gw.nodes.values()].filter((n) => n.process.exitCode === null && n.process.signalCode === null);
}

/** Waits until Envoy holds no open connection to the node (its gRPC and REST ports). */
async function connectionsClosed(gw: GatewayFixture, node: NodeProcess): Promise<void> {
  const hosts = [node.address, ...(node.httpPort ? [`127.0.0.1:${node.httpPort}`] : [])];
  const open = (text: string) =>
    text.split("\n").some((line) => {
      const [, host, stat, value] = line.split("::");
      return stat === "cx_active" && hosts.includes(host ?? "") && Number(value) > 0;
    });
  const deadline = Date.now() + busyWaitMs;
  for (const envoy of gw.envoys) {
    while (open(await (await envoy.admin("/clusters")).text())) {
      if (Date.now() > deadline) throw new Error(`Envoy kept connections to ${node.name} open`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function faultHandler(gw: GatewayFixture) {
  const labels = (url: URL) => ({
    model: url.searchParams.get("model") ?? "",
    version: url.searchParams.get("version") ?? "",
  });
  const baselines = new Map<string, Record<string, number>>();
  const key = (url: URL) => `${labels(url).model}/${labels(url).version}`;
  return async (req: IncomingMessage, url: URL): Promise<[number, object]> => {
    const route = `${req.method ?? "GET"} ${url.pathname}`;
    if (route === "POST /kill") {
      const node = gw.nodes.get(url.searchParams.get("node") ?? "");
      if (!node) return [404, { error: `no node ${url.searchParams.get("node")}` }];
      await node.stop("SIGKILL");
      await connectionsClosed(gw, node);
      return [200, { killed: node.name }];
    }
    if (route === "POST /kill-busy") {
      // A call abandoned earlier (a deadline test's) may still hold a slow node: the call meant
      // is one that arrived after the suite's last GET /requests for this model and version.
      const since = baselines.get(key(url)) ?? {};
      const deadline = Date.now() + busyWaitMs;
      while (Date.now() < deadline) {
        for (const node of liveNodes(gw)) {
          const metrics = await node.metrics();
          const arrived =
            metricValue(metrics, "inferencehub_node_requests_total", labels(url)) > (since[node.name] ?? 0);
          if (arrived && metricValue(metrics, "inferencehub_node_inflight", labels(url)) > 0) {
            await node.stop("SIGKILL");
            return [200, { killed: node.name }];
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return [504, { error: `no node had a new call of ${url.search} in flight within ${busyWaitMs} ms` }];
    }
    if (route === "GET /requests") {
      const counts: Record<string, number> = {};
      for (const node of liveNodes(gw)) {
        counts[node.name] = metricValue(
          await node.metrics(),
          "inferencehub_node_requests_total",
          labels(url),
        );
      }
      baselines.set(key(url), counts);
      return [200, counts];
    }
    if (route === "GET /envoy-retries") {
      const stats = await gw.envoys[0]?.stats("upstream_rq_retry$");
      const retries = Object.values(stats ?? {}).reduce((a, b) => a + b, 0);
      return [200, { retries }];
    }
    return [404, { error: `no route ${route}` }];
  };
}
