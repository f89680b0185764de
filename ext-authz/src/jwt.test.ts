import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { GatewayError } from "@inferencehub/contracts/errors";
import { createJwtVerifier, parseJwks, remoteJwks, type JwtVerifier } from "./jwt.js";

const issuer = "https://idp.test";
const audience = "inferencehub";
const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const nowS = now / 1000;

let signing: CryptoKey;
let stranger: CryptoKey;
let jwk: JWK;
let verifier: JwtVerifier;

before(async () => {
  const pair = await generateKeyPair("ES256");
  signing = pair.privateKey;
  stranger = (await generateKeyPair("ES256")).privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwks = parseJwks(JSON.stringify({ keys: [jwk] }));
  assert.ok(jwks.ok);
  verifier = createJwtVerifier({
    keys: jwks.keys,
    issuer,
    audience,
    tenantClaim: "tenant",
    clockSkewMs: 5_000,
    clock: { now: () => now },
  });
});

interface Claims {
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  sub?: string;
  tenant?: unknown;
}

function sign(claims: Claims, opts: { key?: CryptoKey; kid?: string } = {}): Promise<string> {
  return new SignJWT({ ...(claims.tenant === undefined ? {} : { tenant: claims.tenant }) })
    .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "k1" })
    .setIssuer(claims.iss ?? issuer)
    .setAudience(claims.aud ?? audience)
    .setSubject(claims.sub ?? "alice")
    .setIssuedAt(nowS - 60)
    .setExpirationTime(claims.exp ?? nowS + 300)
    .setNotBefore(claims.nbf ?? nowS - 60)
    .sign(opts.key ?? signing);
}

const base: Claims = { tenant: "acme" };

const rejected: { name: string; token: () => Promise<string>; message: RegExp }[] = [
  {
    name: "expired",
    token: () => sign({ ...base, exp: nowS - 60 }),
    message: /^the JWT has expired; get a new token/,
  },
  {
    name: "not yet valid",
    token: () => sign({ ...base, nbf: nowS + 60 }),
    message: /'nbf' claim is not accepted/,
  },
  {
    name: "another issuer",
    token: () => sign({ ...base, iss: "https://evil.test" }),
    message: /'iss' claim is not accepted/,
  },
  {
    name: "another audience",
    token: () => sign({ ...base, aud: "other" }),
    message: /'aud' claim is not accepted/,
  },
  {
    name: "no tenant claim",
    token: () => sign({}),
    message: /^the JWT has no 'tenant' claim naming a tenant/,
  },
  {
    name: "a tenant claim that is not a string",
    token: () => sign({ tenant: ["acme"] }),
    message: /no 'tenant' claim/,
  },
  {
    name: "signed by an unknown key id",
    token: () => sign(base, { kid: "k9" }),
    message: /signed with a key this gateway does not know/,
  },
  {
    name: "signed by another key under a known id",
    token: () => sign(base, { key: stranger }),
    message: /^the JWT's signature is not valid/,
  },
  {
    name: "alg none",
    token: async () => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
      return `${enc({ alg: "none" })}.${enc({ iss: issuer, aud: audience, exp: nowS + 60, tenant: "acme" })}.`;
    },
    message: /not accepted|not valid/,
  },
  {
    name: "tampered payload",
    token: async () => {
      const [h, , s] = (await sign(base)).split(".");
      const payload = Buffer.from(
        JSON.stringify({ iss: issuer, aud: audience, exp: nowS + 60, tenant: "ops" }),
      ).toString("base64url");
      return `${h}.${payload}.${s}`;
    },
    message: /signature is not valid/,
  },
];

test("a valid token names its tenant and subject", async () => {
  assert.deepEqual(await verifier.verify(await sign(base)), { tenant: "acme", subject: "alice" });
});

test("expiry within the clock skew is still accepted", async () => {
  assert.equal((await verifier.verify(await sign({ ...base, exp: nowS - 3 }))).tenant, "acme");
});

for (const { name, token, message } of rejected) {
  test(`a token rejected with UNAUTHENTICATED: ${name}`, async () => {
    const t = await token();
    await assert.rejects(verifier.verify(t), (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, status.UNAUTHENTICATED);
      assert.match(err.message, message);
      assert.ok(!err.message.includes(t), "the message never holds the token");
      return true;
    });
  });
}

test("parseJwks refuses what is not a JWKS", () => {
  assert.equal(parseJwks("{").ok, false);
  assert.equal(parseJwks('{"kty":"EC"}').ok, false);
  assert.equal(parseJwks('{"keys":[]}').ok, true);
});

test("a JWKS URL: fetched once and cached; unreachable means UNAVAILABLE, not UNAUTHENTICATED", async (t) => {
  let fetches = 0;
  let up = true;
  const server = createServer((_req, res) => {
    fetches++;
    if (!up) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const remote = createJwtVerifier({
    keys: remoteJwks(url, 60_000),
    issuer,
    audience,
    tenantClaim: "tenant",
    clockSkewMs: 0,
    clock: { now: () => now },
  });
  const token = await sign(base);
  assert.equal((await remote.verify(token)).tenant, "acme");
  assert.equal((await remote.verify(token)).tenant, "acme");
  assert.equal(fetches, 1, "the second verification used the cached JWKS");

  up = false;
  const cold = createJwtVerifier({
    keys: remoteJwks(url, 60_000),
    issuer,
    audience,
    tenantClaim: "tenant",
    clockSkewMs: 0,
    clock: { now: () => now },
  });
  await assert.rejects(
    cold.verify(token),
    (err: unknown) => err instanceof GatewayError && err.code === status.UNAVAILABLE,
  );
});

after(() => undefined);
