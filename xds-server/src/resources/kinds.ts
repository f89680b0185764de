/**
 * The xDS resource kinds the control plane serves: one entry per kind, as grpc-js-xds has one
 * resource-type object per kind (packages/grpc-js-xds/src/xds-resource-type/). Everything that
 * lists the kinds derives from this table: the snapshot's kinds, type URLs and full-state rule
 * (snapshot/), the server's push order (server/stream-state.ts), a ResourceSet's fields and the
 * order translation merges them in (translate/types.ts), the golden files (one per group and
 * kind), the consistency check (translate/check.ts) and the references a snapshot records for
 * make-before-break (snapshot/from-resources.ts).
 *
 * Adding a kind is one entry here, plus: its type URL (type-urls.ts) and codec (registry.ts), the
 * translator that produces it (an empty list in translate.ts's emptySet() until then), and golden
 * files (UPDATE_GOLDENS=1). The server's make-before-break rules beyond `role` (routes waiting for
 * their clusters' ACK, retained clusters) name cluster, endpoint and route by hand.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-docs/xds_protocol#eventual-consistency-considerations
 */
import { Cluster_DiscoveryType } from "../../../gen/envoy/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../../../gen/envoy/envoy/config/listener/v3/listener.js";
import type { RouteAction } from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type { HttpConnectionManager } from "../../../gen/envoy/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { codecFor, readAny, type KnownTypeUrl, type MessageCodec, type MessageTypes } from "./registry.js";
import {
  clusterLoadAssignmentTypeUrl,
  clusterTypeUrl,
  extAuthzTypeUrl,
  httpConnectionManagerTypeUrl,
  listenerTypeUrl,
  routeConfigurationTypeUrl,
  scopedRouteConfigurationTypeUrl,
} from "./type-urls.js";

/** Names a resource gives of resources of another kind. */
export interface ReferenceSpec<T> {
  /** The kind named (an entry's `kind`; checked when this module loads). */
  kind: string;
  /** The names, in the resource's order, repeats included. */
  names(resource: T): string[];
  /**
   * The client waits for what it names before it applies the resource (a listener warms on its
   * route configurations, a cluster on its endpoints): the snapshot records these names (refs)
   * for make-before-break. At most one waited-for kind per kind. False: resolved only when a call
   * arrives (ext_authz's cluster), checked but not waited for.
   */
  waits: boolean;
  /** The consistency problem when a name is missing, said of the naming resource. */
  missing(name: string): string;
}

/** One resource kind. */
export interface KindSpec<K extends string, S extends string, U extends KnownTypeUrl> {
  /** The kind, as the server and snapshots name it. */
  kind: K;
  /** Its field in a translated ResourceSet (and in golden file names). */
  set: S;
  typeUrl: U;
  /**
   * State-of-the-World: a response lists them all and a missing one is deleted (listeners,
   * clusters, scopes). Otherwise asked for by name and may be sent partially (routes, endpoints).
   */
  fullState: boolean;
  /**
   * Make before break: "upstream" kinds (where traffic goes) are pushed first; "routing" kinds
   * (what sends traffic there) wait while an upstream kind has a response in flight. Table order
   * is push order, upstream kinds first.
   */
  role: "upstream" | "routing";
  /** The name a resource carries inside (a ResourceSet's names must match it). */
  nameOf(resource: MessageTypes[U]): string;
  references: readonly ReferenceSpec<MessageTypes[U]>[];
  /** When set, a resource of this kind that nothing names is a problem, said so. */
  orphan?: string;
  /** A key Envoy wants unique among the resources of this kind (a scope's), and the problem said of the second. */
  uniqueKey?: UniqueKeySpec<MessageTypes[U]>;
}

export interface UniqueKeySpec<T> {
  of(resource: T): string;
  /** Said of a resource whose key another one (`owner`) has already. */
  taken(owner: string): string;
}

export type KindEntry<K extends string, S extends string, U extends KnownTypeUrl> = KindSpec<K, S, U> & {
  codec: MessageCodec<MessageTypes[U]>;
};

function defineKind<K extends string, S extends string, U extends KnownTypeUrl>(
  spec: KindSpec<K, S, U>,
): KindEntry<K, S, U> {
  return { ...spec, codec: codecFor(spec.typeUrl) };
}

/** The connection managers of a listener: in its filter chains, then its API listener. */
export function connectionManagers(listener: Listener): HttpConnectionManager[] {
  const configs: Any[] = [
    ...listener.filterChains.flatMap((chain) =>
      chain.filters.flatMap((f) => (f.configType?.$case === "typedConfig" ? [f.configType.typedConfig] : [])),
    ),
    ...(listener.apiListener?.apiListener ? [listener.apiListener.apiListener] : []),
  ];
  return configs
    .filter((any) => any.typeUrl === httpConnectionManagerTypeUrl)
    .map((any) => readAny(any, httpConnectionManagerTypeUrl));
}

/** Clusters a route action sends to: its cluster or weighted clusters, then its mirrors. */
/** The clusters a route action sends calls (and copies of calls) to, added to `names`. */
function addRoutedClusters(action: RouteAction, names: string[]): void {
  const spec = action.clusterSpecifier;
  if (spec?.$case === "cluster") names.push(spec.cluster);
  else if (spec?.$case === "weightedClusters")
    for (const c of spec.weightedClusters.clusters) names.push(c.name);
  for (const m of action.requestMirrorPolicies) names.push(m.cluster);
}

/** The gRPC clusters of a listener's ext_authz filters. */
function extAuthzClusters(listener: Listener): string[] {
  return connectionManagers(listener)
    .flatMap((hcm) => hcm.httpFilters)
    .flatMap((filter) =>
      filter.configType?.$case === "typedConfig" && filter.configType.typedConfig.typeUrl === extAuthzTypeUrl
        ? [readAny(filter.configType.typedConfig, extAuthzTypeUrl)]
        : [],
    )
    .flatMap((config) => {
      const target =
        config.services?.$case === "grpcService" ? config.services.grpcService.targetSpecifier : undefined;
      return target?.$case === "envoyGrpc" ? [target.envoyGrpc.clusterName] : [];
    });
}

const routeConfigurationMissing = (name: string) => `names route configuration ${name}, which does not exist`;

/** The table, in make-before-break push order: upstream kinds first. */
export const RESOURCE_KINDS = [
  defineKind({
    kind: "cluster",
    set: "clusters",
    typeUrl: clusterTypeUrl,
    fullState: true,
    role: "upstream",
    nameOf: (c) => c.name,
    references: [
      {
        kind: "endpoint",
        waits: true,
        // An EDS cluster names its endpoints; a cluster with its address inline has none.
        names: (c) =>
          c.clusterDiscoveryType?.$case === "type" &&
          c.clusterDiscoveryType.type === Cluster_DiscoveryType.EDS
            ? [c.edsClusterConfig?.serviceName || c.name]
            : [],
        missing: (name) => `needs endpoints ${name}, which do not exist`,
      },
    ],
  }),
  defineKind({
    kind: "endpoint",
    set: "endpoints",
    typeUrl: clusterLoadAssignmentTypeUrl,
    fullState: false,
    role: "upstream",
    nameOf: (e) => e.clusterName,
    references: [],
    orphan: "is named by no cluster",
  }),
  defineKind({
    kind: "listener",
    set: "listeners",
    typeUrl: listenerTypeUrl,
    fullState: true,
    role: "routing",
    nameOf: (l) => l.name,
    references: [
      {
        kind: "route",
        waits: true,
        names: (l) =>
          connectionManagers(l).flatMap((hcm) =>
            hcm.routeSpecifier?.$case === "rds" ? [hcm.routeSpecifier.rds.routeConfigName] : [],
          ),
        missing: routeConfigurationMissing,
      },
      {
        // Envoy resolves the ext_authz filter's gRPC cluster only when a call arrives: a missing
        // one is accepted, then fails every call with UNAVAILABLE.
        kind: "cluster",
        waits: false,
        names: extAuthzClusters,
        missing: (name) => `sends ext_authz checks to cluster ${name}, which does not exist`,
      },
    ],
  }),
  defineKind({
    kind: "scopedRoute",
    set: "scopedRoutes",
    typeUrl: scopedRouteConfigurationTypeUrl,
    fullState: true,
    role: "routing",
    nameOf: (s) => s.name,
    references: [
      {
        kind: "route",
        waits: true,
        names: (s) => [s.routeConfigurationName],
        missing: routeConfigurationMissing,
      },
    ],
    // Envoy rejects a scope update in which two scopes have the same key.
    uniqueKey: {
      of: (scope) => JSON.stringify(scope.key?.fragments ?? []),
      taken: (owner) => `has the key of scope ${owner}`,
    },
  }),
  defineKind({
    kind: "route",
    set: "routes",
    typeUrl: routeConfigurationTypeUrl,
    fullState: false,
    role: "routing",
    nameOf: (r) => r.name,
    references: [
      {
        kind: "cluster",
        waits: true,
        // Loops, not flatMap chains: called for each of 20,000 route configurations (some 15 routes
        // each) twice a build, by the snapshot's refs and by the consistency check.
        names: (config) => {
          const names: string[] = [];
          for (const vh of config.virtualHosts)
            for (const route of vh.routes)
              if (route.action?.$case === "route") addRoutedClusters(route.action.route, names);
          return names;
        },
        missing: (name) => `routes to cluster ${name}, which does not exist`,
      },
    ],
    orphan: "is named by no listener or scope",
  }),
] as const;

/** Any entry of the table, with its literal kind, field and type URL. */
export type ResourceKindEntry = (typeof RESOURCE_KINDS)[number];
type Entry = ResourceKindEntry;

export type XdsKind = Entry["kind"];
export type ResourceSetField = Entry["set"];
export type ResourceTypeUrl = Entry["typeUrl"];
/** The message type of a kind's resources. */
export type KindMessage<K extends XdsKind> = MessageTypes[Extract<Entry, { kind: K }>["typeUrl"]];

/** An entry with its message type erased, for code that walks every kind alike. */
export interface KindInfo {
  kind: XdsKind;
  set: ResourceSetField;
  typeUrl: ResourceTypeUrl;
  fullState: boolean;
  role: "upstream" | "routing";
  codec: MessageCodec<unknown>;
  nameOf(resource: unknown): string;
  references: readonly (ReferenceSpec<unknown> & { kind: XdsKind })[];
  orphan?: string;
  uniqueKey?: UniqueKeySpec<unknown>;
}

/** The table, in push order. */
export const kindTable: readonly KindInfo[] = RESOURCE_KINDS as unknown as readonly KindInfo[];

const byKind = new Map<string, KindInfo>(kindTable.map((e) => [e.kind, e]));
kindTable.forEach((entry, i) => {
  if (entry.role === "upstream" && kindTable.slice(0, i).some((e) => e.role === "routing"))
    throw new Error(`resource kind ${entry.kind} is upstream but listed after a routing kind`);
  for (const ref of entry.references)
    if (!byKind.has(ref.kind))
      throw new Error(`resource kind ${entry.kind} references unknown kind ${ref.kind}`);
  if (entry.references.filter((r) => r.waits).length > 1)
    throw new Error(`resource kind ${entry.kind} waits for more than one kind`);
});

export function kindInfo(kind: XdsKind): KindInfo {
  return byKind.get(kind)!;
}

/** The kinds in make-before-break push order. */
export const XDS_KINDS: readonly XdsKind[] = kindTable.map((e) => e.kind);

export const TYPE_URLS = Object.fromEntries(kindTable.map((e) => [e.kind, e.typeUrl])) as {
  readonly [K in XdsKind]: Extract<Entry, { kind: K }>["typeUrl"];
};

/** The type URLs of the kinds served over ADS, in push order. */
export const resourceTypeUrls: readonly ResourceTypeUrl[] = kindTable.map((e) => e.typeUrl);

/** ResourceSet fields in push order. */
export const resourceSetFields: readonly ResourceSetField[] = kindTable.map((e) => e.set);

const byUrl = new Map<string, XdsKind>(kindTable.map((e) => [e.typeUrl, e.kind]));

export function kindOf(typeUrl: string): XdsKind | undefined {
  return byUrl.get(typeUrl);
}

export function isFullState(kind: XdsKind): boolean {
  return kindInfo(kind).fullState;
}

/** Whether a kind waits (make before break) while upstream kinds have a response in flight. */
export function isUpstream(kind: XdsKind): boolean {
  return kindInfo(kind).role === "upstream";
}

/** The kind a kind's resources wait for, if any: what a snapshot resource's refs name. */
export function waitsFor(kind: XdsKind): XdsKind | undefined {
  return kindInfo(kind).references.find((r) => r.waits)?.kind;
}

/**
 * The names a resource waits for (its snapshot refs): distinct, in the resource's order. An empty
 * name names nothing.
 */
export function waitedNames<K extends XdsKind>(kind: K, resource: KindMessage<K>): string[] {
  const names = waitedReference.get(kind)?.names(resource) ?? [];
  return [...new Set(names)].filter((n) => n !== "");
}

/** Each kind's reference that its clients wait for (at most one, checked above). */
const waitedReference = new Map(
  kindTable.flatMap((e) => e.references.filter((r) => r.waits).map((r) => [e.kind, r] as const)),
);
