import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { hashApiKey, parseKeysFile } from "./api-keys.js";
import {
  createSigningKey,
  defaultSignedKeyIssuer,
  issueSignedApiKey,
  publicJwkOf,
  signedKeyIssuer,
  signingKeyProblems,
} from "./signed-keys.js";

const issuer = defaultSignedKeyIssuer;

test("the default issuer is the config's", () => assert.equal(issuer, "inferencehub-keys"));
const now = new Date("2026-11-30T12:00:00Z");

test("createSigningKey: a private ES256 JWK with its kid, and a public JWKS without the private part", async () => {
  const { privateJwk, publicJwks } = await createSigningKey("k1");
  assert.equal(privateJwk.kid, "k1");
  assert.equal(privateJwk.alg, "ES256");
  assert.equal(privateJwk.kty, "EC");
  assert.equal(privateJwk.crv, "P-256");
  assert.equal(typeof privateJwk.d, "string");
  assert.deepEqual(signingKeyProblems(privateJwk), []);
  assert.equal(publicJwks.keys.length, 1);
  const [pub] = publicJwks.keys;
  assert.deepEqual(pub, publicJwkOf(privateJwk));
  assert.equal(pub?.d, undefined);
  assert.equal(pub?.kid, "k1");
  assert.equal(pub?.alg, "ES256");
  assert.deepEqual(signingKeyProblems(pub), ["has no private part (d): this is a public key"]);
  await assert.rejects(createSigningKey("no spaces"), /kid 'no spaces' must be/);
});

test("a signed key verifies against the public JWKS and carries exactly the contract's header and claims", async () => {
  const { privateJwk, publicJwks } = await createSigningKey("k1");
  const token = await issueSignedApiKey({ privateJwk, issuer, id: "acme-ci", tenant: "acme", now });
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeProtectedHeader(token), { alg: "ES256", kid: "k1", typ: "JWT" });
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(publicJwks), {
    issuer,
    algorithms: ["ES256"],
    currentDate: new Date("2036-01-01T00:00:00Z"), // no exp: it lives until revoked
  });
  assert.equal(protectedHeader.kid, "k1");
  assert.deepEqual(payload, { iss: issuer, sub: "acme-ci", tenant: "acme", iat: now.getTime() / 1000 });
});

test("a signed key does not verify against another signing key's JWKS", async () => {
  const a = await createSigningKey("k1");
  const b = await createSigningKey("k1");
  const token = await issueSignedApiKey({ privateJwk: a.privateJwk, issuer, id: "x", tenant: "acme" });
  await assert.rejects(jwtVerify(token, createLocalJWKSet(b.publicJwks)), /signature verification failed/);
});

test("the keys file entry of a signed key is the SHA-256 of the whole token", async () => {
  const { privateJwk } = await createSigningKey("k1");
  const token = await issueSignedApiKey({ privateJwk, issuer, id: "acme-ci", tenant: "acme", now });
  const parsed = parseKeysFile(`keys:\n  - { id: acme-ci, tenant: acme, sha256: ${hashApiKey(token)} }\n`);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.entries, [{ id: "acme-ci", tenant: "acme", sha256: hashApiKey(token) }]);
  assert.equal(
    hashApiKey(token),
    (await import("node:crypto")).createHash("sha256").update(Buffer.from(token, "utf8")).digest("hex"),
  );
});

test("issueSignedApiKey refuses a public key, a bad id, a bad tenant and an empty issuer", async () => {
  const { privateJwk, publicJwks } = await createSigningKey("k1");
  const pub = publicJwks.keys[0] ?? {};
  await assert.rejects(
    issueSignedApiKey({ privateJwk: pub, issuer, id: "a", tenant: "acme" }),
    /no private part/,
  );
  await assert.rejects(issueSignedApiKey({ privateJwk, issuer, id: "a b", tenant: "acme" }), /id 'a b'/);
  await assert.rejects(
    issueSignedApiKey({ privateJwk, issuer, id: "a", tenant: "Acme" }),
    /not a tenant name/,
  );
  await assert.rejects(issueSignedApiKey({ privateJwk, issuer: "", id: "a", tenant: "acme" }), /issuer/);
  const rsa = await generateKeyPair("RS256", { extractable: true });
  assert.deepEqual(signingKeyProblems({ ...(await exportJWK(rsa.privateKey)), kid: "r" }), [
    "not a P-256 EC key (kty EC, crv P-256)",
  ]);
});

test("signedKeyIssuer: the unverified iss of a compact JWS, else undefined", async () => {
  const { privateJwk } = await createSigningKey("k1");
  const token = await issueSignedApiKey({ privateJwk, issuer, id: "a", tenant: "acme" });
  assert.equal(signedKeyIssuer(token), issuer);
  // Unverified: a token signed by anyone still names its iss (the keys file decides).
  const other = await generateKeyPair("ES256");
  const forged = await new SignJWT({ iss: issuer, sub: "a" })
    .setProtectedHeader({ alg: "ES256" })
    .sign(other.privateKey);
  assert.equal(signedKeyIssuer(forged), issuer);
  const idp = await new SignJWT({ iss: "https://idp.example", sub: "u" })
    .setProtectedHeader({ alg: "ES256" })
    .sign(other.privateKey);
  assert.equal(signedKeyIssuer(idp), "https://idp.example");
  const noIss = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "ES256" }).sign(other.privateKey);
  assert.equal(signedKeyIssuer(noIss), undefined);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  assert.equal(signedKeyIssuer(`${b64({ alg: "none" })}.${b64({ iss: 5 })}.c2ln`), undefined);
  for (const notJws of [
    "ihk_abc",
    "",
    "a.b",
    "a.b.c.d.e",
    `${b64({ alg: "ES256" })}.bm90IGpzb24.c2ln`, // payload not JSON
    `${b64({ alg: "ES256" })}.${b64({ iss: issuer })}.`, // no signature
    `${b64({ alg: "ES256" })}.${b64({ iss: issuer })}.c2ln=`, // padding is not base64url
  ]) {
    assert.equal(signedKeyIssuer(notJws), undefined, notJws);
  }
});
