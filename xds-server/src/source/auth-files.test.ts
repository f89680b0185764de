import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { exportJWK, generateKeyPair } from "jose";
import pino from "pino";
import { formatErrors, parseConfig, type AuthConfig } from "@inferencehub/contracts/config";
import type { AuthFiles } from "../ir/index.js";
import { AuthFilesSource, usableJwks } from "./auth-files.js";

const log = pino({ level: "silent" });

async function keyPair() {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" },
    privateJwk: { ...(await exportJWK(privateKey)), kid: "k1", alg: "ES256" },
  };
}

function auth(mode: "native" | "ext-authz", dir = "."): AuthConfig {
  const parsed = parseConfig(`
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: "1", nodes: [n1] }] }]
auth:
  mode: ${mode}
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: ${dir}/keys.yaml
  apiKeys: { jwksFile: ${dir}/gateway.jwks.json }
  jwt: { jwksFile: ${dir}/idp.jwks.json, issuer: i, audience: a }
  tenants: [{ name: acme, models: [m] }]
`);
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  assert.ok(parsed.value.auth);
  return parsed.value.auth;
}

test("usableJwks keeps the public keys Envoy can verify with, and refuses private key material", async () => {
  const { publicJwk, privateJwk } = await keyPair();
  const ok = await usableJwks(JSON.stringify({ keys: [publicJwk, { kty: "oct", k: "c2VjcmV0" }] }));
  assert.ok(ok.ok);
  assert.deepEqual(JSON.parse(ok.json), { keys: [publicJwk] });
  assert.match(ok.dropped[0] ?? "", /keys\[1\]: kty 'oct' is not RSA, EC or OKP/);
  // A private key published by mistake is never passed on, and says to replace it.
  const leaked = await usableJwks(JSON.stringify({ keys: [privateJwk] }));
  assert.ok(!leaked.ok);
  assert.match(leaked.error, /holds private key material \(d\).*replace this key/);
  const notJson = await usableJwks("{ keys: ");
  assert.ok(!notJson.ok);
  assert.match(notJson.error, /^not JSON/);
  const bad = await usableJwks(JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA" }] }));
  assert.ok(!bad.ok);
  assert.match(bad.error, /no usable public key \(keys\[0\]: not a usable key/);
  assert.ok(!(await usableJwks("[]")).ok);
});

test("the files: key ids and tenants only, checked JWKS; nothing read in ext-authz mode; followed as they change", async () => {
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-auth-files-"));
  try {
    const configPath = join(dir, "inferencehub.yaml");
    // The files live in a folder that does not exist yet: an operator creates it later.
    const sub = join(dir, "secrets");
    const changes: AuthFiles[] = [];
    const source = new AuthFilesSource({ configPath, log, onChange: (f) => changes.push(f), debounceMs: 5 });
    try {
      assert.deepEqual(await source.load(auth("native", "secrets")), { keys: [] });
      source.watch();
      const { publicJwk } = await keyPair();
      await mkdir(sub);
      const sha256 = "a".repeat(64);
      await writeFile(
        join(sub, "keys.yaml"),
        `keys:\n  - { id: acme-ci, tenant: acme, sha256: ${sha256} }\n`,
      );
      await writeFile(join(sub, "gateway.jwks.json"), JSON.stringify({ keys: [publicJwk] }));
      await writeFile(join(sub, "idp.jwks.json"), "not json");
      // The folder appears: the source looks again (every second) and sees the files.
      const deadline = Date.now() + 10_000;
      while (!changes.some((c) => c.keys.length === 1 && c.apiKeysJwks !== undefined)) {
        assert.ok(Date.now() < deadline, `no change seen: ${JSON.stringify(changes)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const files = source.current;
      assert.deepEqual(files.keys, [{ id: "acme-ci", tenant: "acme" }]);
      assert.ok(!JSON.stringify(files).includes(sha256), "a hash never reaches Envoy");
      assert.deepEqual(JSON.parse(files.apiKeysJwks ?? ""), { keys: [publicJwk] });
      assert.equal(files.idpJwks, undefined, "an unusable JWKS gives no provider");
      // Revoking a key: the change is seen.
      const before = changes.length;
      await writeFile(join(sub, "keys.yaml"), "keys: []\n");
      while (source.current.keys.length !== 0) {
        assert.ok(Date.now() < deadline, "the revocation was not seen");
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(changes.length > before);
      // ext-authz mode: Envoy gets none of it.
      assert.deepEqual(await source.load(auth("ext-authz", "secrets")), { keys: [] });
    } finally {
      source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
