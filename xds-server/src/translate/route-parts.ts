/** Pieces of routes that the gRPC routes (routes.ts) and the REST routes (rest-routes.ts) share. */
import {
  HeaderMatcher,
  RetryPolicy,
  RouteAction_RequestMirrorPolicy,
  type Route,
} from "../../../gen/envoy/envoy/config/route/v3/route_components.js";
import type { Any } from "../../../gen/envoy/google/protobuf/any.js";
import { FractionalPercent_DenominatorType } from "../../../gen/envoy/envoy/type/v3/percent.js";
import type { RetryIR } from "../ir/index.js";
import { packAny, previousHostsPredicateTypeUrl } from "../resources/index.js";
import { StringMatcher } from "../../../gen/envoy/envoy/type/matcher/v3/string.js";
import { emptyMessage, messageWith } from "./common.js";
import { duration } from "./durations.js";

/**
 * previous_hosts makes a retry prefer a node the call has not failed on yet.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/extensions/retry/host/previous_hosts/v3/previous_hosts.proto
 */
/** The same bytes on every route: packed once (an Any is never changed once made). */
const previousHosts = packAny(previousHostsPredicateTypeUrl, {});

export function retryPolicy(retry: RetryIR, unary: boolean): RetryPolicy {
  // A model's routes share its two policies (each model has some 10 routes with one).
  const known = retryPolicies.get(retry);
  if (known) return known[unary ? 1 : 0];
  const policies: [RetryPolicy, RetryPolicy] = [makeRetryPolicy(retry, false), makeRetryPolicy(retry, true)];
  retryPolicies.set(retry, policies);
  return policies[unary ? 1 : 0];
}

/** By the IR's object: an IR is never changed once built. */
const retryPolicies = new WeakMap<RetryIR, [RetryPolicy, RetryPolicy]>();

function makeRetryPolicy(retry: RetryIR, unary: boolean): RetryPolicy {
  return RetryPolicy.fromPartial({
    retryOn: retry.retryOn.join(","),
    numRetries: retry.numRetries,
    perTryTimeout: duration(retry.perTryTimeoutMs),
    ...(unary ? { perTryIdleTimeout: duration(retry.perTryTimeoutMs) } : {}),
    retryHostPredicate: [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        configType: { $case: "typedConfig", typedConfig: previousHosts },
      },
    ],
    hostSelectionRetryMaxAttempts: retry.hostSelectionRetryMaxAttempts,
  });
}

export function mirrorPolicy(cluster: string, percent: number): RouteAction_RequestMirrorPolicy {
  return RouteAction_RequestMirrorPolicy.fromPartial({
    cluster,
    runtimeFraction: {
      defaultValue: { numerator: percent, denominator: FractionalPercent_DenominatorType.HUNDRED },
    },
    // Send the copy with the client's :authority unchanged (Envoy appends "-shadow" by default).
    disableShadowHostSuffixAppend: true,
  });
}

export function exactHeader(name: string, value: string): HeaderMatcher {
  return messageWith(emptyHeaderMatcher, {
    name,
    headerMatchSpecifier: {
      $case: "stringMatch",
      stringMatch: messageWith(emptyStringMatcher, { matchPattern: { $case: "exact", exact: value } }),
    },
  });
}

const emptyHeaderMatcher = emptyMessage(HeaderMatcher.fromPartial({}));
const emptyStringMatcher = emptyMessage(StringMatcher.fromPartial({}));

export function presentHeader(name: string): HeaderMatcher {
  return HeaderMatcher.fromPartial({
    name,
    headerMatchSpecifier: { $case: "presentMatch", presentMatch: true },
  });
}

/** The route with more typed_per_filter_config entries; the same route when there are none. */
export function withFilterConfig(route: Route, config: Record<string, Any>): Route {
  if (Object.keys(config).length === 0) return route;
  return { ...route, typedPerFilterConfig: { ...route.typedPerFilterConfig, ...config } };
}
