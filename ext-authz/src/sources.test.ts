import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { pino } from "pino";
import { stringify } from "yaml";
import { createSigningKey, issueSignedApiKey } from "@inferencehub/contracts/signed-keys";
import { hashApiKey } from "./api-keys.js";
import { decide } from "./decide.js";
import { createAuthzMetrics } from "./metrics.js";
import { AuthSources, SourceError, contentVersion, type SourcesStatus } from "./sources.js";

let dir: string;
let logs: string[];
const open: AuthSources[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferencehub-authz-sources-"));
  logs = [];
});

afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

function config(auth: object | undefined): string {
  return stringify({
    nodes: [{ name: "n1", address: "127.0.0.1:1" }],
    models: [{ name: "scale", versions: [{ version: "1", nodes: ["n1"] }] }],
    ...(auth ? { auth } : {}),
  });
}

const auth = (extra: object = {}) => ({
  extAuthz: { address: "127.0.0.1:19000" },
  keysFile: "keys.yaml",
  tenants: [{ name: "acme", models: ["scale"] }],
  ...extra,
});

const keysYaml = (...names: string[]) =>
  stringify({ keys: names.map((n) => ({ id: n, tenant: "acme", sha256: hashApiKey(`ihk_${n}`) })) });

/** Replaces a file the way editors do: write a temp file, rename it over the old one. */
async function save(name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, name));
}

function sources(): AuthSources {
  const log = pino({ level: "debug" }, { write: (line: string) => logs.push(line) });
  const s = new AuthSources({
    configPath: join(dir, "inferencehub.yaml"),
    log,
    metrics: createAuthzMetrics(),
    clock: { now: () => 0 },
    debounceMs: 1,
  });
  open.push(s);
  return s;
}

async function until(s: AuthSources, check: (st: SourcesStatus) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (let delay = 2; !check(s.status()); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s.status())}`);
    await new Promise((r) => setTimeout(r, delay));
  }
  await s.settled();
}

async function verdict(s: AuthSources, key: string): Promise<string> {
  const d = await decide(
    {
      path: "/inference.GRPCInferenceService/ModelInfer",
      headers: new Map([
        ["authorization", [`Bearer ${key}`]],
        ["inferencehub-model", ["scale"]],
      ]),
      body: new Uint8Array(),
    },
    s.context,
  );
  return d.allowed ? "ok" : d.error.message;
}

test("load: the config, the keys file beside it, and versions of what serves", async () => {
  const cfg = config(auth());
  await save("inferencehub.yaml", cfg);
  await save("keys.yaml", keysYaml("a"));
  const s = sources();
  await s.load();
  const st = s.status();
  assert.equal(st.config.version, contentVersion(cfg));
  assert.equal(st.keys?.version, contentVersion(keysYaml("a")));
  assert.equal(st.keys?.entries, 1);
  assert.equal(st.jwks, undefined);
  assert.equal(await verdict(s, "ihk_a"), "ok");
});

const cannotStart: { name: string; files: Record<string, string>; message: RegExp }[] = [
  { name: "no config file", files: {}, message: /inferencehub\.yaml is not usable:\n {2}cannot read it/ },
  {
    name: "a config without auth",
    files: { "inferencehub.yaml": config(undefined) },
    message: /has no auth section/,
  },
  {
    name: "an invalid config",
    files: { "inferencehub.yaml": config(auth({ tenants: [{ name: "acme", models: ["resnet"] }] })) },
    message: /unknown model 'resnet'/,
  },
  {
    name: "no keys file",
    files: { "inferencehub.yaml": config(auth()) },
    message: /keys\.yaml is not usable/,
  },
  {
    name: "a keys file that is not YAML",
    files: { "inferencehub.yaml": config(auth()), "keys.yaml": "keys: [" },
    message: /keys\.yaml is not usable/,
  },
  {
    name: "a JWKS file that is not a JWKS",
    files: {
      "inferencehub.yaml": config(
        auth({ keysFile: undefined, jwt: { jwksFile: "jwks.json", issuer: "i", audience: "a" } }),
      ),
      "jwks.json": "{}",
    },
    message: /jwks\.json is not usable:\n {2}expected a JWKS document/,
  },
];

for (const { name, files, message } of cannotStart) {
  test(`load refuses to start with ${name}`, async () => {
    for (const [file, text] of Object.entries(files)) await save(file, text);
    await assert.rejects(
      sources().load(),
      (err: unknown) => err instanceof SourceError && message.test(err.message),
    );
  });
}

test("watch: a revoked key stops working; an unusable keys file is refused and the last good keys serve", async () => {
  await save("inferencehub.yaml", config(auth()));
  await save("keys.yaml", keysYaml("a", "b"));
  const s = sources();
  await s.load();
  s.watch();
  await save("keys.yaml", "keys: [");
  await until(s, (st) => (st.keys?.refused.length ?? 0) > 0, "the broken keys file to be refused");
  assert.equal(await verdict(s, "ihk_b"), "ok", "the last good keys still serve");
  assert.ok(logs.some((l) => l.includes("the last good version keeps serving")));

  const revoked = keysYaml("a");
  await save("keys.yaml", revoked);
  await until(s, (st) => st.keys?.version === contentVersion(revoked), "the keys file without b");
  assert.deepEqual(s.status().keys?.refused, []);
  assert.equal(await verdict(s, "ihk_a"), "ok");
  assert.match(await verdict(s, "ihk_b"), /^the API key is not valid/);
});

test("watch: config edits change the policy; a bad edit is refused; fail-open is logged as a warning", async () => {
  await save("inferencehub.yaml", config(auth()));
  await save("keys.yaml", keysYaml("a"));
  const s = sources();
  await s.load();
  s.watch();
  await save("inferencehub.yaml", "auth: [");
  await until(s, (st) => st.config.refused.length > 0, "the broken config to be refused");
  assert.equal(await verdict(s, "ihk_a"), "ok");

  const noScale = config(
    auth({
      extAuthz: { address: "127.0.0.1:19000", failOpen: true },
      tenants: [{ name: "acme", models: [] }],
    }),
  );
  // An empty model list is invalid: still refused.
  await save("inferencehub.yaml", noScale);
  await until(s, (st) => st.config.refused.some((e) => e.includes("must not be empty")), "the schema error");

  const other = stringify({
    nodes: [{ name: "n1", address: "127.0.0.1:1" }],
    models: [
      { name: "scale", versions: [{ version: "1", nodes: ["n1"] }] },
      { name: "mlp", versions: [{ version: "1", nodes: ["n1"] }] },
    ],
    auth: auth({
      extAuthz: { address: "127.0.0.1:19000", failOpen: true },
      tenants: [{ name: "acme", models: ["mlp"] }],
    }),
  });
  await save("inferencehub.yaml", other);
  await until(s, (st) => st.config.version === contentVersion(other), "the edit to apply");
  assert.equal(await verdict(s, "ihk_a"), "tenant 'acme' may not call model 'scale'");
  assert.ok(logs.some((l) => l.includes('"level":40') && l.includes("failOpen is true")));
});

test("a JWKS file is reloaded on change: a token signed by a new key is accepted after the edit", async () => {
  const first = await generateKeyPair("ES256");
  const second = await generateKeyPair("ES256");
  const jwks = async (pub: CryptoKey, kid: string) =>
    JSON.stringify({ keys: [{ ...(await exportJWK(pub)), kid, alg: "ES256" }] });
  await save(
    "inferencehub.yaml",
    config(auth({ keysFile: undefined, jwt: { jwksFile: "jwks.json", issuer: "i", audience: "a" } })),
  );
  const one = await jwks(first.publicKey, "one");
  await save("jwks.json", one);
  const s = sources();
  await s.load();
  s.watch();
  assert.equal(s.status().jwks?.version, contentVersion(one));
  const two = await jwks(second.publicKey, "two");
  await save("jwks.json", two);
  await until(s, (st) => st.jwks?.version === contentVersion(two), "the new JWKS");
});

test("watch: a refused edit no longer shows once the file is back to what serves", async () => {
  // issue #10 finding 7: /status kept a refused edit after the good file was restored.
  const good = config(auth());
  await save("inferencehub.yaml", good);
  await save("keys.yaml", keysYaml("a"));
  const s = sources();
  await s.load();
  s.watch();
  await save("inferencehub.yaml", "auth: [");
  await until(s, (st) => st.config.refused.length > 0, "the broken config to be refused");
  await save("inferencehub.yaml", good);
  await until(s, (st) => st.config.refused.length === 0, "the refusal to clear");
  assert.equal(s.status().config.version, contentVersion(good));
  await save("keys.yaml", "keys: [");
  await until(s, (st) => (st.keys?.refused.length ?? 0) > 0, "the broken keys file to be refused");
  await save("keys.yaml", keysYaml("a"));
  await until(s, (st) => st.keys?.refused.length === 0, "the keys refusal to clear");
});

test("auth.mode native: Envoy limits every call, so ext-authz counts nothing; mode ext-authz: its buckets limit", async () => {
  const limited = (mode: string) =>
    config(
      auth({
        mode,
        tenants: [{ name: "acme", models: ["scale"], rateLimit: { callsPerSecond: 1, burst: 1 } }],
      }),
    );
  await save("keys.yaml", keysYaml("a"));
  await save("inferencehub.yaml", limited("native"));
  const native = sources();
  await native.load();
  assert.equal(native.status().rateLimiter, "envoy");
  for (let i = 0; i < 3; i++) assert.equal(await verdict(native, "ihk_a"), "ok");

  await save("inferencehub.yaml", limited("ext-authz"));
  const own = sources();
  await own.load();
  assert.equal(own.status().rateLimiter, "ext-authz");
  assert.equal(await verdict(own, "ihk_a"), "ok");
  assert.match(await verdict(own, "ihk_a"), /^tenant 'acme' is over its rate limit/);

  // An edit to native turns ext-authz's limiter off without a restart.
  own.watch();
  const edited = limited("native");
  await save("inferencehub.yaml", edited);
  await until(own, (st) => st.config.version === contentVersion(edited), "the edit to native");
  assert.equal(own.status().rateLimiter, "envoy");
  assert.equal(await verdict(own, "ihk_a"), "ok");
});

test("a gateway-signed key is looked up by its hash when auth.apiKeys names its issuer", async () => {
  const { privateJwk } = await createSigningKey("k1");
  const token = await issueSignedApiKey({ privateJwk, issuer: "gw", id: "signed", tenant: "acme" });
  const revoked = await issueSignedApiKey({ privateJwk, issuer: "gw", id: "gone", tenant: "acme" });
  // ext-authz reads neither the signing key nor the public JWKS: the file need not exist here.
  const withKeys = config(auth({ apiKeys: { jwksFile: "gateway-keys.jwks.json", issuer: "gw" } }));
  await save("inferencehub.yaml", withKeys);
  await save("keys.yaml", stringify({ keys: [{ id: "signed", tenant: "acme", sha256: hashApiKey(token) }] }));
  const s = sources();
  await s.load();
  assert.equal(await verdict(s, token), "ok");
  assert.equal(
    await verdict(s, revoked),
    "the API key is not valid (unknown or revoked): ask the gateway's operator for one",
  );
  // Without auth.apiKeys the same token is a JWT, and this gateway takes none.
  await save("inferencehub.yaml", config(auth()));
  const plain = sources();
  await plain.load();
  assert.match(await verdict(plain, token), /^JWTs are not accepted by this gateway/);
});
