/**
 * A real ADS server on a free port and a raw ADS client that reads responses one at a time:
 * protocol tests speak xDS over real gRPC with the exact messages Envoy and grpc-js send.
 */
import {
  credentials,
  Server,
  ServerCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { Registry } from "prom-client";
import {
  AggregatedDiscoveryServiceClient,
  AggregatedDiscoveryServiceService,
} from "../../../../gen/envoy/envoy/service/discovery/v3/ads.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../../../gen/envoy/envoy/service/discovery/v3/discovery.js";
import { createSnapshotCache, type SnapshotCache } from "../../cache/index.js";
import {
  XDS_KINDS,
  makeSnapshot,
  type EncodedResource,
  type Snapshot,
  type XdsKind,
} from "../../snapshot/index.js";
import { createAdsService, createClientRegistry, createXdsMetrics, type ClientRegistry } from "../index.js";

export interface TestAds {
  address: string;
  cache: SnapshotCache;
  registry: ClientRegistry;
  metricsRegistry: Registry;
  close(): Promise<void>;
}

export async function startTestAds(
  groupOf: (node: { userAgentName: string }) => string = () => "envoy",
): Promise<TestAds> {
  const cache = createSnapshotCache();
  const registry = createClientRegistry();
  const metricsRegistry = new Registry();
  const server = new Server();
  server.addService(
    AggregatedDiscoveryServiceService,
    createAdsService({
      cache,
      registry,
      metrics: createXdsMetrics(metricsRegistry),
      log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
      groupOf,
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    cache,
    registry,
    metricsRegistry,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A snapshot from short strings: `{ cluster: { a: "v1" } }` makes cluster 'a' with bytes "v1". */
export function snap(
  spec: Partial<Record<XdsKind, Record<string, string | { body: string; refs: string[] }>>>,
): Snapshot {
  const input = Object.fromEntries(XDS_KINDS.map((k) => [k, [] as EncodedResource[]])) as Record<
    XdsKind,
    EncodedResource[]
  >;
  for (const kind of XDS_KINDS) {
    for (const [name, v] of Object.entries(spec[kind] ?? {})) {
      const body = typeof v === "string" ? v : v.body;
      input[kind].push({
        name,
        bytes: Buffer.from(`${kind}/${name}/${body}`),
        refs: typeof v === "string" ? [] : v.refs,
      });
    }
  }
  return makeSnapshot(input);
}

/** Reads stream messages in order; next() fails after a timeout instead of hanging a test. */
export class Inbox<T> {
  readonly #queue: T[] = [];
  readonly #waiters: { resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  #error: Error | undefined;

  push(v: T): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(v);
    else this.#queue.push(v);
  }

  fail(err: Error): void {
    this.#error = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  next(timeoutMs = 5000): Promise<T> {
    const v = this.#queue.shift();
    if (v !== undefined) return Promise.resolve(v);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        resolve: (x) => (clearTimeout(timer), resolve(x)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  get buffered(): number {
    return this.#queue.length;
  }
}

export interface AdsStream<Req, Res> {
  send(req: Partial<Req>): void;
  inbox: Inbox<Res>;
  close(): void;
  client: AggregatedDiscoveryServiceClient;
}

/** Who a raw stream says it is; sent on the first request only, as Envoy's set_node_on_first_message_only. */
export interface AdsNode {
  id: string;
  cluster: string;
  userAgentName?: string;
}

export interface OpenStreamOptions {
  node?: AdsNode;
  /** e.g. a local subchannel pool, so that several streams are several connections, as several Envoys. */
  channelOptions?: ChannelOptions;
}

function wireNode(node: AdsNode = { id: "test-node", cluster: "test" }) {
  return {
    id: node.id,
    cluster: node.cluster,
    userAgentName: node.userAgentName ?? "envoy",
    clientFeatures: [],
    extensions: [],
    listeningAddresses: [],
    dynamicParameters: {},
  };
}

/** One raw ADS stream; `defaults` fills the request fields a test leaves out. */
function openStream<Req, Res>(
  address: string,
  opts: OpenStreamOptions,
  open: (client: AggregatedDiscoveryServiceClient) => ClientDuplexStream<Req, Res>,
  defaults: Partial<Req>,
): AdsStream<Req, Res> {
  const client = new AggregatedDiscoveryServiceClient(
    address,
    credentials.createInsecure(),
    opts.channelOptions ?? {},
  );
  const call = open(client);
  const inbox = new Inbox<Res>();
  call.on("data", (r: Res) => inbox.push(r));
  call.on("error", (e: Error) => inbox.fail(e));
  let first = true;
  return {
    client,
    inbox,
    send: (req) => {
      call.write({ ...defaults, ...(first ? { node: wireNode(opts.node) } : {}), ...req } as Req);
      first = false;
    },
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

export function openSotw(
  address: string,
  opts: OpenStreamOptions = {},
): AdsStream<DiscoveryRequest, DiscoveryResponse> {
  return openStream<DiscoveryRequest, DiscoveryResponse>(
    address,
    opts,
    (c) => c.streamAggregatedResources(),
    {
      versionInfo: "",
      resourceNames: [],
      resourceLocators: [],
      typeUrl: "",
      responseNonce: "",
    },
  );
}

export function openDelta(
  address: string,
  opts: OpenStreamOptions = {},
): AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  return openStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
    address,
    opts,
    (c) => c.deltaAggregatedResources(),
    {
      typeUrl: "",
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      resourceLocatorsSubscribe: [],
      resourceLocatorsUnsubscribe: [],
      initialResourceVersions: {},
      responseNonce: "",
    },
  );
}
