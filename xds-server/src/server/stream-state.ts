/**
 * What one ADS stream (one Envoy or one proxyless gRPC client) has asked for and holds, kind by
 * kind, and the decision of what to send next. Shared by State-of-the-World and delta streams;
 * only the shape of the response differs (see sotw-stream.ts and delta-stream.ts).
 *
 * Rules, from Envoy's xDS protocol document and docs/XDS-CHECKLIST.md:
 * - one response per kind in flight; the next waits for its ACK or NACK;
 * - make before break: kinds go in XDS_KINDS order (clusters, endpoints, listeners, scopes,
 *   routes; the kinds table, resources/kinds.ts); routing kinds (listeners, scopes, routes) wait
 *   while an upstream kind (clusters, endpoints) has a response in flight (endpoints do not wait for clusters: Envoy ACKs CDS only once new clusters warm on
 *   their endpoints, https://github.com/envoyproxy/envoy/issues/13009); and for clients that take
 *   every cluster (Envoy), a route that points at a cluster whose cluster and endpoints the client
 *   has not ACKed is held back; clusters the client's current routes still use are removed only
 *   once new routes are ACKed; a route configuration the client stops asking for is dropped;
 * - a NACKed content is not resent; the client keeps its last good config;
 * - a changed cluster's endpoints go out with it, even if unchanged, or it stays warming.
 * https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
 */
import {
  XDS_KINDS,
  isFullState,
  isUpstream,
  setVersion,
  type Snapshot,
  type SnapshotResource,
  type XdsKind,
} from "../snapshot/index.js";

export type Transport = "sotw" | "delta";

export interface KindState {
  kind: XdsKind;
  /** A request for this kind has arrived. */
  requested: boolean;
  /** The first request of a kind is always answered, even with nothing. */
  answered: boolean;
  wildcard: boolean;
  /** Not changed in place either: it may be the set every stream in sync shares (sharedNames). */
  names: ReadonlySet<string>;
  /**
   * What the client has applied (ACKed), by name. Never changed in place: a client that holds all
   * of a kind holds the snapshot's own map, shared by every stream (see desired()).
   */
  acked: ReadonlyMap<string, SnapshotResource>;
  /** SotW: the version string of the last ACKed response. */
  ackedVersion: string;
  pending?: PendingResponse;
  /** The nonce of the last response sent for this kind: requests naming another are stale. */
  lastNonce: string;
  /** Names to send even if the client holds the same version. */
  force: Set<string>;
  /** Delta: name → version the client rejected. */
  nacked: Map<string, string>;
  /** SotW: the set the client rejected, not to be sent again. */
  nackedSet?: ReadonlyMap<string, SnapshotResource>;
  /** Delta: names reported missing, so they are reported once. */
  reportedMissing: Set<string>;
}

export interface PendingResponse {
  nonce: string;
  /** SotW: the response's version_info; delta: the snapshot version. */
  version: string;
  snapshotVersion: string;
  /** What the client will hold for this kind once it ACKs (not changed in place, as `acked`). */
  next: ReadonlyMap<string, SnapshotResource>;
  /** Delta: the resources in this response (their versions are what a NACK rejects). */
  sent: SnapshotResource[];
}

/** One response to write, transport-neutral. */
export interface Outgoing {
  kind: XdsKind;
  /** Every resource the response carries. */
  resources: SnapshotResource[];
  /** Delta only: names the client should drop. */
  removed: string[];
  /** The complete set the client holds after applying it. */
  next: ReadonlyMap<string, SnapshotResource>;
}

export function newKindState(kind: XdsKind): KindState {
  return {
    kind,
    requested: false,
    answered: false,
    wildcard: false,
    names: new Set(),
    acked: new Map(),
    ackedVersion: "",
    lastNonce: "",
    force: new Set(),
    nacked: new Map(),
    reportedMissing: new Set(),
  };
}

export class StreamState {
  readonly kinds: Record<XdsKind, KindState>;
  /** SotW kinds the client was found to hold in full when it reconnected (resumeSotw). */
  readonly #resumed = new Set<XdsKind>();

  constructor(readonly transport: Transport) {
    this.kinds = Object.fromEntries(XDS_KINDS.map((k) => [k, newKindState(k)])) as Record<XdsKind, KindState>;
  }

  /**
   * The last answers of the walks below, with the held sets they were computed from. Held sets and
   * snapshot maps are replaced, never changed in place, and a snapshot shares the maps of the
   * kinds an edit did not touch with the last one: the same objects give the same answer, so the
   * plan after an ACK, or for an edit of another kind, does not walk every route again.
   */
  #inUseMemo: { acked: unknown; next: unknown; inUse: Set<string> } | undefined;
  #routesReadyMemo: { desired: unknown; clusters: unknown; endpoints: unknown } | undefined;
  #retainedMemo = new Map<XdsKind, { inputs: readonly unknown[]; retained: Map<string, SnapshotResource> }>();

  /** Clusters the client's routes may still send traffic to: those applied and those in flight. */
  #clustersInUse(): Set<string> {
    const routes = this.kinds.route;
    const next = routes.pending?.next;
    const memo = this.#inUseMemo;
    if (memo?.acked === routes.acked && memo.next === next) return memo.inUse;
    const inUse = new Set<string>();
    for (const set of [routes.acked, next ?? new Map()]) {
      for (const route of set.values()) for (const c of route.refs) inUse.add(c);
    }
    this.#inUseMemo = { acked: routes.acked, next, inUse };
    return inUse;
  }

  /**
   * The resources of a kind this client should hold now, in the snapshot's (name) order. inUse is
   * #clustersInUse(), passed in by plan() so that it is computed once per plan.
   *
   * When that is all of the snapshot's kind (Envoy takes every cluster, and names every endpoint
   * assignment and route configuration), it is the snapshot's own map: once ACKed it is what the
   * stream holds, so 100 streams in sync share one map per kind instead of keeping 100 copies of
   * thousands of entries.
   */
  desired(
    kind: XdsKind,
    snapshot: Snapshot,
    inUse: ReadonlySet<string> = this.#clustersInUse(),
  ): ReadonlyMap<string, SnapshotResource> {
    const state = this.kinds[kind];
    const current = snapshot.resources[kind];
    const retained = this.#retained(kind, current, inUse);
    // Wildcard plus names: names are within "everything" already.
    const all = state.wildcard && isFullState(kind);
    if (retained.size === 0 && (all || namesAll(state.names, current))) return current;
    const out = new Map<string, SnapshotResource>();
    for (const [name, r] of current) if (all || state.names.has(name)) out.set(name, r);
    for (const [name, r] of retained) if (all || state.names.has(name)) out.set(name, r);
    return out;
  }

  /**
   * What the client holds that the snapshot no longer has but its routes may still send traffic
   * to: clusters, for clients that hold every cluster, and the endpoints of those it has applied.
   */
  #retained(
    kind: XdsKind,
    current: ReadonlyMap<string, SnapshotResource>,
    inUse: ReadonlySet<string>,
  ): Map<string, SnapshotResource> {
    const retained = new Map<string, SnapshotResource>();
    if (!(kind === "endpoint" || (kind === "cluster" && this.kinds.cluster.wildcard))) return retained;
    const inputs = [current, inUse, this.kinds.cluster.acked, this.kinds[kind].acked];
    const memo = this.#retainedMemo.get(kind);
    if (memo?.inputs.every((input, i) => input === inputs[i])) return memo.retained;
    for (const name of inUse) {
      if (current.has(name)) continue;
      if (kind === "endpoint" && !this.kinds.cluster.acked.has(name)) continue;
      const held = this.kinds[kind].acked.get(name);
      if (held) retained.set(name, held);
    }
    this.#retainedMemo.set(kind, { inputs, retained });
    return retained;
  }

  /** Make before break for clients that hold every cluster: routes wait for their clusters. */
  #routesReady(desired: ReadonlyMap<string, SnapshotResource>): boolean {
    if (!this.kinds.cluster.wildcard) return true;
    const clusters = this.kinds.cluster.acked;
    const endpoints = this.kinds.endpoint.acked;
    const memo = this.#routesReadyMemo;
    if (memo?.desired === desired && memo.clusters === clusters && memo.endpoints === endpoints) return true;
    if (!this.#routesHeld(desired, clusters, endpoints)) return false;
    this.#routesReadyMemo = { desired, clusters, endpoints };
    return true;
  }

  /** Whether every cluster the routes name is held, with its endpoints. */
  #routesHeld(
    desired: ReadonlyMap<string, SnapshotResource>,
    clusters: ReadonlyMap<string, SnapshotResource>,
    endpoints: ReadonlyMap<string, SnapshotResource>,
  ): boolean {
    for (const route of desired.values()) {
      for (const c of route.refs) {
        const cluster = clusters.get(c);
        if (!cluster) return false;
        // An EDS cluster names its endpoints; a cluster with its address inline (the control
        // plane's, ext-authz's) has none to wait for.
        if (!cluster.refs.every((e) => endpoints.has(e))) return false;
      }
    }
    return true;
  }

  /**
   * The responses to write now, in order; each kind's entry becomes pending when written.
   * Returns nothing when the client is up to date or must first ACK something.
   */
  plan(snapshot: Snapshot | undefined): Outgoing[] {
    const out: Outgoing[] = [];
    if (!snapshot) return out;
    const inUse = this.#clustersInUse();
    for (const kind of XDS_KINDS) {
      const state = this.kinds[kind];
      // Endpoints flow while clusters await their ACK: Envoy ACKs CDS only once the new clusters
      // have warmed, and they warm on their endpoints. Routing kinds (listeners, scopes, routes)
      // wait for every upstream kind (clusters, endpoints), and each for those pushed before it.
      const upstream = isUpstream(kind);
      if (!upstream && XDS_KINDS.some((k) => isUpstream(k) && this.kinds[k].pending)) break;
      if (state.pending) {
        if (upstream) continue;
        break;
      }
      if (!state.requested) continue;
      const desired = this.desired(kind, snapshot, inUse);
      if (kind === "route" && !this.#routesReady(desired)) break;
      const next =
        this.transport === "sotw" ? this.#planSotw(state, desired) : this.#planDelta(state, desired);
      if (next) out.push(next);
      if (next && kind === "cluster") this.#forceEndpointsOfChanged(next);
    }
    return out;
  }

  /**
   * A changed cluster warms again and waits for its endpoints before Envoy ACKs the clusters: send
   * them with the clusters, even if unchanged. Waiting for the ACK instead would leave the cluster
   * warming until Envoy's initial_fetch_timeout (15 s) gave up on them.
   */
  #forceEndpointsOfChanged(clusters: Outgoing): void {
    const held = this.kinds.cluster.acked;
    for (const r of clusters.resources) {
      const before = held.get(r.name);
      if (before && before.version !== r.version) this.kinds.endpoint.force.add(r.name);
    }
  }

  #planSotw(state: KindState, desired: ReadonlyMap<string, SnapshotResource>): Outgoing | undefined {
    if (state.answered && state.force.size === 0) {
      if (sameVersions(desired, state.acked)) return undefined;
      if (state.nackedSet && sameVersions(desired, state.nackedSet)) return undefined;
    }
    const all = [...desired.values()];
    if (!state.answered || isFullState(state.kind))
      return { kind: state.kind, resources: all, removed: [], next: desired };
    // Endpoints and routes are named and need not all be sent: resources left out of a response
    // keep what the client has (Envoy's SotW mux calls only the watches whose resources are in the
    // response). Send what changed or was asked for anew, not every assignment.
    const changed = all.filter(
      (r) => state.acked.get(r.name)?.version !== r.version || state.force.has(r.name),
    );
    return { kind: state.kind, resources: changed.length > 0 ? changed : all, removed: [], next: desired };
  }

  #planDelta(state: KindState, desired: ReadonlyMap<string, SnapshotResource>): Outgoing | undefined {
    const resources: SnapshotResource[] = [];
    let heldBack = false;
    for (const r of desired.values()) {
      const held = state.acked.get(r.name);
      const changed = held?.version !== r.version || state.force.has(r.name);
      if (!changed) continue;
      if (state.nacked.get(r.name) !== r.version) resources.push(r);
      else heldBack = true;
    }
    const removed: string[] = [];
    for (const name of state.acked.keys()) if (!desired.has(name)) removed.push(name);
    // A name asked for that does not exist is reported once, so the client stops waiting for it.
    for (const name of state.names) {
      if (!desired.has(name) && !state.acked.has(name) && !state.reportedMissing.has(name))
        removed.push(name);
    }
    if (state.answered && resources.length === 0 && removed.length === 0) return undefined;
    return {
      kind: state.kind,
      resources,
      removed: [...new Set(removed)].sort(),
      next: heldBack ? update() : desired,
    };

    // Unless a NACKed version is held back, the client ends with exactly the desired set (what it
    // keeps is what it has at the desired version): hold that, shared when it is the snapshot's.
    function update(): Map<string, SnapshotResource> {
      const next = new Map(state.acked);
      for (const r of resources) next.set(r.name, r);
      for (const n of removed) next.delete(n);
      return next;
    }
  }

  /** Records a written response. */
  sent(out: Outgoing, pending: Omit<PendingResponse, "next" | "sent">): void {
    const state = this.kinds[out.kind];
    state.answered = true;
    state.force.clear();
    for (const n of out.removed) if (!state.acked.has(n)) state.reportedMissing.add(n);
    state.pending = { ...pending, next: out.next, sent: out.resources };
    state.lastNonce = pending.nonce;
  }

  /** An ACK: the client now holds what the pending response carried. */
  ack(kind: XdsKind): PendingResponse | undefined {
    const state = this.kinds[kind];
    const pending = state.pending;
    if (!pending) return undefined;
    state.acked = pending.next;
    state.ackedVersion = pending.version;
    state.nacked.clear();
    state.nackedSet = undefined;
    state.pending = undefined;
    return pending;
  }

  /** A NACK: the client keeps its last good config; the rejected content is not sent again. */
  nack(kind: XdsKind): PendingResponse | undefined {
    const state = this.kinds[kind];
    const pending = state.pending;
    if (!pending) return undefined;
    if (this.transport === "sotw") state.nackedSet = pending.next;
    else for (const r of pending.sent) state.nacked.set(r.name, r.version);
    state.pending = undefined;
    return pending;
  }

  /**
   * SotW: the full set of names wanted replaces the previous one. Returns the names newly asked for.
   * With the snapshot, a set naming all of its kind is held as the one set streams share.
   */
  setNames(kind: XdsKind, names: readonly string[], snapshot?: Snapshot): string[] {
    const state = this.kinds[kind];
    const first = !state.requested;
    state.requested = true;
    const wanted = new Set(names);
    if (isFullState(kind)) {
      // Empty means wildcard until the client first names something; "*" may be mixed with names.
      if (wanted.delete("*")) state.wildcard = true;
      else if (first && names.length === 0) state.wildcard = true;
      else if (names.length > 0) state.wildcard = false;
    }
    const added = [...wanted].filter((n) => !state.names.has(n));
    const dropped: string[] = [];
    for (const n of state.names) {
      if (wanted.has(n)) continue;
      state.reportedMissing.delete(n);
      dropped.push(n);
    }
    // A route or endpoint assignment no longer asked for is dropped by the client: nothing to
    // send, and what it used (a removed model's clusters) may go.
    if (!isFullState(kind) && dropped.length > 0) {
      state.acked = without(state.acked, dropped);
      if (state.pending) state.pending.next = without(state.pending.next, dropped);
    }
    // Envoy repeats its names on every ACK: keep the set held (perhaps shared) when they are the same.
    if (added.length > 0 || dropped.length > 0) state.names = sharedNames(wanted, snapshot?.resources[kind]);
    for (const n of added) state.force.add(n);
    return added;
  }

  /** Delta: subscription changes, applied even when the nonce is stale. See setNames for `snapshot`. */
  subscribe(
    kind: XdsKind,
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    snapshot?: Snapshot,
  ): void {
    const state = this.kinds[kind];
    const first = !state.requested;
    state.requested = true;
    if (first && subscribe.length === 0 && isFullState(kind)) state.wildcard = true;
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    const names = shared.has(state.names) ? new Set(state.names) : (state.names as Set<string>);
    for (const n of subscribe) {
      if (n === "*") state.wildcard = true;
      else {
        names.add(n);
        // Always answer a subscription, even for a version the client says it has.
        state.force.add(n);
        state.reportedMissing.delete(n);
      }
    }
    const dropped: string[] = [];
    for (const n of unsubscribe) {
      if (n === "*") state.wildcard = false;
      else if (names.delete(n)) {
        dropped.push(n);
        state.force.delete(n);
        state.reportedMissing.delete(n);
      }
    }
    if (dropped.length > 0) state.acked = without(state.acked, dropped);
    state.names = sharedNames(names, snapshot?.resources[kind]);
  }

  /**
   * SotW reconnect (to this replica or another): the first request of a kind carries the
   * version_info the client last accepted. Versions are content hashes, the same on every replica,
   * so when it is the version of exactly what the client should hold now, it holds that: nothing
   * is sent. Call after setNames, before plan. Returns whether the client was taken as holding it.
   */
  resumeSotw(kind: XdsKind, versionInfo: string, snapshot: Snapshot | undefined): boolean {
    const state = this.kinds[kind];
    if (!snapshot || versionInfo === "" || state.answered || state.pending) return false;
    // A kind pushed before this one that is being sent (its version differed) may need this one
    // again: a changed cluster warms until its endpoints come, so they are sent too.
    const before = XDS_KINDS.slice(0, XDS_KINDS.indexOf(kind));
    if (before.some((k) => this.kinds[k].requested && !this.#resumed.has(k))) return false;
    const desired = this.desired(kind, snapshot);
    if (setVersion(desired.values()) !== versionInfo) return false;
    state.acked = desired;
    state.ackedVersion = versionInfo;
    state.answered = true;
    state.force.clear();
    this.#resumed.add(kind);
    return true;
  }

  /** Delta reconnect: the versions the client already holds, so unchanged ones are not resent. */
  setInitialVersions(
    kind: XdsKind,
    versions: Readonly<Record<string, string>>,
    snapshot: Snapshot | undefined,
  ): void {
    const state = this.kinds[kind];
    const acked = new Map(state.acked);
    for (const [name, version] of Object.entries(versions)) {
      const current = snapshot?.resources[kind].get(name);
      // Only a matching version lets us skip a resource; anything else is sent fresh.
      if (current && current.version === version) acked.set(name, current);
      else acked.set(name, { name, version, any: { typeUrl: "", value: Buffer.alloc(0) }, refs: [] });
    }
    state.acked = acked;
  }
}

/** The sets of all names of a snapshot's kind, one per map, shared by the streams that name them all. */
const allNames = new WeakMap<ReadonlyMap<string, SnapshotResource>, ReadonlySet<string>>();
const shared = new WeakSet<ReadonlySet<string>>();

/**
 * `names`, or the shared set of the same names when they are exactly those of `resources`: Envoy
 * names every endpoint assignment and route configuration (thousands), the same for every Envoy.
 */
function sharedNames(
  names: ReadonlySet<string>,
  resources: ReadonlyMap<string, SnapshotResource> | undefined,
): ReadonlySet<string> {
  if (!resources || names.size !== resources.size || !namesAll(names, resources)) return names;
  let all = allNames.get(resources);
  if (!all) {
    all = new Set(resources.keys());
    allNames.set(resources, all);
    shared.add(all);
  }
  return all;
}

/** Whether `names` includes every name of `resources`. */
function namesAll(names: ReadonlySet<string>, resources: ReadonlyMap<string, SnapshotResource>): boolean {
  // The shared set of every name of these resources (sharedNames): never changed, so no walk.
  if (allNames.get(resources) === names) return true;
  if (names.size < resources.size) return false;
  for (const name of resources.keys()) if (!names.has(name)) return false;
  return true;
}

/** A copy of `set` without `names` (held sets may be the snapshot's own, not to be changed). */
function without(
  set: ReadonlyMap<string, SnapshotResource>,
  names: readonly string[],
): ReadonlyMap<string, SnapshotResource> {
  if (!names.some((n) => set.has(n))) return set;
  const copy = new Map(set);
  for (const n of names) copy.delete(n);
  return copy;
}

/** Whether two sets hold the same names at the same versions; O(n), no sorting. */
function sameVersions(
  a: ReadonlyMap<string, SnapshotResource>,
  b: ReadonlyMap<string, SnapshotResource>,
): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [name, r] of a) if (b.get(name)?.version !== r.version) return false;
  return true;
}
