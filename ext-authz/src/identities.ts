/** Who is calling: an API key or a JWT, each naming a tenant. */
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

export function createIdentities(sources: { keys?: KeyStore; jwt?: JwtVerifier }): Identities {
  return {
    async authenticate(credential) {
      if (credential.kind === "api-key") {
        if (!sources.keys) throw unauthenticated("API keys are not accepted by this gateway: send a JWT");
        const entry = sources.keys.lookup(credential.key);
        if (!entry) {
          throw unauthenticated(
            "the API key is not valid (unknown or revoked): ask the gateway's operator for one",
          );
        }
        return { tenant: entry.tenant, principal: `key:${entry.id}` };
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
