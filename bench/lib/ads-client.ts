/**
 * Synthetic ADS clients that subscribe as Envoy does (CDS, LDS and SRDS wildcard, EDS and RDS by
 * the names those return) and ACK every response at once, over a raw stream from
 * xds-server/src/server/testing/ads-harness.ts (openSotw/openDelta), each with a node identity of its own
 * so that a hundred of them show as a hundred clients in /status. Each response is counted, by
 * kind, at its size on the wire (the encoded DiscoveryResponse) unless told not to.
 */
import { Cluster } from "../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import { Listener } from "../../gen/envoy/envoy/config/listener/v3/listener.js";
import { ScopedRouteConfiguration } from "../../gen/envoy/envoy/config/route/v3/scoped_route.js";
import {
  DeltaDiscoveryResponse,
  DiscoveryResponse,
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
} from "../../gen/envoy/envoy/service/discovery/v3/discovery.js";
import {
  type Inbox,
  openDelta,
  openSotw,
  type AdsNode,
  type AdsStream,
} from "../../xds-server/src/server/testing/index.js";
import {
  TYPE_URLS,
  XDS_KINDS,
  clusterRefs,
  kindOf,
  listenerRefs,
  scopeRefs,
  type XdsKind,
} from "../../xds-server/src/snapshot/index.js";

export type Transport = "sotw" | "delta";

export interface KindCounters {
  responses: number;
  /** Encoded DiscoveryResponse / DeltaDiscoveryResponse bytes. */
  wireBytes: number;
  /** Bytes of the resources' Any values alone (what inferencehub_xds_push_bytes_total counts). */
  resourceBytes: number;
  resources: number;
  /** performance.now() of the last response of this kind (its ACK is sent at once). */
  lastAt: number;
}

export interface EnvoyLikeClient {
  transport: Transport;
  counters: Record<XdsKind, KindCounters>;
  /** performance.now() of the last response received. */
  lastResponseAt: number;
  /** Resolves when every response received so far has been ACKed and none came for quietMs. */
  quiet(quietMs: number, timeoutMs?: number): Promise<void>;
  /** Zeroes the counters. */
  reset(): void;
  /** The first stream error other than the cancellation close() causes. */
  error: Error | undefined;
  close(): void;
}

const emptyCounters = (): Record<XdsKind, KindCounters> =>
  Object.fromEntries(
    XDS_KINDS.map((k) => [k, { responses: 0, wireBytes: 0, resourceBytes: 0, resources: 0, lastAt: 0 }]),
  ) as Record<XdsKind, KindCounters>;

const sameNames = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The kinds a client takes whole; each names resources of another kind, which it then asks for. */
type WildcardKind = "cluster" | "listener" | "scopedRoute";
const isWildcard = (kind: XdsKind): kind is WildcardKind =>
  kind === "cluster" || kind === "listener" || kind === "scopedRoute";
const wildcardKinds: readonly WildcardKind[] = ["cluster", "listener", "scopedRoute"];

/** The names a wildcard resource makes the client ask for. */
function namedBy(kind: WildcardKind, value: Uint8Array): string[] {
  if (kind === "cluster") return clusterRefs(Cluster.decode(value));
  if (kind === "listener") return listenerRefs(Listener.decode(value));
  return scopeRefs(ScopedRouteConfiguration.decode(value));
}

/** name → the names it refers to, for each wildcard kind. */
type Held = Record<WildcardKind, Map<string, string[]>>;
const emptyHeld = (): Held => ({ cluster: new Map(), listener: new Map(), scopedRoute: new Map() });

/** What the client asks for by name: endpoints of its clusters; routes of its listeners and scopes. */
function wanted(held: Held, kind: "endpoint" | "route"): string[] {
  const from: WildcardKind[] = kind === "endpoint" ? ["cluster"] : ["listener", "scopedRoute"];
  return [...new Set(from.flatMap((k) => [...held[k].values()].flat()))].sort();
}

/** Reads an inbox until the stream ends; close() ends it with a CANCELLED error, which is expected. */
function pump<T>(inbox: Inbox<T>, onMessage: (m: T) => void, onError: (e: Error) => void): void {
  void (async () => {
    for (;;) {
      let m: T;
      try {
        m = await inbox.next(3_600_000);
      } catch (err) {
        onError(err as Error);
        return;
      }
      onMessage(m);
    }
  })();
}

function base(transport: Transport, stream: { close(): void }) {
  let closed = false;
  const client: EnvoyLikeClient = {
    transport,
    counters: emptyCounters(),
    lastResponseAt: 0,
    error: undefined,
    reset: () => {
      client.counters = emptyCounters();
    },
    quiet: async (quietMs, timeoutMs = 30_000) => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const idle = performance.now() - client.lastResponseAt;
        if (idle >= quietMs) return;
        if (client.error) throw client.error;
        if (performance.now() > deadline) throw new Error(`ADS stream not quiet within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, quietMs - idle + 1));
      }
    },
    close: () => {
      closed = true;
      stream.close();
    },
  };
  const onError = (e: Error) => {
    if (!closed) client.error ??= e;
  };
  return { client, onError };
}

/** Counts one response against its kind; the kind, or undefined for a type URL not served. */
function count(
  client: EnvoyLikeClient,
  typeUrl: string,
  resourceSizes: number[],
  wireBytes: () => number,
): XdsKind | undefined {
  client.lastResponseAt = performance.now();
  const kind = kindOf(typeUrl);
  if (!kind) return undefined;
  const c = client.counters[kind];
  c.lastAt = client.lastResponseAt;
  c.responses++;
  c.resources += resourceSizes.length;
  c.wireBytes += wireBytes();
  c.resourceBytes += resourceSizes.reduce((n, size) => n + size, 0);
  return kind;
}

export interface EnvoyLikeOptions {
  /** Re-encode every response to count its wire size (default true); off, wireBytes stays 0. */
  countBytes?: boolean;
}

/** State of the World, as Envoy: CDS, LDS and SRDS wildcard, EDS and RDS by name, every response ACKed. */
export function envoyLikeSotw(
  stream: AdsStream<DiscoveryRequest, DiscoveryResponse>,
  opts: EnvoyLikeOptions = {},
): EnvoyLikeClient {
  const { client, onError } = base("sotw", stream);
  const held = emptyHeld();
  const names: Record<"endpoint" | "route", string[]> = { endpoint: [], route: [] };
  const last: Record<XdsKind, { version: string; nonce: string }> = Object.fromEntries(
    XDS_KINDS.map((k) => [k, { version: "", nonce: "" }]),
  ) as Record<XdsKind, { version: string; nonce: string }>;
  const request = (kind: XdsKind) =>
    stream.send({
      typeUrl: TYPE_URLS[kind],
      versionInfo: last[kind].version,
      responseNonce: last[kind].nonce,
      resourceNames: kind === "endpoint" || kind === "route" ? names[kind] : [],
    });
  const follow = (kind: "endpoint" | "route") => {
    const now = wanted(held, kind);
    if (sameNames(now, names[kind])) return;
    names[kind] = now;
    request(kind);
  };

  pump(
    stream.inbox,
    (r) => {
      const kind = count(
        client,
        r.typeUrl,
        r.resources.map((a) => a.value.length),
        () => (opts.countBytes === false ? 0 : DiscoveryResponse.encode(r).finish().length),
      );
      if (!kind) return;
      last[kind] = { version: r.versionInfo, nonce: r.nonce };
      if (isWildcard(kind)) {
        // Full state: the response replaces everything held of this kind.
        held[kind] = new Map(r.resources.map((a, i) => [String(i), namedBy(kind, a.value)]));
        follow(kind === "cluster" ? "endpoint" : "route");
      }
      request(kind); // the ACK
    },
    onError,
  );
  for (const kind of wildcardKinds) stream.send({ typeUrl: TYPE_URLS[kind], resourceNames: [] });
  return client;
}

/** Delta (incremental), as Envoy: CDS, LDS and SRDS wildcard, EDS and RDS subscribed by name, every response ACKed. */
export function envoyLikeDelta(
  stream: AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
  opts: EnvoyLikeOptions = {},
): EnvoyLikeClient {
  const { client, onError } = base("delta", stream);
  const held = emptyHeld();
  const subscribed: Record<"endpoint" | "route", Set<string>> = { endpoint: new Set(), route: new Set() };
  const follow = (target: "endpoint" | "route") => {
    const now = new Set(wanted(held, target));
    const add = [...now].filter((n) => !subscribed[target].has(n));
    const drop = [...subscribed[target]].filter((n) => !now.has(n));
    if (add.length + drop.length === 0) return;
    subscribed[target] = now;
    stream.send({ typeUrl: TYPE_URLS[target], resourceNamesSubscribe: add, resourceNamesUnsubscribe: drop });
  };

  pump(
    stream.inbox,
    (r) => {
      const kind = count(
        client,
        r.typeUrl,
        r.resources.map((res) => res.resource?.value.length ?? 0),
        () => (opts.countBytes === false ? 0 : DeltaDiscoveryResponse.encode(r).finish().length),
      );
      if (!kind) return;
      if (isWildcard(kind)) {
        for (const name of r.removedResources) held[kind].delete(name);
        for (const res of r.resources)
          held[kind].set(res.name, namedBy(kind, res.resource?.value ?? new Uint8Array()));
        follow(kind === "cluster" ? "endpoint" : "route");
      }
      stream.send({ typeUrl: r.typeUrl, responseNonce: r.nonce }); // the ACK
    },
    onError,
  );
  for (const kind of wildcardKinds) stream.send({ typeUrl: TYPE_URLS[kind] });
  return client;
}

// One channel per client, as separate Envoys would have (grpc-js would otherwise share one).
const channelOptions = { "grpc.max_receive_message_length": -1, "grpc.use_local_subchannel_pool": 1 };

/** An Envoy-like synthetic client on a stream of its own. */
export function envoyLike(
  address: string,
  transport: Transport,
  node: AdsNode,
  opts: EnvoyLikeOptions = {},
): EnvoyLikeClient {
  return transport === "sotw"
    ? envoyLikeSotw(openSotw(address, { node, channelOptions }), opts)
    : envoyLikeDelta(openDelta(address, { node, channelOptions }), opts);
}
