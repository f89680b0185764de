/**
 * Names of the resources the translator creates (cluster names come from the IR, ir/names.ts).
 * Listener and route names are what clients subscribe to: Envoy takes every routing scope of the
 * `ingress` listener, then asks for the route configuration each scope names; a grpc-js client
 * with target `xds:///scale` asks for the listener `scale`, then for the route configuration that
 * listener names.
 */

/** Envoy's data listener. */
export const ingressListenerName = "ingress";

/**
 * The `ingress` listener's routes are split by model: Envoy picks a scope by the model header
 * (scoped routes, SRDS), and each scope has its own route configuration, so a weight change is
 * pushed as that one model's routes, whatever the number of models.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/config/route/v3/scoped_route.proto
 */
export const ingressScopedRoutesName = "ingress_scopes";

/** A model's routing scope and its route configuration share this name. */
export const ingressRouteConfigName = (model: string): string => `ingress_${model}`;

/**
 * The scope of calls without a model header (the body-reading route and INVALID_ARGUMENT). Model
 * names have no '_', so no model's scope can take this name.
 */
export const noModelRouteConfigName = "ingress_no_model";

/** The listener a proxyless client resolves for `xds:///<model>`: exactly the model name. */
export const proxylessListenerName = (model: string): string => model;

/**
 * One route configuration per model, so a change to one model is pushed only to the clients of
 * that model (grpc-js subscribes to the routes its listeners name).
 */
export const proxylessRouteConfigName = (model: string): string => `proxyless_${model}`;
