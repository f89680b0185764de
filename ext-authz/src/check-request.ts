/** The parts of Envoy's CheckRequest that ext-authz decides on. */
import type { CheckRequest } from "../../gen/envoy/envoy/service/auth/v3/external_auth.js";

export interface CallAttributes {
  /** The gRPC method path, without a query string. */
  path: string;
  /** Lowercase names; every value of a repeated header, in order. */
  headers: ReadonlyMap<string, readonly string[]>;
  /** The first bytes of the body when the route asked for them, else empty. */
  body: Uint8Array;
}

/**
 * A gRPC call by its content type (application/grpc, application/grpc+proto, ...), which the gRPC
 * protocol requires on every call: a request without one (a REST GET) is not gRPC. Envoy sends the
 * header because the control plane lists it in the filter's allowed_headers.
 */
export function isGrpc(call: CallAttributes): boolean {
  return (call.headers.get("content-type")?.[0] ?? "").startsWith("application/grpc");
}

/**
 * With encode_raw_headers (the control plane sets it) Envoy sends `header_map`, one entry per
 * value, in raw_value; without it, `headers`, repeated values joined by commas.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/service/auth/v3/attribute_context.proto
 */
export function callAttributes(request: CheckRequest): CallAttributes {
  const http = request.attributes?.request?.http;
  const headers = new Map<string, string[]>();
  const add = (key: string, value: string) => {
    const name = key.toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), value]);
  };
  const raw = http?.headerMap?.headers ?? [];
  if (raw.length > 0) {
    for (const h of raw)
      add(h.key, h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString("latin1") : h.value);
  } else {
    for (const [key, value] of Object.entries(http?.headers ?? {})) add(key, value);
  }
  const path = http?.path ?? "";
  const query = path.indexOf("?");
  return {
    path: query < 0 ? path : path.slice(0, query),
    headers,
    body: http?.rawBody ?? new Uint8Array(),
  };
}
