/**
 * JWT bearer tokens, verified with jose against a JWKS: a local file (reloaded by the caller) or
 * a URL (fetched and cached by jose: reused for the configured time, and fetched again, at most
 * every 30 s, when a token names a key the cached set lacks, as after a key rotation).
 * https://github.com/panva/jose/blob/main/docs/jwt/verify/functions/jwtVerify.md
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from "jose";
import type { JwtConfig } from "@inferencehub/contracts/config";
import type { GatewayError } from "@inferencehub/contracts/errors";
import type { Clock } from "@inferencehub/contracts/clock";
import { unauthenticated, unavailable } from "./errors.js";

export interface JwtIdentity {
  tenant: string;
  /** The `sub` claim, or "" when the token has none. */
  subject: string;
}

export interface JwtVerifier {
  /** Throws an UNAUTHENTICATED GatewayError for a bad token, UNAVAILABLE when the JWKS cannot be fetched. */
  verify(token: string): Promise<JwtIdentity>;
}

export interface JwtVerifierOptions {
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  tenantClaim: string;
  clockSkewMs: number;
  /** exp and nbf are judged against it. */
  clock: Pick<Clock, "now">;
}

/**
 * Public-key algorithms only: a JWKS holds public keys, and HMAC with a key the whole world can
 * read would let anyone sign.
 */
const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

const getNew = "get a new token from your identity provider";

export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  return {
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, options.keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          requiredClaims: ["exp"],
          clockTolerance: Math.round(options.clockSkewMs / 1000),
          currentDate: new Date(options.clock.now()),
        }));
      } catch (err) {
        throw jwtError(err);
      }
      const tenant = payload[options.tenantClaim];
      if (typeof tenant !== "string" || tenant === "") {
        throw unauthenticated(`the JWT has no '${options.tenantClaim}' claim naming a tenant; ${getNew}`);
      }
      return { tenant, subject: typeof payload.sub === "string" ? payload.sub : "" };
    },
  };
}

/** jose's errors as messages a caller can act on; never the token. */
function jwtError(err: unknown): GatewayError {
  if (err instanceof errors.JWTExpired) return unauthenticated(`the JWT has expired; ${getNew}`, err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what = err.reason === "missing" ? "is missing" : "is not accepted by this gateway";
    return unauthenticated(`the JWT's '${err.claim}' claim ${what}; ${getNew}`, err);
  }
  if (err instanceof JwksUnavailable) {
    return unavailable("the JWT's signing keys could not be fetched; try again", err);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated(`the JWT is signed with a key this gateway does not know; ${getNew}`, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthenticated(`the JWT's signature is not valid; ${getNew}`, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return unauthenticated(`the JWT's signing algorithm is not accepted (use ${algorithms.join(", ")})`, err);
  }
  return unauthenticated(`the JWT is not valid; ${getNew}`, err);
}

/** Fetching a remote JWKS failed: no verdict on the token, so the call is UNAVAILABLE (retryable). */
class JwksUnavailable extends Error {}

export type JwksResult = { ok: true; keys: JWTVerifyGetKey } | { ok: false; error: string };

/** A JWKS document's text → a key source; the caller keeps the last good one on failure. */
export function parseJwks(text: string): JwksResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return { ok: false, error: 'expected a JWKS document: { "keys": [ ... ] }' };
  try {
    return { ok: true, keys: createLocalJWKSet(json as JSONWebKeySet) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** The JWKS at a URL, cached by jose for cacheMs. */
export function remoteJwks(url: string, cacheMs: number): JWTVerifyGetKey {
  const set = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: cacheMs,
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });
  return async (header, token) => {
    try {
      return await set(header, token);
    } catch (err) {
      // Verdicts on the token pass through; anything else is the fetch (network, status, JSON).
      const verdict =
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSEAlgNotAllowed ||
        err instanceof errors.JOSENotSupported;
      if (verdict) throw err;
      throw new JwksUnavailable(`fetching ${url} failed`, { cause: err });
    }
  };
}

export function jwtVerifierOptions(
  config: JwtConfig,
  keys: JWTVerifyGetKey,
  clock: Pick<Clock, "now">,
): JwtVerifierOptions {
  return {
    keys,
    issuer: config.issuer,
    audience: config.audience,
    tenantClaim: config.tenantClaim,
    clockSkewMs: config.clockSkewMs,
    clock,
  };
}
