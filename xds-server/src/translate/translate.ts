/**
 * IR → Envoy v3 resources for both groups of clients. Pure: the same IR gives equal resources,
 * each list sorted by name. Serving them (versions, ADS ordering) is the cache's job.
 */
import type { GatewayIR } from "../ir/index.js";
import { byName } from "./common.js";
import { translateClusters } from "./clusters.js";
import { translateEndpoints } from "./endpoints.js";
import { envoyListeners, proxylessListeners } from "./listeners.js";
import { envoyRoutes, envoyScopes, proxylessRoutes } from "./routes.js";
import type { Named, ResourceSet } from "./types.js";

export interface TranslateResult {
  /** For Envoy proxies (node group "envoy"). */
  envoy: ResourceSet;
  /** For grpc-js clients with `xds:///<model>` targets. */
  proxyless: ResourceSet;
}

export function translate(ir: GatewayIR): TranslateResult {
  // Endpoints are the same for both groups: encode once, share the bytes.
  const endpoints = sorted(translateEndpoints(ir));
  return {
    envoy: {
      listeners: sorted(envoyListeners(ir)),
      scopedRoutes: sorted(envoyScopes(ir)),
      routes: sorted(envoyRoutes(ir)),
      clusters: sorted(translateClusters(ir, "envoy")),
      endpoints,
    },
    proxyless: {
      listeners: sorted(proxylessListeners(ir)),
      scopedRoutes: [],
      routes: sorted(proxylessRoutes(ir)),
      clusters: sorted(translateClusters(ir, "proxyless")),
      endpoints,
    },
  };
}

function sorted<T>(items: Named<T>[]): Named<T>[] {
  return [...items].sort(byName);
}
