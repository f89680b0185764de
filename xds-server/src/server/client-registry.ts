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
  /** The snapshot version this client holds in full (every kind ACKed), or "" while it catches up. */
  syncedVersion: string;
  kinds: Record<XdsKind, KindStatus>;
  nacks: NackRecord[];
}

const MAX_NACKS_KEPT = 10;

/** The clients connected over ADS, for status and metrics. */
export interface ClientRegistry {
  /** Records a stream opening; the record returned is updated in place as the stream goes on. */
  open(node: Node, group: string, transport: Transport, now: Date): ClientRecord;
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

  open(node: Node, group: string, transport: Transport, now: Date): ClientRecord {
    const stream = this.#nextStream++;
    const status: ClientRecord = {
      stream,
      nodeId: node.id,
      cluster: node.cluster,
      userAgent: node.userAgentName,
      group,
      transport,
      connectedAt: now.toISOString(),
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
