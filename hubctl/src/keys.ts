/**
 * hubctl keys: the gateway's signing key and the API keys it signs, on local files only (no admin
 * API). The private key stays with whoever runs these commands; the keys file gets ids and hashes,
 * the JWKS the public half (ext-authz/README.md, "Gateway-signed API keys").
 *   hubctl keys init --dir <dir> [--kid <id>] [--jwks <file>]
 *   hubctl keys issue --tenant <t> --id <id> --signing-key <file> --keys-file <file> [--issuer <iss>]
 *   hubctl keys revoke --id <id> --keys-file <file>
 *   hubctl keys list --keys-file <file>
 */
import { randomBytes } from "node:crypto";
import { access, chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Command } from "commander";
import { isMap, isSeq, parseDocument, type Document } from "yaml";
import { hashApiKey, parseKeysFile, type ApiKeyEntry } from "@inferencehub/contracts/api-keys";
import {
  createSigningKey,
  defaultSignedKeyIssuer,
  issueSignedApiKey,
  publicJwkOf,
  signingKeyProblems,
} from "@inferencehub/contracts/signed-keys";
import { table } from "./table.js";

export const signingKeyFile = "signing-key.jwk.json";
export const publicJwksFile = "gateway-keys.jwks.json";

export interface InitResult {
  kid: string;
  signingKey: string;
  jwks: string;
  /** The JWKS given with --jwks that the public key was added to. */
  addedTo?: string;
}

/**
 * Writes `<dir>/signing-key.jwk.json` (0600) and `<dir>/gateway-keys.jwks.json` (the folder is
 * made 0700 if absent), refusing to
 * overwrite either, and refusing a folder that holds inferencehub.yaml (the signing key must stay
 * out of what the control plane and Envoy read). With `jwks`, also adds the public key to that
 * JWKS file (created if absent): the rotation step.
 */
export async function keysInit(options: { dir: string; kid: string; jwks?: string }): Promise<InitResult> {
  const dir = resolve(options.dir);
  const signingKey = join(dir, signingKeyFile);
  const jwks = join(dir, publicJwksFile);
  if (await exists(join(dir, "inferencehub.yaml"))) {
    throw new Error(
      `${dir} holds inferencehub.yaml: the signing key must stay out of the directories the control plane and Envoy read; choose another --dir`,
    );
  }
  for (const file of [signingKey, jwks]) {
    if (await exists(file))
      throw new Error(`${file} exists; refusing to overwrite it (a new key needs a new --dir)`);
  }
  const key = await createSigningKey(options.kid);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let added: { path: string; text: string } | undefined;
  if (options.jwks !== undefined) {
    // Checked before anything is written, so a duplicate kid leaves no half-made key behind.
    const path = resolve(options.jwks);
    added = { path, text: await jwksWithKey(path, publicJwkOf(key.privateJwk)) };
  }
  // wx: created here or not at all, even if another run races this one.
  await writeFile(signingKey, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await chmod(signingKey, 0o600); // the umask may have taken bits away, never added: make it exact
  await writeFile(jwks, `${JSON.stringify(key.publicJwks, null, 2)}\n`, { flag: "wx" });
  if (added) await writeAtomic(added.path, added.text);
  return { kid: options.kid, signingKey, jwks, ...(added ? { addedTo: added.path } : {}) };
}

async function jwksWithKey(path: string, jwk: Record<string, unknown>): Promise<string> {
  const text = await readOptional(path);
  let doc: { keys: Record<string, unknown>[] } = { keys: [] };
  if (text !== undefined) {
    const parsed: unknown = JSON.parse(text);
    const keys = (parsed as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new Error(`${path} is not a JWKS document ({ "keys": [...] })`);
    if (keys.some((k: { kid?: unknown }) => k.kid === jwk.kid)) {
      throw new Error(`${path} already has a key with kid '${String(jwk.kid)}': choose another --kid`);
    }
    doc = parsed as { keys: Record<string, unknown>[] };
  }
  doc.keys.push(jwk);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export interface IssueResult {
  token: string;
  entry: ApiKeyEntry;
  kid: string;
  keysFile: string;
}

/**
 * Signs a key for `tenant` named `id`, appends `{ id, tenant, sha256 }` to the keys file
 * (created with `keys: []` if absent; a duplicate id is refused), and returns the token: the only
 * place it ever appears.
 */
export async function keysIssue(options: {
  tenant: string;
  id: string;
  signingKey: string;
  keysFile: string;
  issuer?: string;
  now?: Date;
}): Promise<IssueResult> {
  const privateJwk = await readSigningKey(options.signingKey);
  const keysFile = resolve(options.keysFile);
  const doc = await readKeysDocument(keysFile);
  if (entryIds(doc).includes(options.id)) {
    throw new Error(
      `${keysFile} already has a key with id '${options.id}': revoke it first, or choose another --id`,
    );
  }
  const token = await issueSignedApiKey({
    privateJwk,
    issuer: options.issuer ?? defaultSignedKeyIssuer,
    id: options.id,
    tenant: options.tenant,
    ...(options.now ? { now: options.now } : {}),
  });
  const entry: ApiKeyEntry = { id: options.id, tenant: options.tenant, sha256: hashApiKey(token) };
  const keys = doc.get("keys");
  if (!isSeq(keys)) throw new Error(`${keysFile}: expected a \`keys\` list`);
  if (keys.items.length === 0) keys.flow = false;
  const node = doc.createNode(entry);
  node.flow = true;
  keys.items.push(node);
  const text = doc.toString();
  // The file as ext-authz will read it must hold the new entry, not leave it out.
  const check = parseKeysFile(text);
  if (!check.ok || !check.entries.some((e) => e.id === entry.id && e.sha256 === entry.sha256)) {
    const why = check.ok ? check.problems.filter((p) => p.includes(entry.id)) : check.errors;
    throw new Error(`the new entry would not be usable: ${why.join("; ")}`);
  }
  await writeAtomic(keysFile, text);
  return { token, entry, kid: String(privateJwk.kid), keysFile };
}

/**
 * Removes every entry named `id` from the keys file (a repeated id's later entries are left out
 * today; removing only the first would bring one of them to life); throws when there is none.
 */
export async function keysRevoke(options: {
  id: string;
  keysFile: string;
}): Promise<{ id: string; tenant: string }> {
  const keysFile = resolve(options.keysFile);
  const text = await readOptional(keysFile);
  if (text === undefined) throw new Error(`${keysFile} does not exist`);
  const doc = await readKeysDocument(keysFile, text);
  const keys = doc.get("keys");
  const ids = entryIds(doc);
  if (!isSeq(keys) || !ids.includes(options.id))
    throw new Error(`${keysFile} has no key with id '${options.id}'`);
  const first = keys.items[ids.indexOf(options.id)];
  const tenant = isMap(first) ? String(first.get("tenant")) : "";
  keys.items = keys.items.filter((_, i) => ids[i] !== options.id);
  await writeAtomic(keysFile, doc.toString());
  return { id: options.id, tenant };
}

/** The usable entries' ids and tenants (never their hashes), and the entries ext-authz leaves out. */
export async function keysList(options: {
  keysFile: string;
}): Promise<{ keys: { id: string; tenant: string }[]; leftOut: string[] }> {
  const keysFile = resolve(options.keysFile);
  const text = await readOptional(keysFile);
  if (text === undefined) throw new Error(`${keysFile} does not exist`);
  const parsed = parseKeysFile(text);
  if (!parsed.ok) throw new Error(`${keysFile} is not a usable keys file: ${parsed.errors.join("; ")}`);
  return { keys: parsed.entries.map(({ id, tenant }) => ({ id, tenant })), leftOut: parsed.problems };
}

async function readSigningKey(path: string): Promise<Record<string, unknown>> {
  const text = await readOptional(path);
  if (text === undefined) throw new Error(`${path} does not exist (make one with \`hubctl keys init\`)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON: expected the private JWK \`hubctl keys init\` wrote`);
  }
  const problems = signingKeyProblems(value);
  if (problems.length > 0) throw new Error(`${path} is not a signing key: it ${problems.join("; ")}`);
  return value as Record<string, unknown>;
}

async function readKeysDocument(path: string, known?: string): Promise<Document> {
  const text = known ?? (await readOptional(path)) ?? "keys: []\n";
  const parsed = parseKeysFile(text);
  if (!parsed.ok) throw new Error(`${path} is not a usable keys file: ${parsed.errors.join("; ")}`);
  return parseDocument(text);
}

/** Every entry's id as written, usable or not (a left-out entry still holds its id). */
function entryIds(doc: Document): string[] {
  const keys = doc.get("keys");
  return isSeq(keys) ? keys.items.map((item) => (isMap(item) ? String(item.get("id")) : "")) : [];
}

/** Temp file beside it, then rename: a reader sees the old file or the new one, never half of one. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const mode = await stat(path).then(
    (s) => s.mode & 0o777,
    () => 0o644,
  );
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A default kid that sorts by date: key-2026-11-30. */
export function defaultKid(now = new Date()): string {
  return `key-${now.toISOString().slice(0, 10)}`;
}

/** `hubctl keys ...`; `json` reads the global --json flag. */
export function keysCommand(json: () => boolean): Command {
  const out = (value: unknown, text: () => string) =>
    console.log(json() ? JSON.stringify(value, null, 2) : text());
  const keys = new Command("keys").description(
    "gateway-signed API keys on local files: the signing key, the keys file (ids and hashes only)",
  );
  keys
    .command("init")
    .description(
      "make a signing key: <dir>/signing-key.jwk.json (private, 0600) and <dir>/gateway-keys.jwks.json",
    )
    .requiredOption(
      "--dir <dir>",
      "where to write both; never the config directory Envoy and the control plane read",
    )
    .option("--kid <id>", "the key id, in every key it signs (default key-<today>)")
    .option(
      "--jwks <file>",
      "also add the public key to this JWKS (auth.apiKeys.jwksFile), e.g. when rotating",
    )
    .action(async (o: { dir: string; kid?: string; jwks?: string }) => {
      const r = await keysInit({
        dir: o.dir,
        kid: o.kid ?? defaultKid(),
        ...(o.jwks ? { jwks: o.jwks } : {}),
      });
      out(r, () =>
        [
          `signing key '${r.kid}': ${r.signingKey} (private, mode 0600)`,
          `public JWKS: ${r.jwks}${r.addedTo ? `\npublic key added to ${r.addedTo}` : ""}`,
          "",
          `Copy ${publicJwksFile} beside inferencehub.yaml and add:`,
          "  auth:",
          `    apiKeys: { jwksFile: ${publicJwksFile}, issuer: ${defaultSignedKeyIssuer} }`,
          "",
          `WARNING: ${r.signingKey} can sign API keys for any tenant. Keep it where keys are issued (or in`,
          "a secret store): never in inferencehub.yaml, never in a directory Envoy or the control plane reads.",
        ].join("\n"),
      );
    });
  keys
    .command("issue")
    .description("sign an API key, add its hash to the keys file, print the key once")
    .requiredOption("--tenant <tenant>", "the tenant it calls as")
    .requiredOption("--id <id>", "its id in the keys file, logs and x-inferencehub-principal")
    .requiredOption("--signing-key <file>", "the private JWK from `hubctl keys init`")
    .requiredOption("--keys-file <file>", "auth.keysFile (created if absent)")
    .option("--issuer <iss>", "auth.apiKeys.issuer", defaultSignedKeyIssuer)
    .action(
      async (o: { tenant: string; id: string; signingKey: string; keysFile: string; issuer: string }) => {
        const r = await keysIssue(o);
        out({ id: r.entry.id, tenant: r.entry.tenant, kid: r.kid, key: r.token }, () =>
          [
            `key '${r.entry.id}' for tenant '${r.entry.tenant}' (signed by '${r.kid}'), added to ${r.keysFile}.`,
            "Shown once, give it to the caller (Bearer token); it is stored nowhere:",
            r.token,
          ].join("\n"),
        );
      },
    );
  keys
    .command("revoke")
    .description("remove a key's entry from the keys file: the key stops working")
    .requiredOption("--id <id>", "the key's id")
    .requiredOption("--keys-file <file>", "auth.keysFile")
    .action(async (o: { id: string; keysFile: string }) => {
      const entry = await keysRevoke(o);
      out({ revoked: entry.id, tenant: entry.tenant }, () =>
        [
          `revoked key '${entry.id}' (tenant '${entry.tenant}'): removed from ${resolve(o.keysFile)}.`,
          "The gateway stops accepting it once it has reloaded the file.",
        ].join("\n"),
      );
    });
  keys
    .command("list")
    .description("the keys file's ids and tenants (never hashes)")
    .requiredOption("--keys-file <file>", "auth.keysFile")
    .action(async (o: { keysFile: string }) => {
      const r = await keysList(o);
      out(r, () =>
        [
          table(
            ["ID", "TENANT"],
            r.keys.map((k) => [k.id, k.tenant]),
          ),
          ...r.leftOut.map((p) => `left out (the gateway ignores it): ${p}`),
        ].join("\n"),
      );
    });
  return keys;
}
