import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { hashApiKey, parseKeysFile } from "@inferencehub/contracts/api-keys";
import { defaultSignedKeyIssuer } from "@inferencehub/contracts/signed-keys";
import { keysInit, keysIssue, keysList, keysRevoke, publicJwksFile, signingKeyFile } from "./keys.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferencehub-hubctl-keys-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readJson = async (path: string): Promise<{ keys: Record<string, unknown>[] }> =>
  JSON.parse(await readFile(path, "utf8")) as { keys: Record<string, unknown>[] };

test("init writes a private key (0600) and its public JWKS, and refuses to overwrite either", async () => {
  const secrets = join(dir, "secrets");
  const r = await keysInit({ dir: secrets, kid: "k1" });
  assert.equal(r.signingKey, join(secrets, signingKeyFile));
  assert.equal((await stat(r.signingKey)).mode & 0o777, 0o600);
  const priv = JSON.parse(await readFile(r.signingKey, "utf8")) as Record<string, unknown>;
  assert.equal(priv.kid, "k1");
  assert.equal(priv.alg, "ES256");
  assert.equal(typeof priv.d, "string");
  const jwks = await readJson(join(secrets, publicJwksFile));
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0]?.kid, "k1");
  assert.equal(jwks.keys[0]?.d, undefined, "the public JWKS holds no private part");
  const before = await readFile(r.signingKey, "utf8");
  await assert.rejects(
    keysInit({ dir: secrets, kid: "k2" }),
    /signing-key\.jwk\.json exists; refusing to overwrite/,
  );
  assert.equal(await readFile(r.signingKey, "utf8"), before);
});

test("init refuses the config directory, and with --jwks adds the new public key for a rotation", async () => {
  await writeFile(join(dir, "inferencehub.yaml"), "nodes: []\n");
  await assert.rejects(keysInit({ dir, kid: "k1" }), /holds inferencehub\.yaml/);
  assert.deepEqual((await readdir(dir)).sort(), ["inferencehub.yaml"]);

  const config = join(dir, "gateway-keys.jwks.json");
  await mkdir(join(dir, "again"));
  await keysInit({ dir: join(dir, "old"), kid: "k1", jwks: config });
  await keysInit({ dir: join(dir, "new"), kid: "k2", jwks: config });
  assert.deepEqual(
    (await readJson(config)).keys.map((k) => k.kid),
    ["k1", "k2"],
  );
  await assert.rejects(
    keysInit({ dir: join(dir, "again"), kid: "k2", jwks: config }),
    /already has a key with kid 'k2'/,
  );
  assert.deepEqual(await readdir(join(dir, "again")), [], "nothing is written when the JWKS refuses the kid");
});

test("issue appends id, tenant and the token's hash; the token verifies against the public JWKS", async () => {
  const { signingKey, jwks } = await keysInit({ dir, kid: "k1" });
  const keysFile = join(dir, "keys.yaml");
  const now = new Date("2026-11-30T12:00:00Z");
  const a = await keysIssue({ tenant: "acme", id: "acme-ci", signingKey, keysFile, now });
  const b = await keysIssue({ tenant: "ops", id: "ops-1", signingKey, keysFile, issuer: "custom" });
  const parsed = parseKeysFile(await readFile(keysFile, "utf8"));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.entries, [
    { id: "acme-ci", tenant: "acme", sha256: hashApiKey(a.token) },
    { id: "ops-1", tenant: "ops", sha256: hashApiKey(b.token) },
  ]);
  assert.ok(!(await readFile(keysFile, "utf8")).includes(a.token), "the keys file never holds a key");
  const { payload, protectedHeader } = await jwtVerify(a.token, createLocalJWKSet(await readJson(jwks)), {
    issuer: defaultSignedKeyIssuer,
  });
  assert.deepEqual(payload, {
    iss: defaultSignedKeyIssuer,
    sub: "acme-ci",
    tenant: "acme",
    iat: now.getTime() / 1000,
  });
  assert.deepEqual(protectedHeader, { alg: "ES256", kid: "k1", typ: "JWT" });
  assert.equal((await jwtVerify(b.token, createLocalJWKSet(await readJson(jwks)))).payload.iss, "custom");
});

test("issue keeps the file's comments, refuses a duplicate id, and refuses a public key or a bad file", async () => {
  const { signingKey, jwks } = await keysInit({ dir, kid: "k1" });
  const keysFile = join(dir, "keys.yaml");
  const existing = `# operators: see ext-authz/README.md\nkeys:\n  - { id: old, tenant: acme, sha256: ${hashApiKey("ihk_old")}, note: "random key" }\n`;
  await writeFile(keysFile, existing);
  await keysIssue({ tenant: "acme", id: "new", signingKey, keysFile });
  const text = await readFile(keysFile, "utf8");
  assert.ok(text.startsWith("# operators: see ext-authz/README.md\n"), text);
  assert.match(text, /note: random key|note: "random key"/);
  await assert.rejects(
    keysIssue({ tenant: "acme", id: "old", signingKey, keysFile }),
    /already has a key with id 'old'/,
  );
  await assert.rejects(
    keysIssue({ tenant: "acme", id: "x", signingKey: jwks, keysFile }),
    /is not a signing key: it not a P-256|is not a signing key/,
  );
  await assert.rejects(keysIssue({ tenant: "Acme", id: "x", signingKey, keysFile }), /not a tenant name/);
  assert.equal(await readFile(keysFile, "utf8"), text, "a refused issue leaves the file as it was");
  await writeFile(keysFile, "keys: [");
  await assert.rejects(
    keysIssue({ tenant: "acme", id: "y", signingKey, keysFile }),
    /is not a usable keys file/,
  );
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith(".tmp")),
    [],
    "no temp file is left behind",
  );
});

test("revoke removes the entry (every entry with that id) and says when there is none; list shows no hash", async () => {
  const { signingKey } = await keysInit({ dir, kid: "k1" });
  const keysFile = join(dir, "keys.yaml");
  await keysIssue({ tenant: "acme", id: "a", signingKey, keysFile });
  const b = await keysIssue({ tenant: "acme", id: "b", signingKey, keysFile });
  assert.deepEqual((await keysList({ keysFile })).keys, [
    { id: "a", tenant: "acme" },
    { id: "b", tenant: "acme" },
  ]);
  assert.deepEqual(await keysRevoke({ id: "a", keysFile }), { id: "a", tenant: "acme" });
  const parsed = parseKeysFile(await readFile(keysFile, "utf8"));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.entries, [{ id: "b", tenant: "acme", sha256: hashApiKey(b.token) }]);
  await assert.rejects(keysRevoke({ id: "a", keysFile }), /has no key with id 'a'/);
  await assert.rejects(keysRevoke({ id: "a", keysFile: join(dir, "none.yaml") }), /does not exist/);

  // A repeated id: the second entry is left out today; revoking must not bring it to life.
  const h = (k: string) => hashApiKey(k);
  await writeFile(
    keysFile,
    `keys:\n  - { id: d, tenant: acme, sha256: ${h("1")} }\n  - { id: d, tenant: acme, sha256: ${h("2")} }\n`,
  );
  await keysRevoke({ id: "d", keysFile });
  assert.deepEqual(await keysList({ keysFile }), { keys: [], leftOut: [] });
});

const run = promisify(execFile);
const hubctl = join(import.meta.dirname, "..", "bin", "hubctl");

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(hubctl, args, { env: { ...process.env, NO_COLOR: "1" } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("the hubctl keys commands as an operator runs them", async () => {
  const secrets = join(dir, "secrets");
  const keysFile = join(dir, "keys.yaml");
  const ok = await cli("keys", "init", "--dir", secrets, "--kid", "k1");
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /apiKeys: \{ jwksFile: gateway-keys\.jwks\.json, issuer: inferencehub-keys \}/);
  assert.match(ok.stdout, /WARNING: .*signing-key\.jwk\.json can sign API keys/);
  assert.equal((await stat(secrets)).mode & 0o777, 0o700, "a folder it makes is the owner's only");
  const again = await cli("keys", "init", "--dir", secrets);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^hubctl: .*exists; refusing to overwrite/);

  const signingKey = join(secrets, signingKeyFile);
  const issue = await cli(
    "--json",
    "keys",
    "issue",
    "--tenant",
    "acme",
    "--id",
    "ci",
    "--signing-key",
    signingKey,
    "--keys-file",
    keysFile,
  );
  assert.equal(issue.code, 0, issue.stderr);
  const issued = JSON.parse(issue.stdout) as { id: string; tenant: string; kid: string; key: string };
  assert.deepEqual({ ...issued, key: undefined }, { id: "ci", tenant: "acme", kid: "k1", key: undefined });
  const parsed = parseKeysFile(await readFile(keysFile, "utf8"));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.entries, [{ id: "ci", tenant: "acme", sha256: hashApiKey(issued.key) }]);
  const text = await cli(
    "keys",
    "issue",
    "--tenant",
    "acme",
    "--id",
    "ci2",
    "--signing-key",
    signingKey,
    "--keys-file",
    keysFile,
  );
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split("\n");
  assert.match(
    lines.at(-1) ?? "",
    /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    "the key alone on the last line",
  );

  const list = await cli("keys", "list", "--keys-file", keysFile);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+TENANT\n-+\s+-+\nci\s+acme\nci2\s+acme\n$/);
  assert.ok(!list.stdout.includes(parsed.entries[0]?.sha256 ?? "-"), "no hash is listed");

  const revoke = await cli("keys", "revoke", "--id", "ci", "--keys-file", keysFile);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.match(revoke.stdout, /^revoked key 'ci' \(tenant 'acme'\)/);
  const missing = await cli("keys", "revoke", "--id", "ci", "--keys-file", keysFile);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^hubctl: .*has no key with id 'ci'/);
});
