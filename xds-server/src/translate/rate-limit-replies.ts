/**
 * What a caller over its rate limit is told in native mode, as ext-authz told it: RESOURCE_EXHAUSTED
 * (gRPC) or 429 (REST), "tenant '<t>' is over its rate limit; retry in <ms> ms", with
 * grpc-retry-pushback-ms (gRFC A6) and retry-after. Envoy's rate limit filters add their own
 * x-ratelimit-reset only after the local reply is mapped, so the wait is the tenant's own, known
 * here: the time one token takes to refill (local token bucket), or the length of the service's
 * window (rate limit service), an upper bound.
 * The replies match on the filters' response code details, since both set the RL response flag
 * only after the reply is mapped; ext-authz's own 429s (ext-authz mode) never match.
 */
import { modelHeader, tenantHeader } from "@inferencehub/contracts/headers";
import {
  HeaderValueOption,
  HeaderValueOption_HeaderAppendAction,
} from "../../../gen/envoy/envoy/config/core/v3/base.js";
import type { AccessLogFilter } from "../../../gen/envoy/envoy/config/accesslog/v3/accesslog.js";
import type { NativeAuthIR } from "../ir/index.js";
import { fixedWindowFor, windowUnits } from "../ratelimit/index.js";
import { celFilter } from "./common.js";

export interface RateLimitReply {
  filter: AccessLogFilter["filterSpecifier"];
  message: string;
  headers: { grpc: HeaderValueOption[]; rest: HeaderValueOption[] };
}

const limitedByEnvoy = celFilter(
  "response.code_details == 'local_rate_limited' || response.code_details == 'request_rate_limited'",
);

/**
 * One reply per limit (a tenant's on one model first, naming it), then one for a call over a limit
 * this config does not know of.
 */
export function rateLimitReplies(native: NativeAuthIR | undefined): RateLimitReply[] {
  if (!native || (native.rateLimits.length === 0 && !native.rateLimitService)) return [];
  const global = native.rateLimitService !== undefined;
  // A tenant's limit on one model first: it is the more specific, and names the model.
  const ordered = [...native.rateLimits].sort(
    (a, b) => Number(b.model !== undefined) - Number(a.model !== undefined),
  );
  const replies = ordered.map(({ tenant, model, callsPerSecond, burst }) => {
    const waitMs = global ? windowMs(callsPerSecond, burst) : Math.max(1, Math.ceil(1_000 / callsPerSecond));
    const forModel = model === undefined ? "" : ` for model '${model}'`;
    return {
      filter: and([
        limitedByEnvoy,
        headerIs(tenantHeader, tenant),
        ...(model === undefined ? [] : [headerIs(modelHeader, model)]),
      ]),
      message: `tenant '${tenant}' is over its rate limit${forModel}; retry in ${waitMs} ms`,
      headers: retryHeaders(waitMs),
    };
  });
  // A limit the service's config holds for a tenant this config does not (an edit in flight).
  const fallbackMs = 1_000;
  replies.push({
    filter: limitedByEnvoy,
    message: `tenant '%REQ(${tenantHeader})%' is over its rate limit; retry in ${fallbackMs} ms`,
    headers: retryHeaders(fallbackMs),
  });
  return replies;
}

function windowMs(callsPerSecond: number, burst: number): number {
  const { unit } = fixedWindowFor({ callsPerSecond, burst });
  return (windowUnits.find((w) => w.unit === unit)?.seconds ?? 1) * 1_000;
}

function retryHeaders(waitMs: number): RateLimitReply["headers"] {
  const retryAfter = overwrite("retry-after", String(Math.max(1, Math.ceil(waitMs / 1_000))));
  return { grpc: [overwrite("grpc-retry-pushback-ms", String(waitMs)), retryAfter], rest: [retryAfter] };
}

function headerIs(name: string, value: string): AccessLogFilter["filterSpecifier"] {
  return {
    $case: "headerFilter",
    headerFilter: {
      header: {
        name,
        headerMatchSpecifier: {
          $case: "stringMatch",
          stringMatch: { ignoreCase: false, matchPattern: { $case: "exact", exact: value } },
        },
        invertMatch: false,
        treatMissingHeaderAsEmpty: false,
      },
    },
  };
}

function and(filters: AccessLogFilter["filterSpecifier"][]): AccessLogFilter["filterSpecifier"] {
  return {
    $case: "andFilter",
    andFilter: { filters: filters.map((filterSpecifier) => ({ filterSpecifier })) },
  };
}

function overwrite(key: string, value: string): HeaderValueOption {
  return HeaderValueOption.fromPartial({
    header: { key, value },
    appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
  });
}
