/**
 * The v2 REST protocol's paths: which endpoint a method and URL name, with the model and version
 * taken from the path. Pure; unknown paths and wrong methods are answered by the server as 404
 * and 405 (with Allow).
 */

export type Route =
  | { kind: "live" }
  | { kind: "ready" }
  | { kind: "serverMetadata" }
  | { kind: "modelMetadata"; model: string; version: string }
  | { kind: "modelReady"; model: string; version: string }
  | { kind: "infer"; model: string; version: string }
  /** Triton's endpoints this node does not serve over REST (answered 501). */
  | { kind: "unsupported"; what: string };

export type Match =
  { ok: true; route: Route } | { ok: false; status: 404 } | { ok: false; status: 405; allow: string };

/** Triton's REST extensions not served here: the repository, config, statistics, shared memory, ... */
const unsupported: readonly { prefix: RegExp; what: string }[] = [
  { prefix: /^\/v2\/repository(\/|$)/, what: "the model repository extension (use gRPC)" },
  { prefix: /^\/v2\/(systemsharedmemory|cudasharedmemory)(\/|$)/, what: "shared memory" },
  { prefix: /^\/v2\/(trace|logging)(\/|$)/, what: "trace and logging settings" },
];

const modelPath =
  /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer|config|stats|generate|generate_stream))?$/;

function segment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

const get = (route: Route, method: string): Match =>
  method === "GET" || method === "HEAD"
    ? { ok: true, route }
    : { ok: false, status: 405, allow: "GET, HEAD" };

/** Matches a request line; `url` may carry a query string, which is ignored. */
export function matchRoute(method: string, url: string): Match {
  const path = url.split("?")[0] ?? "";
  if (path === "/v2" || path === "/v2/") return get({ kind: "serverMetadata" }, method);
  if (path === "/v2/health/live") return get({ kind: "live" }, method);
  if (path === "/v2/health/ready") return get({ kind: "ready" }, method);
  for (const u of unsupported)
    if (u.prefix.test(path)) return { ok: true, route: { kind: "unsupported", what: u.what } };
  const m = modelPath.exec(path);
  if (!m) return { ok: false, status: 404 };
  const model = segment(m[1] ?? "");
  const version = m[2] === undefined ? "" : segment(m[2]);
  if (model === undefined || version === undefined) return { ok: false, status: 404 };
  switch (m[3]) {
    case undefined:
      return get({ kind: "modelMetadata", model, version }, method);
    case "ready":
      return get({ kind: "modelReady", model, version }, method);
    case "infer":
      return method === "POST"
        ? { ok: true, route: { kind: "infer", model, version } }
        : { ok: false, status: 405, allow: "POST" };
    default:
      return { ok: true, route: { kind: "unsupported", what: `the model '${m[3]}' endpoint` } };
  }
}
