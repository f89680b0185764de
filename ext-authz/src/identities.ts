/**
 * Who is calling: an API key or a JWT, each naming a tenant. An API key is a random `ihk_` key or
 * a token the gateway signed (a compact JWS whose `iss` is auth.apiKeys.issuer); both are looked
 * up by their hash in the keys file and never verified as JWTs here, so ext-authz needs neither
 * the signing key nor its public JWKS. A JWS that merely claims that issuer finds no hash.
 */
import { signedKeyIssuer } from "@inferencehub/contracts/signed-keys";
import type { KeyStore } from "./api-keys.js";
import type { Credential } from "./credentials.js";
import { unauthenticated } from "./errors.js";
import type { JwtVerifier } from "./jwt.js";

export interface Identity {
  tenant: string;
  /** `key:<id>` or `jwt:<sub>`: for the node's logs (x-inferencehub-principal), never a secret. */
  principal: string;
}

export interface Identities {
  /** Throws an UNAUTHENTICATED GatewayError (UNAVAILABLE when a remote JWKS cannot be fetched). */
  authenticate(credential: Credential): Promise<Identity>;
}

export interface IdentitySources {
  keys?: KeyStore;
  jwt?: JwtVerifier;
  /** auth.apiKeys.issuer: a compact JWS with this `iss` is a gateway-signed API key; absent = none are. */
  apiKeysIssuer?: string;
}

export function createIdentities(sources: IdentitySources): Identities {
  const apiKey = (key: string): Identity => {
    if (!sources.keys) throw unauthenticated("API keys are not accepted by this gateway: send a JWT");
    const entry = sources.keys.lookup(key);
    if (!entry) {
      throw unauthenticated(
        "the API key is not valid (unknown or revoked): ask the gateway's operator for one",
      );
    }
    return { tenant: entry.tenant, principal: `key:${entry.id}` };
  };
  return {
    async authenticate(credential) {
      if (credential.kind === "api-key") return apiKey(credential.key);
      if (
        sources.apiKeysIssuer !== undefined &&
        signedKeyIssuer(credential.token) === sources.apiKeysIssuer
      ) {
        return apiKey(credential.token);
      }
      if (!sources.jwt) throw unauthenticated("JWTs are not accepted by this gateway: send an API key");
      const { tenant, subject } = await sources.jwt.verify(credential.token);
      return { tenant, principal: `jwt:${headerSafe(subject)}` };
    },
  };
}

/** A claim as a header value: visible ASCII only (others percent-encoded), at most 128 characters. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c)).slice(0, 128);
}
