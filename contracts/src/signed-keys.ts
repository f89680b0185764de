/**
 * API keys the gateway signs (#16), so that Envoy can verify them itself (jwt_authn) against the
 * public half (auth.apiKeys.jwksFile) while the keys file still holds only hashes. The format is a
 * contract: the control plane's Envoy config depends on it.
 *
 * - compact JWS, alg ES256, protected header `{ alg: "ES256", kid: <signing key id>, typ: "JWT" }`;
 * - claims `{ iss: <auth.apiKeys.issuer>, sub: <key id in the keys file>, tenant: <tenant>, iat }`,
 *   no `exp` (a key lives until its entry is removed from the keys file) and no `aud`;
 * - its keys file entry is `{ id, tenant, sha256 }`, sha256 being hashApiKey of the whole token.
 *
 * The private key stays with whoever issues keys (hubctl keys, a secret store): never in
 * inferencehub.yaml nor in a folder Envoy or the control plane reads.
 */
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import { apiKeyIdPattern, apiKeyTenantPattern } from "./api-keys.js";
import { defaultAuth } from "./config/defaults.js";

export const signedKeyAlgorithm = "ES256";

/** auth.apiKeys.issuer when the config does not set it. */
export const defaultSignedKeyIssuer: string = defaultAuth.apiKeysIssuer;

export interface SigningKey {
  /** The private key (`d`), with `kid` and `alg: ES256`: keep it secret, file mode 0600. */
  privateJwk: JWK;
  /** What auth.apiKeys.jwksFile holds: the public half only. */
  publicJwks: { keys: JWK[] };
}

export interface IssueSignedApiKeyOptions {
  /** A private P-256 JWK with a `kid`, as createSigningKey makes it. */
  privateJwk: JWK;
  /** auth.apiKeys.issuer (defaultSignedKeyIssuer unless the config sets another). */
  issuer: string;
  /** The key's id in the keys file: its `sub`, and `key:<id>` in x-inferencehub-principal. */
  id: string;
  tenant: string;
  /** When it is issued (`iat`); default now. */
  now?: Date;
}

/** A new ES256 signing key named `kid`: the private JWK and the public JWKS. */
export async function createSigningKey(kid: string): Promise<SigningKey> {
  if (!apiKeyIdPattern.test(kid)) {
    throw new Error(`kid '${kid}' must be 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  const { privateKey } = await generateKeyPair(signedKeyAlgorithm, { extractable: true });
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: signedKeyAlgorithm, use: "sig" };
  return { privateJwk, publicJwks: { keys: [publicJwkOf(privateJwk)] } };
}

/** The public half of a signing key (no `d`), with its kid, alg and use. */
export function publicJwkOf(jwk: JWK): JWK {
  const { kty, crv, x, y, kid } = jwk;
  return { kty, crv, x, y, kid, alg: signedKeyAlgorithm, use: "sig" };
}

/**
 * A private signing key read from a file, or every reason it is not one: a P-256 EC JWK with
 * `d` and a `kid`, and `alg` ES256 when it names one.
 */
export function signingKeyProblems(value: unknown): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return ["not a JWK object"];
  const jwk = value as Record<string, unknown>;
  const problems: string[] = [];
  if (jwk.kty !== "EC" || jwk.crv !== "P-256") problems.push("not a P-256 EC key (kty EC, crv P-256)");
  if (typeof jwk.d !== "string") problems.push("has no private part (d): this is a public key");
  if (typeof jwk.kid !== "string" || jwk.kid === "") problems.push("has no kid");
  if (jwk.alg !== undefined && jwk.alg !== signedKeyAlgorithm)
    problems.push(`alg is not ${signedKeyAlgorithm}`);
  return problems;
}

/** Signs a new API key; throws (a programmer's or operator's error) on a bad key, id or tenant. */
export async function issueSignedApiKey(options: IssueSignedApiKeyOptions): Promise<string> {
  const { privateJwk, issuer, id, tenant } = options;
  const problems = signingKeyProblems(privateJwk);
  if (problems.length > 0) throw new Error(`the signing key ${problems.join("; ")}`);
  if (!apiKeyIdPattern.test(id))
    throw new Error(`id '${id}' must be 1 to 64 letters, digits, '.', '_' or '-'`);
  if (!apiKeyTenantPattern.test(tenant)) throw new Error(`'${tenant}' is not a tenant name`);
  if (issuer === "") throw new Error("the issuer must not be empty");
  const key = await importJWK(privateJwk, signedKeyAlgorithm);
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ iss: issuer, sub: id, tenant, iat })
    .setProtectedHeader({ alg: signedKeyAlgorithm, kid: privateJwk.kid as string, typ: "JWT" })
    .sign(key);
}

/** Three base64url segments: a JWS in compact serialization. */
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The `iss` claim of a compact JWS, unverified, or undefined when the token is not one (or has
 * no string `iss`). Pure and cheap: it only chooses how a token is checked. A token whose `iss`
 * is the gateway's keys issuer is looked up by its hash in the keys file, which only lists tokens
 * the gateway issued, so a forged one gains nothing.
 */
export function signedKeyIssuer(token: string): string | undefined {
  if (!compactJws.test(token)) return undefined;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}
