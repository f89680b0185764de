/**
 * The whole data path as real processes on free ports: reference nodes, the control plane with
 * a config file of the test's own, and Envoys bootstrapped from envoy/bootstrap-ads.template.yaml.
 * Every start waits on an event (ready line, admin LIVE, ACK recorded by the control plane).
 */
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../../scripts/lib/envoy-process.js";
import { createInferClient, type InferClient } from "../../scripts/lib/infer-client.js";
import { startNode, type NodeProcess, type StartNodeOptions } from "../../scripts/lib/node-process.js";
import { freePort } from "../../scripts/lib/ports.js";
import { startXdsServer, type XdsProcess } from "../../scripts/lib/xds-process.js";
import { contentHash } from "../../xds-server/src/snapshot/index.js";

export type AdsTransport = "sotw" | "delta";

export interface NodeEntry {
  name: string;
  address: string;
  pool?: string;
  /** The node's REST port, for nodes started with `httpPort`. */
  restPort?: number;
}

export interface GatewayFixture {
  dir: string;
  configPath: string;
  listenPort: number;
  nodes: Map<string, NodeProcess>;
  xds: XdsProcess;
  envoys: EnvoyProcess[];
  /** Node entries for the config file, from the running nodes. */
  nodeEntries(pools?: Record<string, string>): NodeEntry[];
  /** Writes the config as editors do: a temp file renamed over the old one. */
  writeConfig(config: object): Promise<void>;
  /** Writes the config in place (truncate and write), as some editors and `>` do. */
  writeConfigInPlace(config: object): Promise<void>;
  /**
   * Writes the config and waits until the control plane serves exactly it (its content hash is
   * the config version) and the given clients (default: every Envoy started here) have ACKed it.
   */
  applyConfig(config: object, opts?: { inPlace?: boolean; clients?: string[] }): Promise<void>;
  /**
   * Starts an Envoy on the shared data port. With `adminMetadata` (default: the gateway's
   * `envoyAdminMetadata`), its admin port is picked beforehand and declared in its node metadata,
   * where the control plane's rollout engine finds it; without, it declares none (port 0).
   */
  startEnvoy(opts?: {
    id?: string;
    transport?: AdsTransport;
    adminMetadata?: boolean;
  }): Promise<EnvoyProcess>;
  client(): InferClient;
  /**
   * Stops the control plane and starts another on the same config file and ports (Envoys
   * reconnect to it by themselves); `xds` is the new one afterwards.
   */
  restartXds(): Promise<XdsProcess>;
  stop(): Promise<void>;
}

export async function startGateway(opts: {
  nodes: StartNodeOptions[];
  /** The config to start with, built from the running nodes. */
  config: (nodes: NodeEntry[], listenPort: number) => object;
  transport?: AdsTransport;
  envoy?: boolean;
  /** Environment of the control plane process (e.g. INFERENCEHUB_ADMIN_TOKEN). */
  xdsEnv?: Record<string, string>;
  /** Envoys declare their admin port in node metadata, for rollouts gated on their stats (default false). */
  envoyAdminMetadata?: boolean;
  /** Writes the first config file from this text instead of serializing config() (to keep comments). */
  configText?: (nodes: NodeEntry[], listenPort: number) => string;
}): Promise<GatewayFixture> {
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-"));
  const configPath = join(dir, "inferencehub.yaml");
  const clients: InferClient[] = [];
  const nodes = new Map<string, NodeProcess>();
  const envoys: EnvoyProcess[] = [];
  let xds: XdsProcess | undefined;

  const stop = async () => {
    for (const c of clients) c.close();
    await Promise.all(envoys.map((e) => e.stop()));
    await xds?.stop();
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const n of await Promise.all(opts.nodes.map((o) => startNode(o)))) nodes.set(n.name, n);
    const listenPort = await freePort();
    const nodeEntries = (pools: Record<string, string> = {}) =>
      [...nodes.values()].map((n) => ({
        name: n.name,
        address: n.address,
        pool: pools[n.name] ?? "default",
        ...(n.httpPort !== undefined ? { restPort: n.httpPort } : {}),
      }));
    const serialize = (config: object) => stringify(config);
    await writeFile(
      configPath,
      opts.configText
        ? opts.configText(nodeEntries(), listenPort)
        : serialize(opts.config(nodeEntries(), listenPort)),
    );
    xds = await startXdsServer({ configPath, ...(opts.xdsEnv ? { env: opts.xdsEnv } : {}) });

    const fixture: GatewayFixture = {
      dir,
      configPath,
      listenPort,
      nodes,
      xds,
      envoys,
      nodeEntries,
      writeConfig: async (config) => {
        const tmp = `${configPath}.tmp-${process.pid}`;
        await writeFile(tmp, serialize(config));
        await rename(tmp, configPath);
      },
      writeConfigInPlace: async (config) => writeFile(configPath, serialize(config)),
      applyConfig: async (config, { inPlace = false, clients } = {}) => {
        const text = serialize(config);
        if (inPlace) await writeFile(configPath, text);
        else await fixture.writeConfig(config);
        const version = contentHash(text);
        await fixture.xds.waitFor((s) => s.configVersion === version, `config ${version} to serve`);
        for (const id of clients ?? envoys.map((e) => e.name)) await fixture.xds.waitForSync(id);
      },
      startEnvoy: async ({
        id = `envoy-${envoys.length + 1}`,
        transport = opts.transport ?? "sotw",
        adminMetadata = opts.envoyAdminMetadata ?? false,
      } = {}) => {
        const envoy = await startEnvoy({
          name: id,
          bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
            NODE_ID: id,
            NODE_CLUSTER: "inferencehub-test",
            // 0 lets Envoy pick (read back from --admin-address-path), declaring none in metadata.
            ADMIN_PORT: adminMetadata ? await freePort() : 0,
            XDS_HOST: "127.0.0.1",
            XDS_PORT: fixture.xds.adsPort,
            ADS_API_TYPE: transport === "delta" ? "DELTA_GRPC" : "GRPC",
          }),
        });
        envoys.push(envoy);
        await fixture.xds.waitForSync(id);
        return envoy;
      },
      restartXds: async () => {
        const old = fixture.xds;
        await old.stop();
        xds = await startXdsServer({
          configPath,
          adsPort: old.adsPort,
          adminPort: old.adminPort,
          ...(opts.xdsEnv ? { env: opts.xdsEnv } : {}),
        });
        fixture.xds = xds;
        return xds;
      },
      client: () => {
        const c = createInferClient(`127.0.0.1:${listenPort}`);
        clients.push(c);
        return c;
      },
      stop,
    };
    if (opts.envoy ?? true) await fixture.startEnvoy();
    return fixture;
  } catch (err) {
    await stop();
    throw err;
  }
}
