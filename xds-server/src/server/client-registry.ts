/**
 * Who is connected and what each holds: the answer to "is every Envoy in sync?" in the admin
 * status. Entries live exactly as long as their stream.
 */
import type { Node } from "../../../gen/envoy/envoy/config/core/v3/base.js";
import { XDS_KINDS, type XdsKind } from "../snapshot/index.js";
import type { Transport } from "./stream-state.js";

export interface NackRecord {
  kind: XdsKind;
  /** The version the client rejected. */
  version: string;
  message: string;
  at: string;
}

export interface KindStatus {
  /** SotW: the version_info the client ACKed; delta: the snapshot version of its last ACK. */
  ackedVersion: string;
  resources: number;
  pending: boolean;
  subscribed: string[] | "*";
}

/**
 * What a stream records on every event. The names it subscribes to are kept as its live set and
 * listed (sorted) only when the status is read: an Envoy at 1,000 models names 4,000 endpoint
 * assignments and route configurations, and sorting them on every ACK cost as much as planning.
 */
export interface KindRecord extends Omit<KindStatus, "subscribed"> {
  subscribed: ReadonlySet<string> | "*";
}

export interface ClientRecord extends Omit<ClientStatus, "kinds"> {
  kinds: Record<XdsKind, KindRecord>;
}

export interface ClientStatus {
  stream: number;
  nodeId: string;
  cluster: string;
  userAgent: string;
  group: string;
  transport: Transport;
  connectedAt: string;
  /** The IP address the stream comes from ("" when unknown): where its admin is read, never from metadata. */
  peerIp: string;
  /**
   * The admin port the client declares in its node metadata (`inferencehub_admin_port`), which the
   * rollout engine reads its stats from at peerIp; undefined when it declares none (or 0).
   */
  adminPort?: number;
  /** The snapshot version this client holds in full (every kind ACKed), or "" while it catches up. */
  syncedVersion: string;
  kinds: Record<XdsKind, KindStatus>;
  nacks: NackRecord[];
}

const MAX_NACKS_KEPT = 10;

/** The clients connected over ADS, for status and metrics. */
export interface ClientRegistry {
  /** Records a stream opening; the record returned is updated in place as the stream goes on. */
  open(node: Node, group: string, transport: Transport, now: Date, peer?: string): ClientRecord;
  close(stream: number): void;
  /** Keeps the last few NACKs of a client. */
  recordNack(status: ClientRecord, nack: NackRecord): void;
  /** A copy of every client's status, for /status and the admin API. */
  list(): ClientStatus[];
  readonly size: number;
}

export function createClientRegistry(): ClientRegistry {
  return new MemoryClientRegistry();
}

class MemoryClientRegistry implements ClientRegistry {
  readonly #clients = new Map<number, ClientRecord>();
  #nextStream = 1;

  open(node: Node, group: string, transport: Transport, now: Date, peer = ""): ClientRecord {
    const stream = this.#nextStream++;
    const adminPort = declaredAdminPort(node);
    const status: ClientRecord = {
      stream,
      nodeId: node.id,
      cluster: node.cluster,
      userAgent: node.userAgentName,
      group,
      transport,
      connectedAt: now.toISOString(),
      peerIp: peerIpOf(peer),
      ...(adminPort !== undefined ? { adminPort } : {}),
      syncedVersion: "",
      kinds: Object.fromEntries(
        XDS_KINDS.map((k) => [k, { ackedVersion: "", resources: 0, pending: false, subscribed: new Set() }]),
      ) as unknown as Record<XdsKind, KindRecord>,
      nacks: [],
    };
    this.#clients.set(stream, status);
    return status;
  }

  close(stream: number): void {
    this.#clients.delete(stream);
  }

  recordNack(status: ClientRecord, nack: NackRecord): void {
    status.nacks.unshift(nack);
    status.nacks.length = Math.min(status.nacks.length, MAX_NACKS_KEPT);
  }

  list(): ClientStatus[] {
    return [...this.#clients.values()].map((record) => ({
      ...record,
      kinds: Object.fromEntries(
        Object.entries(record.kinds).map(([kind, k]) => [
          kind,
          { ...k, subscribed: k.subscribed === "*" ? "*" : [...k.subscribed].sort() },
        ]),
      ) as Record<XdsKind, KindStatus>,
      nacks: [...record.nacks],
    }));
  }

  get size(): number {
    return this.#clients.size;
  }
}

/** The node metadata key in which an Envoy declares its admin port (envoy/bootstrap-ads.template.yaml). */
export const ADMIN_PORT_METADATA_KEY = "inferencehub_admin_port";

function declaredAdminPort(node: Node): number | undefined {
  const raw: unknown = (node.metadata as Record<string, unknown> | undefined)?.[ADMIN_PORT_METADATA_KEY];
  const port = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  return typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/**
 * The IP of grpc-js's call.getPeer() ("1.2.3.4:5678", "::1:5678", "::ffff:1.2.3.4:5678", or
 * "unknown"); an IPv4-mapped IPv6 address is given as IPv4. "" when there is none.
 */
export function peerIpOf(peer: string): string {
  const i = peer.lastIndexOf(":");
  if (i <= 0) return "";
  let ip = peer.slice(0, i).replace(/^\[|\]$/g, "");
  if (ip.startsWith("::ffff:") && ip.includes(".")) ip = ip.slice("::ffff:".length);
  return ip;
}
