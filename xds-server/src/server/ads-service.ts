/**
 * The Aggregated Discovery Service on grpc-js: State-of-the-World and delta (incremental) xDS v3
 * on one port, for Envoy and for proxyless grpc-js clients. Each stream is an AdsSession; what to
 * send is decided by StreamState, the shape of the response by the transport.
 */
import { status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { systemClock, type Clock } from "@inferencehub/contracts/clock";
import type { Node } from "../../../gen/envoy/envoy/config/core/v3/base.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../../gen/envoy/envoy/service/discovery/v3/discovery.js";
import type { SnapshotCache } from "../cache/index.js";
import {
  TYPE_URLS,
  kindOf,
  setVersion,
  type Snapshot,
  type SnapshotResource,
  type XdsKind,
} from "../snapshot/index.js";
import type { ClientRecord, ClientRegistry } from "./client-registry.js";
import type { XdsMetrics } from "./metrics.js";
import { StreamState, type Outgoing, type Transport } from "./stream-state.js";

export interface AdsServiceOptions {
  cache: SnapshotCache;
  registry: ClientRegistry;
  metrics: XdsMetrics;
  log: Logger;
  /** The snapshot group a client gets, from its node (id, cluster, user agent). */
  groupOf: (node: Node) => string;
  /**
   * Push latency is measured from the time the cache set a snapshot: the same clock as the
   * cache's (default systemClock for both).
   */
  clock?: Pick<Clock, "now">;
}

interface IncomingRequest {
  node?: Node | undefined;
  typeUrl: string;
  responseNonce: string;
  errorDetail?: { code: number; message: string } | undefined;
}

class AdsSession {
  readonly state: StreamState;
  #status: ClientRecord | undefined;
  #group = "";
  #unwatch: (() => void) | undefined;
  #nonce = 0;
  /** The transport's logger, then the stream's once the node is known (made once: every ACK logs). */
  #log: Logger;

  constructor(
    readonly transport: Transport,
    private readonly opts: AdsServiceOptions,
    private readonly write: (out: Outgoing, nonce: string, version: string, snapshot: Snapshot) => number,
    private readonly fail: (code: grpcStatus, message: string) => void,
    /** The stream's peer as grpc-js names it ("ip:port"). */
    private readonly peer = "",
  ) {
    this.state = new StreamState(transport);
    this.#log = opts.log.child({ transport });
  }

  get log(): Logger {
    return this.#log;
  }

  /** Checks the common fields; returns the kind, or undefined when the request is to be ignored. */
  begin(req: IncomingRequest): XdsKind | undefined {
    if (!this.#status) {
      // Only the first request is sure to carry the node (grpc-js sends it once): keep it.
      const node = req.node ?? ({ id: "", cluster: "", userAgentName: "" } as Node);
      this.#group = this.opts.groupOf(node);
      this.#status = this.opts.registry.open(node, this.#group, this.transport, new Date(), this.peer);
      this.#log = this.#log.child({ node: this.#status.nodeId, stream: this.#status.stream });
      this.opts.metrics.connected.inc({ group: this.#group, transport: this.transport });
      this.#unwatch = this.opts.cache.watch(this.#group, () => this.reconcile());
      this.log.info(
        { cluster: node.cluster, userAgent: node.userAgentName, group: this.#group },
        "xDS client connected",
      );
    }
    if (!req.typeUrl) {
      this.fail(grpcStatus.INVALID_ARGUMENT, "type_url is required on an aggregated (ADS) stream");
      return undefined;
    }
    const kind = kindOf(req.typeUrl);
    if (!kind) {
      this.log.warn(
        { typeUrl: req.typeUrl },
        "resource type not served; the client will wait for its initial fetch timeout",
      );
      return undefined;
    }
    return kind;
  }

  /** ACK or NACK of the response in flight for this kind; false when the nonce is stale. */
  settle(kind: XdsKind, req: IncomingRequest): boolean {
    const state = this.state.kinds[kind];
    const pending = state.pending;
    if (!req.responseNonce) return true;
    if (req.responseNonce !== state.lastNonce) return false;
    // The latest nonce, already settled: a subscription change, not an ACK.
    if (!pending) return true;
    const labels = { kind, transport: this.transport };
    if (req.errorDetail) {
      this.state.nack(kind);
      this.opts.metrics.nacks.inc(labels);
      const message = req.errorDetail.message;
      if (this.#status) {
        this.opts.registry.recordNack(this.#status, {
          kind,
          version: pending.version,
          message,
          at: new Date().toISOString(),
        });
      }
      this.log.error(
        { kind, version: pending.version, errorDetail: message },
        "client rejected config (NACK); it keeps its last good config",
      );
    } else {
      this.state.ack(kind);
      const setAt = this.opts.cache.setAt(pending.snapshotVersion);
      const now = (this.opts.clock ?? systemClock).now();
      if (setAt !== undefined) this.opts.metrics.pushLatency.observe(labels, (now - setAt) / 1000);
      this.log.debug({ kind, version: pending.version }, "ACK");
    }
    return true;
  }

  snapshot(): Snapshot | undefined {
    return this.opts.cache.get(this.#group);
  }

  /**
   * The names a client asked for, as the snapshot's own strings where it has them: a stream keeps
   * thousands of names (every cluster's endpoints), and each client would otherwise hold a copy.
   */
  interned(kind: XdsKind, names: readonly string[]): string[] {
    const held = this.snapshot()?.resources[kind];
    return held ? names.map((n) => held.get(n)?.name ?? n) : [...names];
  }

  /** The client group, known once the first request arrived. */
  get group(): string {
    return this.#group;
  }

  reconcile(): void {
    const snapshot = this.snapshot();
    if (!snapshot) return;
    const planned = this.state.plan(snapshot);
    for (const out of planned) {
      const nonce = String(++this.#nonce);
      const version = this.transport === "sotw" ? sotwVersion(out.next) : snapshot.version;
      const bytes = this.write(out, nonce, version, snapshot);
      this.state.sent(out, { nonce, version, snapshotVersion: snapshot.version });
      const labels = { kind: out.kind, transport: this.transport };
      this.opts.metrics.pushes.inc(labels);
      this.opts.metrics.pushBytes.inc(labels, bytes);
      this.log.debug(
        { kind: out.kind, version, resources: out.resources.length, removed: out.removed.length },
        "pushed",
      );
    }
    // Nothing planned and nothing in flight: the client holds this snapshot. (Planning again to
    // find that out would double the per-ACK cost, which grows with the number of resources.)
    this.#updateStatus(snapshot, planned.length === 0);
  }

  #updateStatus(snapshot: Snapshot, upToDate: boolean): void {
    const status = this.#status;
    if (!status) return;
    let synced = true;
    for (const [kind, s] of Object.entries(this.state.kinds) as [
      XdsKind,
      (typeof this.state.kinds)[XdsKind],
    ][]) {
      status.kinds[kind] = {
        ackedVersion: s.ackedVersion,
        resources: s.acked.size,
        pending: s.pending !== undefined,
        subscribed: s.wildcard ? "*" : s.names,
      };
      if (s.pending) synced = false;
    }
    if (synced && upToDate) status.syncedVersion = snapshot.version;
  }

  close(): void {
    this.#unwatch?.();
    if (this.#status) {
      this.opts.registry.close(this.#status.stream);
      this.opts.metrics.connected.dec({ group: this.#group, transport: this.transport });
      this.log.info("xDS client disconnected");
    }
  }
}

/**
 * A SotW response's version_info: the version of the set the client holds after it. Sets are never
 * changed once made (stream-state.ts), and streams in sync hold the snapshot's own, so it is
 * computed once per set rather than sorted and hashed again for every stream.
 */
const sotwVersions = new WeakMap<ReadonlyMap<string, SnapshotResource>, string>();
function sotwVersion(next: ReadonlyMap<string, SnapshotResource>): string {
  let version = sotwVersions.get(next);
  if (version === undefined) {
    version = setVersion(next.values());
    sotwVersions.set(next, version);
  }
  return version;
}

/** grpc-js turns an 'error' event on a server stream into the call's final status. */
function endWithStatus(call: ServerDuplexStream<unknown, unknown>, code: grpcStatus, details: string): void {
  call.emit("error", { code, details, name: "Error", message: details });
}

function attach<Req, Res>(
  call: ServerDuplexStream<Req, Res>,
  session: AdsSession,
  onRequest: (req: Req) => void,
): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    session.close();
  };
  call.on("data", (req: Req) => {
    try {
      onRequest(req);
    } catch (err) {
      session.log.error({ err }, "error handling a discovery request");
      endWithStatus(call, grpcStatus.INTERNAL, "the control plane failed on this request; see its log");
      close();
    }
  });
  call.on("end", () => {
    close();
    call.end();
  });
  call.on("error", close);
  call.on("cancelled", close);
  call.on("close", close);
}

function sotwResponse(out: Outgoing, nonce: string, version: string): DiscoveryResponse {
  return {
    versionInfo: version,
    resources: out.resources.map((r) => r.any),
    canary: false,
    typeUrl: TYPE_URLS[out.kind],
    nonce,
  };
}

function deltaResponse(out: Outgoing, nonce: string, version: string): DeltaDiscoveryResponse {
  return {
    systemVersionInfo: version,
    resources: out.resources.map((r) => ({ name: r.name, version: r.version, resource: r.any, aliases: [] })),
    typeUrl: TYPE_URLS[out.kind],
    removedResources: out.removed,
    removedResourceNames: [],
    nonce,
  };
}

/** One ADS stream: a session writing responses of the transport's shape. */
function serve<Req, Res>(
  call: ServerDuplexStream<Req, Res>,
  transport: Transport,
  opts: AdsServiceOptions,
  toResponse: (out: Outgoing, nonce: string, version: string) => Res,
  onRequest: (session: AdsSession, req: Req) => void,
): void {
  const session = new AdsSession(
    transport,
    opts,
    (out, nonce, version) => {
      call.write(toResponse(out, nonce, version));
      return out.resources.reduce((n, r) => n + r.any.value.length, 0);
    },
    (code, message) => endWithStatus(call, code, message),
    call.getPeer(),
  );
  attach(call, session, (req) => onRequest(session, req));
}

export function createAdsService(opts: AdsServiceOptions) {
  return {
    streamAggregatedResources(call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
      serve(call, "sotw", opts, sotwResponse, (session, req) => {
        const kind = session.begin(req);
        if (!kind) return;
        // A stale request (a nonce other than the last sent) is ignored in SotW.
        if (!session.settle(kind, req)) return;
        session.state.setNames(kind, session.interned(kind, req.resourceNames), session.snapshot());
        // Envoy reconnecting with what it holds gets nothing it has. Proxyless gRPC clients are
        // answered anyway: they may wait for a first response after a reconnect.
        if (!req.responseNonce && session.group === "envoy")
          session.state.resumeSotw(kind, req.versionInfo, session.snapshot());
        session.reconcile();
      });
    },

    deltaAggregatedResources(call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void {
      serve(call, "delta", opts, deltaResponse, (session, req) => {
        const kind = session.begin(req);
        if (!kind) return;
        if (!session.state.kinds[kind].requested && Object.keys(req.initialResourceVersions).length > 0) {
          session.state.setInitialVersions(kind, req.initialResourceVersions, session.snapshot());
        }
        session.settle(kind, req);
        // Subscription changes apply even when the nonce is stale.
        session.state.subscribe(
          kind,
          session.interned(kind, req.resourceNamesSubscribe),
          req.resourceNamesUnsubscribe,
          session.snapshot(),
        );
        session.reconcile();
      });
    },
  };
}
