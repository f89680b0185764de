/**
 * The one error class InferenceHub's services throw on purpose, after connect-es's ConnectError: a
 * gRPC status code, a message safe to send to the caller that says what to do next, and a cause
 * for the log only (it never leaves the process). `GatewayError.from()` turns anything caught into
 * one, so a handler answers with a status whatever was thrown.
 */

/** gRPC status codes, by the numbers on the wire; @grpc/grpc-js's `status` enum has the same values. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = Object.fromEntries(Object.entries(Code).map(([name, code]) => [code, name])) as Record<
  Code,
  keyof typeof Code
>;

/** A code's name as gRPC writes it (NOT_FOUND); a number that is no code is UNKNOWN. */
export function codeName(code: number): keyof typeof Code {
  return codeNames[code as Code] ?? "UNKNOWN";
}

/** A field of a request or a config that is wrong, by its path (`models[0].versions[1].weight`). */
export interface FieldViolation {
  field: string;
  message: string;
}

export interface GatewayErrorOptions {
  /** What went wrong underneath, for the log. */
  cause?: unknown;
  /** Each field that is wrong, when the request or the config it would make is invalid. */
  violations?: readonly FieldViolation[];
  /** RESOURCE_EXHAUSTED: how long until a call would be let through. */
  retryAfterMs?: number;
}

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly violations: readonly FieldViolation[];
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: Code,
    message: string,
    options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.violations = options.violations ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * `reason` as a GatewayError: itself when it is one; a gRPC error (a grpc-js ServiceError, or
   * anything with a numeric `code` and a `details` string) keeps its code and details; anything
   * else gets `code` (UNKNOWN unless given) and its message, with `reason` as the cause.
   */
  static from(reason: unknown, code: Code = Code.UNKNOWN): GatewayError {
    if (reason instanceof GatewayError) return reason;
    if (isGrpcError(reason)) return new GatewayError(reason.code, reason.details, { cause: reason });
    const message = reason instanceof Error ? reason.message : String(reason);
    return new GatewayError(code, message, { cause: reason });
  }
}

function isGrpcError(value: unknown): value is { code: Code; details: string } {
  if (typeof value !== "object" || value === null) return false;
  const { code, details } = value as { code?: unknown; details?: unknown };
  return typeof code === "number" && code in codeNames && typeof details === "string";
}

/**
 * gRPC status → HTTP status, as grpc-gateway and KServe's REST servers map them: the HTTP form of
 * an answer that has a gRPC status (the admin API's JSON front, the protocol's REST form).
 */
const httpStatuses: Record<Code, number> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.UNKNOWN]: 500,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.INTERNAL]: 500,
  [Code.UNAVAILABLE]: 503,
  [Code.DATA_LOSS]: 500,
  [Code.UNAUTHENTICATED]: 401,
};

export function httpStatusOf(code: number): number {
  return httpStatuses[code as Code] ?? 500;
}
