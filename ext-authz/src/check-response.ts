/**
 * Decisions as Envoy CheckResponses. A denial is a DeniedHttpResponse that Envoy turns into a
 * local reply; for a gRPC request Envoy makes that a trailers-only response (HTTP 200,
 * content-type application/grpc), keeps a grpc-status header set here, and puts the body,
 * percent-encoded, into grpc-message. Without the grpc-status header Envoy would map the HTTP
 * status, which has no RESOURCE_EXHAUSTED (429 maps to UNAVAILABLE) and turns 400 into INTERNAL.
 * The HTTP status still matters: Envoy's stats and access log show it, and HTTP/1 clients get it.
 * test/ext-authz.test.ts checks what a grpc-js client receives through a real Envoy.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/api-v3/service/auth/v3/external_auth.proto#service-auth-v3-deniedhttpresponse
 * https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md
 */
import { status } from "@grpc/grpc-js";
import type { GatewayError } from "@inferencehub/contracts/errors";
import {
  HeaderValueOption_HeaderAppendAction,
  type HeaderValueOption,
} from "../../gen/envoy/envoy/config/core/v3/base.js";
import type { CheckResponse } from "../../gen/envoy/envoy/service/auth/v3/external_auth.js";

const httpStatus: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  // Not 503: Envoy's own answer when ext-authz is down is a 503, which the control plane gives a
  // message of its own (translate/listeners.ts); ext-authz's UNAVAILABLE (a JWKS it cannot fetch)
  // is a failure of a service behind it, a bad gateway.
  [status.UNAVAILABLE]: 502,
};

function header(key: string, value: string): HeaderValueOption {
  return {
    header: { key, value, rawValue: Buffer.alloc(0) },
    appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
    keepEmptyValue: false,
  };
}

export function okResponse(set: readonly [string, string][], remove: readonly string[]): CheckResponse {
  return {
    status: { code: status.OK, message: "", details: [] },
    httpResponse: {
      $case: "okResponse",
      okResponse: {
        headers: set.map(([k, v]) => header(k, v)),
        headersToRemove: [...remove],
        responseHeadersToAdd: [],
        queryParametersToSet: [],
        queryParametersToRemove: [],
      },
    },
  };
}

/**
 * `grpc` is false for a request that is not gRPC (REST, any HTTP/1.1 client): it gets the HTTP
 * status and the message only, which the gateway's local-reply mapper turns into
 * `{"error": "<message>"}` (xds-server translate/listeners.ts).
 */
export function deniedResponse(error: GatewayError, grpc = true): CheckResponse {
  const headers = grpc ? [header("grpc-status", String(error.code))] : [];
  if (error.code === status.UNAUTHENTICATED) headers.push(header("www-authenticate", "Bearer"));
  if (error.retryAfterMs !== undefined) {
    // retry-after for HTTP clients (whole seconds); grpc-retry-pushback-ms for gRPC retry policies (gRFC A6).
    headers.push(header("retry-after", String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))));
    if (grpc) headers.push(header("grpc-retry-pushback-ms", String(error.retryAfterMs)));
  }
  return {
    status: { code: error.code, message: error.message, details: [] },
    httpResponse: {
      $case: "deniedResponse",
      deniedResponse: { status: { code: httpStatus[error.code] ?? 500 }, headers, body: error.message },
    },
  };
}
