/**
 * The Open Inference Protocol's REST/JSON form (KServe v2 HTTP) on the same Envoy port as gRPC,
 * routed by the URL path: no body is read to route.
 *
 * Without a model header (every stock REST client), a call to /v2/models/<model>/... takes a
 * route where ext-authz (or, without it, the model-from-path script) sets the header from the path
 * and has Envoy choose the model's scope; the server-level paths (/v2, /v2/health/*) are answered by Envoy from the IR.
 * In the model's scope, in order: a body over the limit (413), a version named in the path (its
 * REST cluster, or 501 when no node of it serves REST; a version header that disagrees is 400), a
 * version named by the header, then the split: one route per weighted version, chosen by a
 * fraction of the same per-call random number, so that each can write its version into the path
 * (`/v2/models/m/...` → `/v2/models/m/versions/v/...`). The node then reads the version the
 * gateway chose from the path, as every REST server does (the reference node, Triton, MLServer),
 * and the routed-version header says the same.
 *
 * Errors are answered as text that the listener's local-reply mapper wraps as `{"error": "..."}`
 * (listeners.ts), like every other local reply to a request that is not gRPC.
 * https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/route_components.proto#envoy-v3-api-field-config-route-v3-routematch-runtime-fraction
 */
import { modelHeader, versionHeader } from "@inferencehub/contracts/headers";
import {
  gatewayServerName,
  gatewayVersion,
  restModelsPrefix,
  restPrefix,
} from "@inferencehub/contracts/protocol";
import { HeaderValueOption_HeaderAppendAction } from "../../../gen/envoy/envoy/config/core/v3/base.js";
import {
  HeaderMatcher,
  Route,
  RouteAction,
  RouteMatch,
  type RetryPolicy,
} from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import { FractionalPercent_DenominatorType } from "../../../gen/envoy/envoy/type/v3/percent.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import type { ControlPlaneIR, ExtAuthzIR, ListenerIR, ModelIR, RestVersionIR, RetryIR } from "../ir/index.js";
import { serverCallTimeoutMs } from "./common.js";
import { duration } from "./durations.js";
import { luaPerRoute, restIndexPath } from "./filters/index.js";
import { exactHeader, mirrorPolicy, presentHeader, retryPolicy, withFilterConfig } from "./route-parts.js";

/** What every gRPC request's content type starts with (application/grpc, application/grpc+proto). */
const grpcContentTypePrefix = "application/grpc";

/**
 * Envoy: the REST routes of calls without a model header, before the gRPC ones. A model's path is
 * routed by its model: with ext_authz on, ext-authz reads the path, answers by the tenant's policy
 * (so an unknown model is refused as one the tenant may not call, never told apart), and sets the
 * header; without it, failing open, or in native mode (where Envoy authorizes on the model's own
 * routes, and an unknown model is NOT_FOUND as it is for gRPC) the model-from-path script does.
 */
export function restServerRoutes(
  ready: boolean,
  authz: ExtAuthzIR | undefined,
  native = false,
  guard: (route: Route) => Route = (route) => route,
  controlPlane?: ControlPlaneIR,
): Route[] {
  const modelFromPath = !authz || authz.failOpen || native;
  return [
    restIndexRoute(controlPlane),
    jsonRoute("rest:live", `${restPrefix}/health/live`, 200, { live: true }),
    ready
      ? jsonRoute("rest:ready", `${restPrefix}/health/ready`, 200, { ready: true })
      : // The protocol says a 4xx for "not ready"; Triton answers 400 too.
        textRoute(
          "rest:ready",
          exactPath(`${restPrefix}/health/ready`),
          400,
          "the gateway is not ready: a model has no version with a node up",
        ),
    jsonRoute("rest:server-metadata", restPrefix, 200, {
      name: gatewayServerName,
      version: gatewayVersion,
      extensions: [],
    }),
    guard({
      ...textRoute(
        "rest:model-from-path",
        { $case: "prefix", prefix: restModelsPrefix },
        404,
        "the path names no model: use /v2/models/<model>, a model name is lowercase letters, digits and '-'",
      ),
      typedPerFilterConfig: modelFromPath ? luaPerRoute("model-from-path") : {},
    }),
    textRoute(
      "rest:unknown-path",
      { $case: "prefix", prefix: `${restPrefix}/` },
      404,
      "no such path in the v2 REST API: /v2, /v2/health/live, /v2/health/ready, /v2/models/<model>[/versions/<version>][/ready|/infer], POST /v2/repository/index",
    ),
  ];
}

/**
 * `POST /v2/repository/index`: the gateway's model index, checked like any REST server call.
 * The transcoder (filters/rest-index.ts) turns it into the gRPC call the control plane answers and
 * routes it again (the server route), so this route's own target only has to be the control plane.
 */
function restIndexRoute(controlPlane: ControlPlaneIR | undefined): Route {
  // POST only, as Triton's extension says; another method falls to the unknown path's 404.
  const match = routeMatch(exactPath(restIndexPath), [exactHeader(":method", "POST")]);
  if (!controlPlane) {
    return {
      ...textRoute(
        "rest:index",
        exactPath(restIndexPath),
        501,
        "this gateway lists its models once controlPlane.address is set in inferencehub.yaml",
      ),
      match,
    };
  }
  return Route.fromPartial({
    name: "rest:index",
    match,
    action: {
      $case: "route",
      route: {
        clusterSpecifier: { $case: "cluster", cluster: controlPlane.cluster },
        timeout: duration(serverCallTimeoutMs),
      },
    },
  });
}

/**
 * Envoy: anything that is neither gRPC nor under /v2 (an HTTP/1.1 client at a wrong path): a
 * real HTTP 404, not a gRPC answer it cannot read.
 */
export function notGrpcRoute(): Route {
  const anyPath: PathSpecifier = { $case: "prefix", prefix: "/" };
  return {
    ...textRoute(
      "http:not-grpc",
      anyPath,
      404,
      "this gateway serves the Open Inference Protocol: gRPC (inference.GRPCInferenceService), or REST under /v2",
    ),
    match: routeMatch(anyPath, [notGrpc()]),
  };
}

/** Envoy: one model's REST routes, in its scope, before its gRPC routes. */
export function restModelRoutes(
  model: ModelIR,
  listener: ListenerIR,
  policy: (version: string) => Record<string, Any> = () => ({}),
): Route[] {
  const rest = model.rest;
  if (!rest) {
    return [
      textRoute(
        `${model.name}:rest:grpc-only`,
        { $case: "prefix", prefix: `${restPrefix}/` },
        501,
        `model '${model.name}' is served over gRPC only: none of its nodes declares a restPort`,
      ),
    ];
  }
  const base = `${restModelsPrefix}${model.name}`;
  const underModel = regexPath(`^${base}(/.*)?$`);
  const byName = new Map(rest.versions.map((v) => [v.version, v]));
  const routes: Route[] = [tooLargeRoute(model, listener)];
  // Named in the path.
  for (const v of model.versions) {
    const path = regexPath(`^${base}/versions/${v.version}(/.*)?$`);
    routes.push({
      ...textRoute(
        `${v.cluster}:rest:version-conflict`,
        path,
        400,
        `the path names version '${v.version}' of model '${model.name}' but the ${versionHeader} header names another; send one of them`,
      ),
      match: routeMatch(path, [
        presentHeader(versionHeader),
        { ...exactHeader(versionHeader, v.version), invertMatch: true },
      ]),
    });
    const target = byName.get(v.version);
    // The nodes' own name for the version goes in the path, when it is not the version's.
    const rewrite =
      target && target.pathVersion !== target.version ? `${base}/versions/${v.version}` : undefined;
    routes.push(
      target
        ? withFilterConfig(
            restRoute(`${target.cluster}:path`, routeMatch(path), model, target, rewrite),
            policy(v.version),
          )
        : noRestRoute(`${v.cluster}:rest:no-rest`, path, model.name, v.version),
    );
  }
  routes.push(
    textRoute(
      `${model.name}:rest:unknown-version`,
      regexPath(`^${base}/versions/[^/]+(/.*)?$`),
      404,
      `that version of model '${model.name}' is not served by this gateway`,
    ),
  );
  // Named by the version header.
  for (const v of model.versions) {
    const target = byName.get(v.version);
    const match = routeMatch(underModel, [exactHeader(versionHeader, v.version)]);
    routes.push(
      target
        ? withFilterConfig(
            restRoute(`${target.cluster}:pinned`, match, model, target, base),
            policy(v.version),
          )
        : { ...noRestRoute(`${v.cluster}:rest:no-rest-pinned`, underModel, model.name, v.version), match },
    );
  }
  routes.push({
    ...textRoute(
      `${model.name}:rest:unknown-header-version`,
      underModel,
      404,
      `the version in the ${versionHeader} header is not served by this gateway for model '${model.name}'`,
    ),
    match: routeMatch(underModel, [presentHeader(versionHeader)]),
  });
  routes.push(...splitRoutes(model, base, underModel));
  routes.push(
    textRoute(
      `${model.name}:rest:other`,
      { $case: "prefix", prefix: `${restPrefix}/` },
      404,
      `no such path for model '${model.name}': its REST paths are ${base}[/versions/<version>][/ready|/infer] (the ${modelHeader} header, when sent, must name the model in the path)`,
    ),
  );
  return routes;
}

/**
 * The weighted split, as one route per version: a route takes the calls whose per-call random
 * number (mod 100) is below its cumulative weight, the last one the rest. Envoy draws that number
 * once per call and uses it for every route's runtime_fraction, so the shares are exactly the
 * weights, as weighted_clusters would give; each route can then rewrite the path to its version.
 */
function splitRoutes(model: ModelIR, base: string, underModel: PathSpecifier): Route[] {
  const weighted = (model.rest?.versions ?? []).filter((v) => v.weight > 0);
  if (weighted.length === 0) {
    return [
      textRoute(
        `${model.name}:rest:no-rest`,
        underModel,
        501,
        `no version of model '${model.name}' that takes calls has a node serving REST; call it over gRPC, or pin a version that has one`,
      ),
    ];
  }
  let below = 0;
  return weighted.map((v, i) => {
    below += v.weight;
    const last = i === weighted.length - 1;
    const match = routeMatch(underModel);
    return restRoute(
      `${v.cluster}:split`,
      last
        ? match
        : {
            ...match,
            runtimeFraction: {
              defaultValue: { numerator: below, denominator: FractionalPercent_DenominatorType.HUNDRED },
              runtimeKey: "",
            },
          },
      model,
      v,
      base,
    );
  });
}

/**
 * A REST call to one version's REST cluster. `rewriteFrom` is set when the path does not name the
 * version as its nodes do (the model's base path, or the version's under the gateway's name): the
 * route writes their name in, `/v2/models/<model>/versions/<pathVersion>`, or no version at all
 * for a server's unversioned model.
 */
function restRoute(
  name: string,
  match: Route["match"],
  model: ModelIR,
  target: RestVersionIR,
  rewriteFrom?: string,
): Route {
  const base = `${restModelsPrefix}${model.name}`;
  const to = target.pathVersion === "" ? base : `${base}/versions/${target.pathVersion}`;
  const timeout = duration(model.timeoutMs);
  const shadow = model.rest?.shadow;
  return Route.fromPartial({
    name,
    match,
    action: {
      $case: "route",
      route: RouteAction.fromPartial({
        clusterSpecifier: { $case: "cluster", cluster: target.cluster },
        ...(rewriteFrom
          ? {
              regexRewrite: {
                pattern: { regex: `^${rewriteFrom}(/.*)?$` },
                substitution: `${to}\\1`,
              },
            }
          : {}),
        timeout,
        // The whole exchange, upload included, within the model's timeout: a client that sends
        // its body slowly cannot hold a connection to a node for longer.
        maxStreamDuration: { maxStreamDuration: timeout },
        ...(model.retry ? { retryPolicy: restRetryPolicy(model.retry) } : {}),
        ...(model.retry?.hedgeOnPerTryTimeout ? { hedgePolicy: { hedgeOnPerTryTimeout: true } } : {}),
        requestMirrorPolicies: shadow ? [mirrorPolicy(shadow.cluster, shadow.percent)] : [],
      }),
    },
  });
}

/**
 * The model's retry policy for REST: the conditions about connections and HTTP statuses as they
 * are; the gRPC statuses as the HTTP statuses a REST node answers them with (grpc-gateway's table):
 * unavailable 503, resource-exhausted 429, deadline-exceeded 504, internal 500. A cancelled call
 * has no HTTP status to retry on.
 */
function restRetryPolicy(retry: RetryIR): RetryPolicy {
  const statusOf: Partial<Record<string, number>> = {
    unavailable: 503,
    "resource-exhausted": 429,
    "deadline-exceeded": 504,
    internal: 500,
  };
  const grpcOnly = new Set(["cancelled", ...Object.keys(statusOf)]);
  const statuses = retry.retryOn.flatMap((on) => statusOf[on] ?? []);
  const on: string[] = retry.retryOn.filter((x) => !grpcOnly.has(x));
  if (statuses.length > 0) on.push("retriable-status-codes");
  return { ...retryPolicy(retry, true), retryOn: on.join(","), retriableStatusCodes: statuses };
}

/** A body declared larger than the listener allows never reaches a node. */
function tooLargeRoute(model: ModelIR, listener: ListenerIR): Route {
  const limit = listener.maxRequestBodyBytes;
  const path = regexPath(`^${restPrefix}/.*$`);
  return {
    ...textRoute(
      `${model.name}:rest:too-large`,
      path,
      413,
      `the request body is larger than the ${limit} bytes this gateway accepts (listener.maxRequestBodyBytes); send large tensors in Triton's binary form, or split the batch`,
    ),
    match: routeMatch(path, [
      HeaderMatcher.fromPartial({
        name: "content-length",
        headerMatchSpecifier: {
          $case: "rangeMatch",
          rangeMatch: { start: limit + 1, end: Number.MAX_SAFE_INTEGER },
        },
      }),
    ]),
  };
}

function noRestRoute(name: string, path: PathSpecifier, model: string, version: string): Route {
  return textRoute(
    name,
    path,
    501,
    `version '${version}' of model '${model}' is served over gRPC only: none of its nodes declares a restPort`,
  );
}

type PathSpecifier = NonNullable<NonNullable<Route["match"]>["pathSpecifier"]>;

function regexPath(regex: string): PathSpecifier {
  return { $case: "safeRegex", safeRegex: { regex } };
}

function exactPath(path: string): PathSpecifier {
  return { $case: "path", path };
}

function routeMatch(path: PathSpecifier, headers: HeaderMatcher[] = []): NonNullable<Route["match"]> {
  return RouteMatch.fromPartial({ pathSpecifier: path, headers });
}

/**
 * Requests whose content type does not start with application/grpc (or that have none): REST and
 * any other HTTP client, answered in HTTP's terms (listeners.ts's local replies use it too).
 */
export function notGrpc(): HeaderMatcher {
  return HeaderMatcher.fromPartial({
    name: "content-type",
    headerMatchSpecifier: {
      $case: "stringMatch",
      stringMatch: { matchPattern: { $case: "prefix", prefix: grpcContentTypePrefix } },
    },
    invertMatch: true,
    treatMissingHeaderAsEmpty: true,
  });
}

const overwrite = (key: string, value: string) => ({
  header: { key, value },
  appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
});

/** A JSON answer of Envoy's own (the server-level calls). */
function jsonRoute(name: string, path: string, status: number, body: unknown): Route {
  return Route.fromPartial({
    name,
    match: routeMatch(exactPath(path)),
    action: {
      $case: "directResponse",
      directResponse: {
        status,
        body: { specifier: { $case: "inlineString", inlineString: JSON.stringify(body) } },
      },
    },
    responseHeadersToAdd: [overwrite("content-type", "application/json")],
  });
}

/** An error of Envoy's own, as text; the local-reply mapper makes it `{"error": "<text>"}`. */
function textRoute(name: string, path: PathSpecifier, status: number, message: string): Route {
  return Route.fromPartial({
    name,
    match: routeMatch(path),
    action: {
      $case: "directResponse",
      directResponse: { status, body: { specifier: { $case: "inlineString", inlineString: message } } },
    },
  });
}
