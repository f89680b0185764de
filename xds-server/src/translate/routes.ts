/**
 * Route configurations. Envoy: one per model, chosen by the model header through a routing scope,
 * and one for calls without that header. Proxyless: one per model, whose virtual host matches the
 * target name (`xds:///<model>`).
 *
 * Per model, in order: its health routes (Check forwarded, the rest refused), the model routes for
 * the unary calls that name their model in the body, then the same routes for every other call
 * (streams). With ext_authz on, the routes also say where it reads the body and where it does not
 * run: reflection first in every configuration (answered unchecked); the unary routes read the
 * first body bytes (ext-authz refuses a body naming another model or version than the headers);
 * without a model header, the health route without a model. Without a model header, model calls
 * are routed by the model their first message names (ext-authz reads it for unary calls when on,
 * model-from-first-message otherwise), and anything else ends in a catch-all, because Envoy skips
 * ext_authz for a call that matches no route.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_filters/ext_authz_filter
 *
 * Every Envoy route configuration removes the caller's `authorization` header on the way to the
 * node (the router applies it after ext_authz has read it, and to shadow copies too): callers'
 * credentials stop at the gateway.
 */
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import { inferenceService, streamModelMethod, unaryModelMethods } from "@inferencehub/contracts/protocol";
import {
  HeaderValueOption,
  HeaderValueOption_HeaderAppendAction,
} from "../../../gen/envoy/envoy/config/core/v3/base.js";
import { RouteConfiguration } from "../../../gen/envoy/envoy/config/route/v3/route.js";
import {
  Route,
  RouteAction,
  RouteMatch,
  VirtualHost,
  WeightedCluster,
  WeightedCluster_ClusterWeight,
  type HeaderMatcher,
} from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type {
  ControlPlaneIR,
  ExtAuthzIR,
  ListenerIR,
  ModelIR,
  NativeAuthIR,
  VersionRouteIR,
} from "../ir/index.js";
import { emptyMessage, grpcStatus, messageWith, serverCallTimeoutMs } from "./common.js";
import { duration } from "./durations.js";
import {
  extAuthzPerRoute,
  gatewayIndexMethodPath,
  luaSourcePerRoute,
  modelFromFirstMessageLua,
  modelFromFirstMessagePerRoute,
  modelFromPathLua,
  policyPerRoute,
  rateLimitActions,
} from "./filters/index.js";
import { ingressRouteConfigName, noModelRouteConfigName, proxylessRouteConfigName } from "./names.js";
import { notGrpcRoute, restModelRoutes, restServerRoutes } from "./rest-routes.js";
import { exactHeader, mirrorPolicy, presentHeader, retryPolicy, withFilterConfig } from "./route-parts.js";
import type { ClientGroup, Named } from "./types.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";

const healthPathPrefix = "/grpc.health.v1.Health/";
const healthCheckPath = `${healthPathPrefix}Check`;
/** Answered unchecked, with UNIMPLEMENTED: nodes do not serve reflection. */
const reflectionPathPrefix = "/grpc.reflection.";

/**
 * A health Check is a node's quick answer: it gets this long, not the model's inference timeout,
 * so health calls cannot hold the model's circuit-breaker budget for long.
 */
const healthCheckTimeoutMs = 2_000;

/**
 * The calls about the whole gateway, answered by the control plane: RepositoryIndex among them,
 * when it names no model, lists what the caller's tenant may call (runner/gateway-index.ts), as
 * does GatewayIndex/RepositoryIndex, what the REST form's index becomes (filters/rest-index.ts).
 */
const serverCallsPathRegex =
  "^/inference\\.GRPCInferenceService/(Server(Live|Ready|Metadata)|RepositoryIndex)$";

/** Removed from every call before it leaves Envoy: the caller's credentials stop at the gateway. */
const credentialHeaders = ["authorization"];

/** `^/inference\.GRPCInferenceService/Model(Infer|...)$` for these methods, all named Model*. */
function modelMethodsRegex(methods: readonly string[]): string {
  const service = inferenceService.replaceAll(".", "\\.");
  return `^/${service}/Model(${methods.map((m) => m.slice("Model".length)).join("|")})$`;
}

/** Unary calls whose request has the model name and version as fields 1 and 2. */
const modelInBodyPathSpecifier: RouteMatch["pathSpecifier"] = {
  $case: "safeRegex",
  safeRegex: { regex: modelMethodsRegex(Object.keys(unaryModelMethods)) },
};

const streamPathSpecifier: RouteMatch["pathSpecifier"] = {
  $case: "path",
  path: `/${inferenceService}/${streamModelMethod}`,
};

/** The same calls and ModelStreamInfer, whose every message has the model name as field 1. */
const modelInMessagePathSpecifier: RouteMatch["pathSpecifier"] = {
  $case: "safeRegex",
  safeRegex: { regex: modelMethodsRegex([...Object.keys(unaryModelMethods), streamModelMethod]) },
};

/** How calls are authorized on a route configuration's routes: ext-authz, and Envoy's own filters. */
export interface RouteAuth {
  authz?: ExtAuthzIR | undefined;
  native?: NativeAuthIR | undefined;
}

/**
 * The tenant policy of a route pinned to `version` in native mode (native-auth.ts), where it is
 * not the model's own: the model's route configuration holds the policy for unpinned calls once,
 * on its virtual host, and only a pinned route that a different set of tenants may take has one
 * of its own. Empty without native authorization.
 */
export type RoutePolicy = (version: string) => Record<string, Any>;

function modelPolicy(
  model: ModelIR,
  native: NativeAuthIR | undefined,
): { host: Record<string, Any>; pinned: RoutePolicy } {
  const access = model.access;
  if (!native || !access) return { host: {}, pinned: () => ({}) };
  const unpinned = access.unpinned.join(",");
  return {
    host: policyPerRoute(native, access.unpinned),
    pinned: (version) => {
      const tenants = access.pinned[version] ?? [];
      return tenants.join(",") === unpinned ? {} : policyPerRoute(native, tenants);
    },
  };
}

/** Envoy: one model's routes, chosen by its scope. */
export function envoyModelRouteConfig(
  model: ModelIR,
  auth: RouteAuth,
  listener: ListenerIR,
): Named<RouteConfiguration> {
  const reflection = auth.authz ? [reflectionRoute()] : [];
  const policy = modelPolicy(model, auth.native);
  return envoyRouteConfig(
    ingressRouteConfigName(model.name),
    [
      ...reflection,
      ...restModelRoutes(model, listener, policy.pinned),
      notGrpcRoute(),
      ...healthRoutes(model),
      ...envoyModelRoutes(model, auth, policy.pinned),
    ],
    auth,
    policy.host,
  );
}

/**
 * Envoy: the routes of calls without a model header. In native mode the model is read from the
 * first message (or the REST path) by Envoy, as without authorization, and the calls about the
 * gateway itself are open to every tenant of the config.
 */
export function noModelRouteConfig(
  auth: RouteAuth,
  controlPlane: ControlPlaneIR | undefined,
  ready: boolean,
  served: readonly string[] = [],
): Named<RouteConfiguration> {
  const { authz, native } = auth;
  const guard = native ? unknownModelGuard(native, authz, served) : (route: Route) => route;
  const rest = [
    ...restServerRoutes(
      ready,
      authz,
      native !== undefined,
      (route) => guard(route, "model-from-path"),
      controlPlane,
    ),
    notGrpcRoute(),
  ];
  const routes = authz
    ? [
        reflectionRoute(),
        healthWithoutModelRoute(),
        ...serverRoutes(controlPlane),
        ...rest,
        ...(native
          ? [
              // Unary calls: a model not served is ext-authz's to answer, from the body's first
              // bytes. Streams never wait on a body: a model not served is NOT_FOUND, as in
              // ext-authz mode.
              guard(modelInFirstMessageRoute(modelInBodyPathSpecifier, "unary"), "model-from-first-message"),
              modelInFirstMessageRoute(streamPathSpecifier),
            ]
          : [modelInBodyRoute(authz), modelInFirstMessageRoute(streamPathSpecifier)]),
        noModelHeaderRoute(),
        unknownMethodRoute(),
      ]
    : [
        ...serverRoutes(controlPlane),
        ...rest,
        modelInFirstMessageRoute(modelInMessagePathSpecifier),
        noModelHeaderRoute(),
        unknownMethodRoute(),
      ];
  // Calls here name no model (or none Envoy could read): any tenant of the config may make them,
  // as ext-authz allows any authenticated caller.
  const anyTenant = native ? policyPerRoute(native, native.tenants) : {};
  return envoyRouteConfig(noModelRouteConfigName, routes, auth, anyTenant);
}

type ModelScript = "model-from-path" | "model-from-first-message";

/**
 * Native mode, on the routes where a script reads the model from the path or the first message:
 * the script with the models served, so that a name no scope has stays on the route, and no
 * tenant's policy, so that ext-authz answers it. A caller learns that a model does not exist only
 * once its credentials allow it to call any model, as in ext-authz mode.
 */
function unknownModelGuard(
  native: NativeAuthIR,
  authz: ExtAuthzIR | undefined,
  served: readonly string[],
): (route: Route, script: ModelScript) => Route {
  // ext-authz reads an unknown model's name from the path itself, and from the body's first bytes.
  const nobody = { ...policyPerRoute(native, []), ...(authz ? extAuthzPerRoute.readBody(authz) : {}) };
  const scripts: Record<ModelScript, Record<string, Any>> = {
    "model-from-path": luaSourcePerRoute(modelFromPathLua(served)),
    "model-from-first-message": luaSourcePerRoute(modelFromFirstMessageLua(served)),
  };
  return (route, script) => ({
    ...route,
    typedPerFilterConfig: { ...route.typedPerFilterConfig, ...scripts[script], ...nobody },
  });
}

/**
 * ServerLive, ServerReady, ServerMetadata and RepositoryIndex without a model header are about the
 * gateway: the control plane answers them (it knows whether every model has a version up, and what
 * each tenant may call), checked like any call when ext_authz is on, with a short timeout and no
 * retry.
 */
function serverRoutes(controlPlane: ControlPlaneIR | undefined): Route[] {
  // Two matches: one regex with the gateway index's path in it is past RE2's default program size.
  const matches = [
    RouteMatch.fromPartial({
      pathSpecifier: { $case: "safeRegex", safeRegex: { regex: serverCallsPathRegex } },
    }),
    RouteMatch.fromPartial({ pathSpecifier: { $case: "path", path: gatewayIndexMethodPath } }),
  ];
  if (!controlPlane) {
    const error = grpcErrorRoute(
      "server:no-control-plane",
      [],
      grpcStatus.unimplemented,
      "this gateway answers ServerLive, ServerReady, ServerMetadata and RepositoryIndex once controlPlane.address is set in inferencehub.yaml; set the inferencehub-model header to ask a model's nodes",
    );
    return matches.map((match) => ({ ...error, match }));
  }
  return matches.map((match) =>
    Route.fromPartial({
      name: "server",
      match,
      action: {
        $case: "route",
        route: RouteAction.fromPartial({
          clusterSpecifier: { $case: "cluster", cluster: controlPlane.cluster },
          timeout: duration(serverCallTimeoutMs),
          maxStreamDuration: { grpcTimeoutHeaderMax: duration(serverCallTimeoutMs) },
        }),
      },
    }),
  );
}

function envoyRouteConfig(
  name: string,
  routes: Route[],
  auth: RouteAuth,
  policy: Record<string, Any> = {},
): Named<RouteConfiguration> {
  const host = VirtualHost.fromPartial({
    name: "inference",
    domains: ["*"],
    // Checks wait for no body unless a route says otherwise: streams never stall on it.
    typedPerFilterConfig: { ...(auth.authz ? extAuthzPerRoute.noBody() : {}), ...policy },
    // The tenants' rate limits read these descriptors (filters/rate-limits.ts).
    rateLimits: rateLimitActions(auth.native),
  });
  const config = RouteConfiguration.fromPartial({ name, requestHeadersToRemove: credentialHeaders });
  config.virtualHosts = [withRoutes(host, routes)];
  return { name, resource: config };
}

/** Proxyless: one model's routes, in a virtual host matching the target name (`xds:///<model>`). */
export function proxylessRouteConfig(model: ModelIR): Named<RouteConfiguration> {
  const name = proxylessRouteConfigName(model.name);
  const routes = [
    ...model.versions.map((v) => pinnedRoute(model, v, "proxyless")),
    weightedRoute(model, "proxyless"),
  ];
  const config = RouteConfiguration.fromPartial({ name });
  // grpc-js matches the target's host name against the domains.
  config.virtualHosts = [
    withRoutes(VirtualHost.fromPartial({ name: model.name, domains: [model.name] }), routes),
  ];
  return { name, resource: config };
}

/**
 * The virtual host with these routes, as they are: they are complete messages already (each made
 * by Route.fromPartial), and fromPartial on the whole configuration would deep-copy every one of
 * them again (at 10,000 models, a quarter of translation's time went to such copies).
 */
function withRoutes(host: VirtualHost, routes: Route[]): VirtualHost {
  host.routes = routes;
  return host;
}

/**
 * In order: one route per pinned version, a NOT_FOUND for any other pinned version (rather than
 * serving a version the client did not ask for), then the weighted route for everything else.
 * The unary calls that carry the model name in their body come first, on the same routes with
 * two differences:
 * - with ext_authz on, the body is read: ext-authz compares it with the headers (and pins the
 *   body's version), so a call cannot be authorized for one model and ask the node about another;
 * - each try must make progress within the per-try timeout even once the response has begun
 *   (per_try_idle_timeout), so a node that froze after sending response headers fails the call
 *   instead of holding it for the route timeout. Streams keep only the per-try timeout, which
 *   ends when their response begins: an idle stream is no stuck node.
 */
function envoyModelRoutes(model: ModelIR, auth: RouteAuth, policy: RoutePolicy): Route[] {
  const { authz, native } = auth;
  const routes = (unary: boolean) => [
    ...model.versions.map((v) => withFilterConfig(pinnedRoute(model, v, "envoy", unary), policy(v.version))),
    unknownVersionRoute(model),
    weightedRoute(model, "envoy", unary),
  ];
  // Where the body is checked against the headers: by Envoy in native mode, else by ext-authz.
  const bodyCheck = !authz
    ? {}
    : native
      ? modelFromFirstMessagePerRoute("first-message-matches-headers")
      : extAuthzPerRoute.readBody(authz);
  const unaryRoutes = routes(true).map((route) => ({
    ...route,
    name: `${route.name}:unary`,
    // A complete match already: a copy with another path, not fromPartial's deep copy.
    match: { ...(route.match ?? emptyRouteMatch), pathSpecifier: modelInBodyPathSpecifier },
    typedPerFilterConfig: { ...route.typedPerFilterConfig, ...bodyCheck },
  }));
  return [...unaryRoutes, ...routes(false)];
}

/** Envoy routes select the model by header; a proxyless route config belongs to one model already. */
function headersFor(model: ModelIR, group: ClientGroup, version?: string): HeaderMatcher[] {
  // The same matchers on a model's every route of a kind (pinned, unary or not): made once per
  // model, which saves a full build some 60 objects a model.
  let known = modelHeaders.get(model);
  if (!known) modelHeaders.set(model, (known = new Map()));
  const key = `${group}\0${version ?? ""}`;
  let headers = known.get(key);
  if (!headers) {
    const byModel = group === "envoy" ? [exactHeader(modelHeader, model.name)] : [];
    headers = version === undefined ? byModel : [...byModel, exactHeader(versionHeader, version)];
    known.set(key, headers);
  }
  return headers;
}

/** By the IR's object: an IR is never changed once built. */
const modelHeaders = new WeakMap<ModelIR, Map<string, HeaderMatcher[]>>();

function pinnedRoute(model: ModelIR, version: VersionRouteIR, group: ClientGroup, unary = false): Route {
  if (version.restOnly && group === "envoy") {
    // Its nodes speak REST only: say so, rather than "no node is up" from an empty cluster.
    return grpcErrorRoute(
      version.cluster,
      headersFor(model, group, version.version),
      grpcStatus.unimplemented,
      `version '${version.version}' of model '${model.name}' is served over REST only (its nodes have protocol: rest); call it at /v2/models/${model.name}/versions/${version.version}`,
    );
  }
  return completeRoute(
    version.cluster,
    prefixMatch("/", headersFor(model, group, version.version)),
    routeAction(model, { $case: "cluster", cluster: version.cluster }, false, unary),
  );
}

/**
 * Versions with weight 0 are left out: they serve pinned calls and shadow copies only. The
 * weights of the rest sum to 100, which is what grpc-js assumes when total_weight is unset.
 */
function weightedRoute(model: ModelIR, group: ClientGroup, unary = false): Route {
  return completeRoute(
    model.name,
    prefixMatch("/", headersFor(model, group)),
    // grpc-js does not mirror; leaving the policy out says so instead of implying copies.
    routeAction(model, weightedClusters(model), group === "envoy", unary),
  );
}

function weightedClusters(model: ModelIR): RouteAction["clusterSpecifier"] {
  // The same split on the model's weighted routes and its health route: made once per model.
  let split = modelSplits.get(model);
  if (!split) modelSplits.set(model, (split = makeWeightedClusters(model)));
  return split;
}

const modelSplits = new WeakMap<ModelIR, RouteAction["clusterSpecifier"]>();

function makeWeightedClusters(model: ModelIR): RouteAction["clusterSpecifier"] {
  const clusters = model.versions
    .filter((v) => v.weight > 0)
    .map((v) => messageWith(emptyClusterWeight, { name: v.cluster, weight: v.weight }));
  return { $case: "weightedClusters", weightedClusters: messageWith(emptyWeightedCluster, { clusters }) };
}

/**
 * grpc.health.v1 for a model's nodes, checked like any call to the model (when ext_authz is on):
 * Check with a short timeout, no retry and no copy; Watch, a stream that would hold a slot of the
 * model's circuit breaker for as long as the caller likes, is refused.
 */
function healthRoutes(model: ModelIR): Route[] {
  const checkMatch = RouteMatch.fromPartial({ pathSpecifier: { $case: "path", path: healthCheckPath } });
  checkMatch.headers = [exactHeader(modelHeader, model.name)];
  const checkAction = RouteAction.fromPartial({
    timeout: duration(healthCheckTimeoutMs),
    maxStreamDuration: { grpcTimeoutHeaderMax: duration(healthCheckTimeoutMs) },
  });
  checkAction.clusterSpecifier = weightedClusters(model);
  const check = completeRoute(`${model.name}:health`, checkMatch, checkAction);
  const others = grpcErrorRoute(
    `${model.name}:health-other`,
    [exactHeader(modelHeader, model.name)],
    grpcStatus.unimplemented,
    "only grpc.health.v1.Health/Check is served through the gateway",
    healthPathPrefix,
  );
  return [check, others];
}

function routeAction(
  model: ModelIR,
  target: RouteAction["clusterSpecifier"],
  mirror: boolean,
  unary = false,
): RouteAction {
  const { timeout, maxStreamDuration } = timeouts(model.timeoutMs);
  return messageWith(emptyRouteAction, {
    clusterSpecifier: target,
    timeout,
    maxStreamDuration,
    retryPolicy: model.retry ? retryPolicy(model.retry, unary) : undefined,
    // A hedged retry on a per-try timeout needs no retry_on condition, only retries left.
    // https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/route_components.proto#envoy-v3-api-msg-config-route-v3-hedgepolicy
    hedgePolicy: model.retry?.hedgeOnPerTryTimeout ? hedgeOnPerTryTimeout : undefined,
    requestMirrorPolicies:
      mirror && model.shadow
        ? [mirrorPolicy(model.shadow.cluster, model.shadow.percent)]
        : emptyRouteAction.requestMirrorPolicies,
  });
}

/**
 * A route's timeout, and the cap on a client's grpc-timeout (grpc-js reads only that field): one
 * pair per value, shared by every route with that timeout.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/route_components.proto#envoy-v3-api-field-config-route-v3-routeaction-maxstreamduration-grpc-timeout-header-max
 */
function timeouts(ms: number): Pick<RouteAction, "timeout" | "maxStreamDuration"> {
  let known = timeoutsByMs.get(ms);
  if (!known) {
    const timeout = duration(ms);
    known = { timeout, maxStreamDuration: { grpcTimeoutHeaderMax: timeout } };
    timeoutsByMs.set(ms, known);
  }
  return known;
}

/** As many entries as distinct model timeouts the process has seen. */
const timeoutsByMs = new Map<number, Pick<RouteAction, "timeout" | "maxStreamDuration">>();

const hedgeOnPerTryTimeout = RouteAction.fromPartial({
  hedgePolicy: { hedgeOnPerTryTimeout: true },
}).hedgePolicy;

/**
 * A route to a cluster from a match and an action that are complete messages already:
 * Route.fromPartial would deep-copy both again, and a full build makes some 40 routes a model.
 */
function completeRoute(name: string, match: RouteMatch, action: RouteAction): Route {
  return messageWith(emptyRoute, { name, match, action: { $case: "route", route: action } });
}

/** A match on a path prefix and headers that are complete messages (exactHeader), not copied again. */
function prefixMatch(prefix: string, headers: HeaderMatcher[]): RouteMatch {
  return messageWith(emptyRouteMatch, { pathSpecifier: { $case: "prefix", prefix }, headers });
}

const emptyRoute = emptyMessage(Route.fromPartial({}));
const emptyRouteMatch = emptyMessage(RouteMatch.fromPartial({}));
const emptyRouteAction = emptyMessage(RouteAction.fromPartial({}));
const emptyClusterWeight = emptyMessage(WeightedCluster_ClusterWeight.fromPartial({}));
const emptyWeightedCluster = emptyMessage(WeightedCluster.fromPartial({}));

function unknownVersionRoute(model: ModelIR): Route {
  return grpcErrorRoute(
    `${model.name}:unknown-version`,
    [exactHeader(modelHeader, model.name), presentHeader(versionHeader)],
    grpcStatus.notFound,
    `version '%REQ(${versionHeader})%' of model '${model.name}' is not served by this gateway`,
  );
}

/** Nodes do not serve reflection: answered here, without a check, instead of after one. */
function reflectionRoute(): Route {
  return {
    ...grpcErrorRoute(
      "grpc-reflection",
      [],
      grpcStatus.unimplemented,
      "server reflection is not served through the gateway",
      reflectionPathPrefix,
    ),
    typedPerFilterConfig: extAuthzPerRoute.disabled(),
  };
}

function healthWithoutModelRoute(): Route {
  return {
    ...grpcErrorRoute(
      "grpc-health:no-model",
      [],
      grpcStatus.invalidArgument,
      `set the ${modelHeader} header to check the health of that model's nodes`,
      healthPathPrefix,
    ),
    typedPerFilterConfig: extAuthzPerRoute.disabled(),
  };
}

/**
 * A unary call that names its model only in the body (stock Open Inference Protocol clients),
 * with ext_authz on: ext-authz gets the first bytes, sets the model headers, and Envoy chooses the
 * route again. It reads a prefix of the message, so the message may be any size. The answer below
 * is for a body where it found no model name.
 */
function modelInBodyRoute(authz: ExtAuthzIR): Route {
  return {
    ...modelInMessageAnswer("no-model-header:read-body", modelInBodyPathSpecifier),
    typedPerFilterConfig: extAuthzPerRoute.readBody(authz),
  };
}

/**
 * The same routing by the model named in the first message, by model-from-first-message: for
 * ModelStreamInfer always (ext_authz's body read would wait for the end of the stream), and for
 * the unary calls too when ext_authz is off. It holds the first message until it is whole, which
 * Envoy's 1 MiB buffer bounds.
 */
function modelInFirstMessageRoute(pathSpecifier: RouteMatch["pathSpecifier"], calls?: "unary"): Route {
  const name = calls ? `no-model-header:first-message:${calls}` : "no-model-header:first-message";
  return {
    ...modelInMessageAnswer(name, pathSpecifier),
    typedPerFilterConfig: modelFromFirstMessagePerRoute(),
  };
}

function modelInMessageAnswer(name: string, pathSpecifier: RouteMatch["pathSpecifier"]): Route {
  const route = grpcErrorRoute(
    name,
    [],
    grpcStatus.invalidArgument,
    `set the ${modelHeader} header, or model_name in an uncompressed first message`,
  );
  return { ...route, match: RouteMatch.fromPartial({ pathSpecifier }) };
}

/** A method of the protocol that needs a model: without one it can go nowhere. */
function noModelHeaderRoute(): Route {
  const route = grpcErrorRoute(
    "no-model-header",
    [],
    grpcStatus.invalidArgument,
    `set the ${modelHeader} header`,
  );
  return {
    ...route,
    match: RouteMatch.fromPartial({
      pathSpecifier: { $case: "prefix", prefix: "/inference.GRPCInferenceService/" },
    }),
  };
}

/** Anything else is no method of the protocol: UNIMPLEMENTED, as a gRPC server answers it. */
function unknownMethodRoute(): Route {
  return grpcErrorRoute(
    "unknown-method",
    [],
    grpcStatus.unimplemented,
    "this gateway serves inference.GRPCInferenceService (the Open Inference Protocol), and grpc.health.v1.Health/Check with the inferencehub-model header; the method called is neither",
  );
}

/**
 * A trailers-only gRPC error answered by Envoy itself: HTTP 200 with grpc-status in the headers
 * and no body. Envoy substitutes %REQ(...)% in headers added to a direct response
 * (envoy-direct-response.test.ts checks that against a real Envoy and grpc-js).
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#responses
 */
function grpcErrorRoute(
  name: string,
  headers: HeaderMatcher[],
  status: number,
  message: string,
  pathPrefix = "/",
): Route {
  return messageWith(emptyRoute, {
    name,
    match: prefixMatch(pathPrefix, headers),
    action: grpcErrorAction,
    responseHeadersToAdd: [
      grpcContentType,
      overwrite("grpc-status", String(status)),
      overwrite("grpc-message", message),
    ],
  });
}

function overwrite(key: string, value: string): HeaderValueOption {
  return HeaderValueOption.fromPartial({
    header: { key, value },
    appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
  });
}

/** The same on every gRPC error route: made once (no message is changed once made). */
const grpcErrorAction = Route.fromPartial({
  action: { $case: "directResponse", directResponse: { status: 200 } },
}).action;
const grpcContentType = overwrite("content-type", "application/grpc");
