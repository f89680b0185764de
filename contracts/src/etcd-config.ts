/**
 * How a config lies in etcd: one key per model and per node, one for everything else, so that an
 * edit of one model reads, writes and re-parses that model alone. Values are JSON of the entry as
 * written in inferencehub.yaml (RawModel, RawNode), not normalized: a model that states no
 * timeout keeps following `defaults`, as in the file.
 *
 *   <prefix>config/settings        listener, pools, defaults, auth, controlPlane, fleet
 *   <prefix>config/nodes/<name>    one entry of `nodes`
 *   <prefix>config/models/<name>   one entry of `models`
 *   <prefix>config/version         touched by every write, so that its revision is the config's
 *                                  version on every replica, deletes included
 *
 * Shared by the control plane (its etcd store) and hubctl (apply, export): the layout is a
 * contract between them, as inferencehub.yaml is.
 */
import { readFileSync } from "node:fs";
import { Etcd3, type IKeyValue } from "etcd3";
import type { ConfigError, RawConfig } from "./config/index.js";

export const defaultEtcdPrefix = "/inferencehub/";

export type EntryList = "models" | "nodes";

export interface EtcdLayout {
  prefix: string;
  /** Every key of the config starts with this. */
  configPrefix: string;
  settingsKey: string;
  versionKey: string;
  entryKey(list: EntryList, name: string): string;
}

export function etcdLayout(prefix = defaultEtcdPrefix): EtcdLayout {
  const p = prefix.endsWith("/") ? prefix : `${prefix}/`;
  const configPrefix = `${p}config/`;
  return {
    prefix: p,
    configPrefix,
    settingsKey: `${configPrefix}settings`,
    versionKey: `${configPrefix}version`,
    entryKey: (list, name) => `${configPrefix}${list}/${name}`,
  };
}

/** What a key holds: the settings, one entry of a list, the version marker, or nothing of ours. */
export type KeyRole =
  | { role: "settings" }
  | { role: "version" }
  | { role: "entry"; list: EntryList; name: string }
  | { role: "other" };

export function keyRole(layout: EtcdLayout, key: string): KeyRole {
  if (key === layout.settingsKey) return { role: "settings" };
  if (key === layout.versionKey) return { role: "version" };
  for (const list of ["models", "nodes"] as const) {
    const start = `${layout.configPrefix}${list}/`;
    if (key.startsWith(start) && key.length > start.length)
      return { role: "entry", list, name: key.slice(start.length) };
  }
  return { role: "other" };
}

/** A whole config as written → key → JSON value, the version marker left out. */
export function entriesOf(layout: EtcdLayout, raw: RawConfig): Map<string, string> {
  const { nodes = [], models = [], ...settings } = raw;
  const out = new Map<string, string>([[layout.settingsKey, JSON.stringify(settings)]]);
  for (const node of nodes) out.set(layout.entryKey("nodes", node.name), JSON.stringify(node));
  for (const model of models) out.set(layout.entryKey("models", model.name), JSON.stringify(model));
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Key → parsed value → the config they make, models and nodes in key order (the same on every
 * replica). A value that is not an object, or an entry whose name is not its key's, is an error
 * naming the key; the config is then not usable.
 */
export function assemble(
  layout: EtcdLayout,
  values: ReadonlyMap<string, unknown>,
): { raw: RawConfig; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const lists: Record<EntryList, [string, unknown][]> = { models: [], nodes: [] };
  let settings: Record<string, unknown> = {};
  for (const [key, value] of values) {
    const role = keyRole(layout, key);
    if (role.role === "version" || role.role === "other") continue;
    if (!isObject(value)) {
      errors.push({ path: key, message: "expected a JSON object" });
      continue;
    }
    if (role.role === "settings") {
      const stray = ["models", "nodes"].filter((k) => k in value);
      if (stray.length > 0)
        errors.push({
          path: key,
          message: `${stray.join(" and ")} belong in keys of their own, not in settings`,
        });
      settings = value;
      continue;
    }
    if (value.name !== role.name) {
      errors.push({
        path: key,
        message: `the entry's name is ${JSON.stringify(value.name)}, not its key's '${role.name}'`,
      });
      continue;
    }
    lists[role.list].push([role.name, value]);
  }
  if (!values.has(layout.settingsKey)) errors.push({ path: layout.settingsKey, message: "missing" });
  const sorted = (list: [string, unknown][]) =>
    list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  const raw = { ...settings, nodes: sorted(lists.nodes), models: sorted(lists.models) } as RawConfig;
  return { raw, errors };
}

/**
 * How to prove who we are to etcd and know it is etcd: TLS (the CA that signed etcd's certificate,
 * and a client certificate for etcd's --client-cert-auth) and/or etcd's own users. Without any,
 * the connection is plaintext and etcd lets anyone who reaches it read and write routing.
 */
export interface EtcdSecurity {
  /** PEM of the CA that signed the members' certificates (endpoints are then https://). */
  ca?: Buffer;
  /** PEM of this client's certificate and key, both or neither. */
  cert?: Buffer;
  key?: Buffer;
  /** An etcd user (etcd's auth enabled), with its password. */
  user?: { name: string; password: string };
}

/** Where the security options are, as the command lines and environments name them. */
export interface EtcdSecurityFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  user?: string | undefined;
  /** The password is read from a file, never taken on a command line (ps shows those). */
  passwordFile?: string | undefined;
}

/**
 * The security options read and checked against the endpoints. Throws, naming the option, where
 * they cannot work together: TLS files with an http:// endpoint (the files would be ignored and
 * everything sent in the clear), a certificate without its key, a user without a password file.
 */
export function readEtcdSecurity(endpoints: readonly string[], files: EtcdSecurityFiles): EtcdSecurity {
  const read = (option: string, path: string | undefined) => {
    if (path === undefined || path === "") return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${option} ${path}: ${(err as Error).message}`);
    }
  };
  const security: EtcdSecurity = {};
  const ca = read("--etcd-ca", files.caFile);
  const cert = read("--etcd-cert", files.certFile);
  const key = read("--etcd-key", files.keyFile);
  if ((cert === undefined) !== (key === undefined))
    throw new Error(
      "--etcd-cert and --etcd-key go together: give both (the client certificate and its key) or neither",
    );
  const tls = ca ?? cert;
  const plain = endpoints.filter((e) => !e.startsWith("https://"));
  if (tls && plain.length > 0)
    throw new Error(
      `--etcd-ca/--etcd-cert are TLS options, but ${plain.join(", ")} is not https://: name every etcd endpoint with https://`,
    );
  if (ca) security.ca = ca;
  if (cert && key) Object.assign(security, { cert, key });
  if (files.user) {
    const password = read("--etcd-password-file", files.passwordFile)
      ?.toString("utf8")
      .replace(/\r?\n$/, "");
    if (password === undefined)
      throw new Error("--etcd-user needs --etcd-password-file (a file holding the user's password)");
    security.user = { name: files.user, password };
  } else if (files.passwordFile) throw new Error("--etcd-password-file needs --etcd-user");
  return security;
}

/**
 * What to check when etcd could not be reached, from the error's text: the TLS handshake's
 * complaints name the option to fix; anything else asks whether etcd runs there.
 */
export function etcdFailureHint(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // The alerts etcd sends when it will not take our certificate (TLS alerts 42, 48, 116).
  if (/alert (bad certificate|unknown ca|certificate required)|alert number (42|48|116)\b/i.test(message))
    return "etcd refused this client's certificate: give --etcd-cert and --etcd-key, a certificate signed by a CA etcd trusts (its --trusted-ca-file)";
  if (/unable to verify|self[- ]signed certificate|certificate verify failed/i.test(message))
    return "etcd's certificate is not signed by the CA given: give --etcd-ca, the CA that signed etcd's certificate";
  if (/authenticat|invalid auth token|user name|password/i.test(message))
    return "etcd refused the user: check --etcd-user and --etcd-password-file";
  return "is etcd running there, and reachable from here? (https:// endpoints need --etcd-ca)";
}

/** A client with a deadline on every unary call: an unreachable etcd is an error, not a hang. */
export function etcdClient(endpoints: string[], callTimeoutMs = 10_000, security: EtcdSecurity = {}): Etcd3 {
  const https = endpoints.some((e) => e.startsWith("https://"));
  return new Etcd3({
    hosts: endpoints,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    ...(https && (security.ca || security.cert)
      ? {
          credentials: {
            // No CA given: grpc-js's createSsl takes null for the system's roots (etcd3's type says Buffer).
            rootCertificate: security.ca ?? (null as unknown as Buffer),
            ...(security.cert && security.key ? { certChain: security.cert, privateKey: security.key } : {}),
          },
        }
      : {}),
    ...(security.user ? { auth: { username: security.user.name, password: security.user.password } } : {}),
  });
}

/** etcd sends revisions as strings of int64. */
export const revision = (v: string | number | undefined): number => Number(v ?? 0);

/**
 * One entry as read: the parsed value (not JSON: a value assemble() refuses), the text it was
 * parsed from (what tells a changed entry from a rewrite of the same one), and its revision.
 */
export interface Entry {
  value: unknown;
  text: string;
  modRevision: number;
}

export function entryOf(kv: IKeyValue): Entry {
  const text = kv.value.toString();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = Symbol.for("not JSON");
  }
  return { value, text, modRevision: revision(kv.mod_revision) };
}

/** Txns hold at most --max-txn-ops operations (128 by default): larger writes go in chunks. */
const maxOpsPerTxn = 100;

export interface WriteResult {
  revision: number;
  puts: number;
  deletes: number;
  /** Written in more than one transaction: replicas may have served the steps between. */
  chunked: boolean;
}

/**
 * Writes a whole config (hubctl apply, a seed): puts the entries that differ, deletes those it no
 * longer has, and touches the version key. With `ifEmpty`, writes only into a store with no config.
 * One transaction when it fits, compared against the version key read first (an edit in between
 * fails it); otherwise chunks in an order that keeps references valid as far as it can: settings
 * and nodes, models, removed models, removed nodes.
 */
export async function writeConfig(
  client: Etcd3,
  layout: EtcdLayout,
  raw: RawConfig,
  opts: { ifEmpty?: boolean } = {},
): Promise<WriteResult> {
  const desired = entriesOf(layout, raw);
  const range = await client.getAll().prefix(layout.configPrefix).exec();
  const versionKv = range.kvs.find((kv) => kv.key.toString() === layout.versionKey);
  if (opts.ifEmpty && range.kvs.length > 0)
    return { revision: revision(range.header.revision), puts: 0, deletes: 0, chunked: false };
  const existing = new Map(range.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
  const puts = [...desired].filter(([k, v]) => existing.get(k) !== v);
  const deletes = [...existing.keys()].filter(
    (k) => !desired.has(k) && keyRole(layout, k).role !== "version",
  );
  const rank = (key: string, removing: boolean) => {
    const role = keyRole(layout, key);
    const list = role.role === "entry" ? role.list : "settings";
    return removing ? (list === "models" ? 2 : 3) : list === "models" ? 1 : 0;
  };
  const ops = [
    ...puts.map(([k, v]) => ({ rank: rank(k, false), op: client.put(k).value(v) })),
    ...deletes.map((k) => ({ rank: rank(k, true), op: client.delete().key(k) })),
  ]
    .sort((a, b) => a.rank - b.rank)
    .map((o) => o.op);
  const marker = () =>
    client
      .put(layout.versionKey)
      .value(JSON.stringify({ apply: { puts: puts.length, deletes: deletes.length } }));
  if (ops.length === 0)
    return { revision: revision(range.header.revision), puts: 0, deletes: 0, chunked: false };
  // etcd3 builds every transaction from a comparison: this one always holds.
  const unconditional = () => client.if(layout.versionKey, "Mod", ">", -1);
  if (ops.length < maxOpsPerTxn) {
    const txn = await client
      .if(layout.versionKey, "Mod", "==", revision(versionKv?.mod_revision))
      .then(...ops, marker())
      .commit();
    if (!txn.succeeded) {
      if (opts.ifEmpty)
        return { revision: revision(txn.header.revision), puts: 0, deletes: 0, chunked: false };
      throw new Error(
        "the config in etcd changed while it was being written: nothing was written; run it again",
      );
    }
    return {
      revision: revision(txn.header.revision),
      puts: puts.length,
      deletes: deletes.length,
      chunked: false,
    };
  }
  let last = 0;
  for (let i = 0; i < ops.length; i += maxOpsPerTxn) {
    const txn = await unconditional()
      .then(...ops.slice(i, i + maxOpsPerTxn))
      .commit();
    last = revision(txn.header.revision);
  }
  const end = await unconditional().then(marker()).commit();
  last = revision(end.header.revision);
  return { revision: last, puts: puts.length, deletes: deletes.length, chunked: true };
}

/** The whole config in etcd, as inferencehub.yaml text (hubctl export), with the revision read. */
export async function readConfig(
  client: Etcd3,
  layout: EtcdLayout,
): Promise<{ raw: RawConfig; errors: ConfigError[]; revision: number }> {
  const range = await client.getAll().prefix(layout.configPrefix).exec();
  const values = new Map(range.kvs.map((kv) => [kv.key.toString(), entryOf(kv).value]));
  const { raw, errors } = assemble(layout, values);
  return { raw, errors, revision: revision(range.header.revision) };
}
