import assert from "node:assert/strict";
import { before, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { SignJWT, generateKeyPair } from "jose";
import { GatewayError } from "@inferencehub/contracts/errors";
import {
  createSigningKey,
  defaultSignedKeyIssuer,
  issueSignedApiKey,
} from "@inferencehub/contracts/signed-keys";
import { createKeyStore, hashApiKey } from "./api-keys.js";
import { parseAuthorization } from "./credentials.js";
import { createIdentities, type IdentitySources } from "./identities.js";
import type { JwtVerifier } from "./jwt.js";

const issuer = defaultSignedKeyIssuer;
let signed: string;
let unlisted: string;
let foreignIssuer: string;

before(async () => {
  const { privateJwk } = await createSigningKey("k1");
  signed = await issueSignedApiKey({ privateJwk, issuer, id: "acme-signed", tenant: "acme" });
  unlisted = await issueSignedApiKey({ privateJwk, issuer, id: "revoked", tenant: "acme" });
  foreignIssuer = await issueSignedApiKey({
    privateJwk,
    issuer: "someone-else",
    id: "acme-signed",
    tenant: "acme",
  });
});

/** A JWT verifier that records what reached it and accepts everything as tenant `idp`. */
function recordingJwt(): JwtVerifier & { seen: string[] } {
  const seen: string[] = [];
  return { seen, verify: async (token) => (seen.push(token), { tenant: "idp", subject: "u" }) };
}

function identities(extra: Partial<IdentitySources> = {}) {
  const keys = createKeyStore([
    { id: "acme-ci", tenant: "acme", sha256: hashApiKey("ihk_acme") },
    { id: "acme-signed", tenant: "acme", sha256: hashApiKey(signed) },
  ]);
  const jwt = recordingJwt();
  return { jwt, ids: createIdentities({ keys, jwt, apiKeysIssuer: issuer, ...extra }) };
}

const authenticate = (ids: ReturnType<typeof createIdentities>, token: string) =>
  ids.authenticate(parseAuthorization([`Bearer ${token}`]));

const unknownKey = "the API key is not valid (unknown or revoked): ask the gateway's operator for one";

async function refused(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, status.UNAUTHENTICATED);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test("a gateway-signed key is an API key: found by its hash, principal key:<id>, never sent to JWT verification", async () => {
  const { ids, jwt } = identities();
  assert.deepEqual(await authenticate(ids, signed), { tenant: "acme", principal: "key:acme-signed" });
  assert.deepEqual(await authenticate(ids, "ihk_acme"), { tenant: "acme", principal: "key:acme-ci" });
  assert.deepEqual(jwt.seen, []);
});

test("a signed key whose entry is gone (revoked) gets the API key message, like an ihk_ key", async () => {
  const { ids, jwt } = identities();
  await refused(authenticate(ids, unlisted), unknownKey);
  await refused(authenticate(ids, "ihk_revoked"), unknownKey);
  assert.deepEqual(jwt.seen, []);
});

test("a JWS merely claiming the keys issuer, signed by anyone, finds no hash", async () => {
  const { ids, jwt } = identities();
  const { privateKey } = await generateKeyPair("ES256");
  const forged = await new SignJWT({ iss: issuer, sub: "acme-signed", tenant: "acme" })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "JWT" })
    .sign(privateKey);
  await refused(authenticate(ids, forged), unknownKey);
  assert.deepEqual(jwt.seen, []);
});

test("any other JWS goes to JWT verification: another issuer, or no auth.apiKeys at all", async () => {
  const { ids, jwt } = identities();
  assert.deepEqual(await authenticate(ids, foreignIssuer), { tenant: "idp", principal: "jwt:u" });
  assert.deepEqual(jwt.seen, [foreignIssuer]);

  const without = identities({ apiKeysIssuer: undefined });
  assert.deepEqual(await authenticate(without.ids, signed), { tenant: "idp", principal: "jwt:u" });
  assert.deepEqual(without.jwt.seen, [signed]);
});

test("without a keys file, a signed key is refused as an API key", async () => {
  const ids = createIdentities({ apiKeysIssuer: issuer });
  await refused(authenticate(ids, signed), /^API keys are not accepted by this gateway/);
});
