/**
 * The config in etcd (etcd-layout.ts), shared by every control plane replica: read once in full,
 * then followed by a watch, so an edit anywhere (this replica, another, `hubctl apply`) re-parses
 * the entries it touched and reaches every replica within one watch event. Each replica builds
 * the same snapshots from the same entries: their versions are content hashes, so an Envoy that
 * moves to another replica is sent nothing new.
 *
 * An admin edit is a compare-and-swap on the one entry it touches: it applies when that entry has
 * not changed since the revision the caller read (its base version), so edits of different models
 * never conflict, and of two edits of one model from the same base one wins and the other gets
 * ABORTED. While etcd cannot be reached, the last config keeps serving and edits are refused with
 * UNAVAILABLE; the watch resumes where it stopped once etcd is back.
 */
import { status } from "@grpc/grpc-js";
import { Etcd3, type IKeyValue, type Watcher } from "etcd3";
import type { Logger } from "pino";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml, stringify } from "yaml";
import {
  formatErrors,
  parseConfigValue,
  type Config,
  type ConfigError,
  type RawConfig,
} from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { ConfigEditRequest, ConfigEditResult } from "../admin/index.js";
import { invalidEdit } from "./edit-errors.js";
import { assemble, entriesOf, etcdLayout, keyRole, type EtcdLayout } from "./etcd-layout.js";

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members (http://host:2379). */
  endpoints: string[];
  /** Default /inferencehub/. */
  prefix?: string;
  log: Logger;
  /** Called with every valid config that differs from the last one, and its version. */
  onConfig: (config: Config, version: string) => void;
  /**
   * Written when etcd holds no config under the prefix (once: when replicas race, one write
   * wins and the others read it). Parsed and validated by the caller.
   */
  seed?: RawConfig;
  /** Deadline of each call to etcd; default 5 s. */
  callTimeoutMs?: number;
}

/** A client with a deadline on every unary call: an unreachable etcd is an error, not a hang. */
export function etcdClient(endpoints: string[], callTimeoutMs = 5_000): Etcd3 {
  return new Etcd3({
    hosts: endpoints,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
}

const revision = (v: string | number | undefined): number => Number(v ?? 0);

/** One entry as read: the parsed value (or why it cannot be), and the revision it was last written at. */
interface Entry {
  value: unknown;
  modRevision: number;
}

export class EtcdConfigStore {
  readonly location: string;
  readonly layout: EtcdLayout;
  readonly #client: Etcd3;
  readonly #timeoutMs: number;
  #entries = new Map<string, Entry>();
  /** The highest revision of any entry read: the config version, equal on every replica. */
  #revision = 0;
  #config: Config | undefined;
  #lastErrors: ConfigError[] = [];
  #watcher: Watcher | undefined;
  #closed = false;
  /** Edits waiting for the watch to bring the revision they wrote. */
  #waiters: { revision: number; resolve: () => void }[] = [];
  #rebuildQueued = false;

  constructor(private readonly options: EtcdStoreOptions) {
    this.layout = etcdLayout(options.prefix);
    this.#timeoutMs = options.callTimeoutMs ?? 5_000;
    this.#client = etcdClient(options.endpoints, this.#timeoutMs);
    this.location = `etcd ${options.endpoints.join(",")} ${this.layout.configPrefix}`;
  }

  get version(): string {
    return String(this.#revision);
  }

  get current(): Config | undefined {
    return this.#config;
  }

  /** Why the entries in etcd are not serving (someone wrote an invalid one); empty when they are. */
  get lastErrors(): readonly ConfigError[] {
    return this.#lastErrors;
  }

  /**
   * Reads the config (writing the seed into an empty store) and follows it. Resolves once a valid
   * config serves; while etcd cannot be reached or holds no valid config, it waits and says why.
   */
  async start(): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        await this.#sync();
        if (this.#config) return;
        if (attempt === 1 || attempt % 10 === 0)
          this.options.log.warn(
            { store: this.location, errors: this.#lastErrors },
            this.#entries.size === 0
              ? "etcd holds no config yet: write one with `hubctl apply -f inferencehub.yaml --etcd <endpoints>`; waiting"
              : "the config in etcd is not valid (errors above); waiting for a valid one",
          );
        await this.#waitForChange(1_000);
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0)
          this.options.log.warn(
            { store: this.location, err: (err as Error).message },
            "cannot read the config from etcd; retrying every second",
          );
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    throw new Error("the store was closed before a config was read");
  }

  /** Reads every entry, then watches from the next revision (a resync after a compaction too). */
  async #sync(): Promise<void> {
    await this.#watcher?.cancel().catch(() => undefined);
    this.#watcher = undefined;
    let range = await this.#client.getAll().prefix(this.layout.configPrefix).exec();
    if (range.kvs.length === 0 && this.options.seed) {
      const written = await writeConfig(this.#client, this.layout, this.options.seed, { ifEmpty: true });
      this.options.log.info(
        { store: this.location, revision: written.revision, entries: written.puts },
        written.puts > 0
          ? "etcd held no config: wrote the seed config"
          : "another replica wrote the seed config first",
      );
      range = await this.#client.getAll().prefix(this.layout.configPrefix).exec();
    }
    this.#entries = new Map(range.kvs.map((kv) => [kv.key.toString(), entryOf(kv)]));
    this.#revision = Math.max(0, ...[...this.#entries.values()].map((e) => e.modRevision));
    this.#rebuild();
    const watcher = await this.#client
      .watch()
      .prefix(this.layout.configPrefix)
      .startRevision(String(revision(range.header.revision) + 1))
      .create();
    watcher.on("data", (res) => {
      for (const event of res.events) {
        const key = event.kv.key.toString();
        this.#revision = Math.max(this.#revision, revision(event.kv.mod_revision));
        if (event.type === "Delete") this.#entries.delete(key);
        else this.#entries.set(key, entryOf(event.kv));
      }
      this.#scheduleRebuild();
    });
    watcher.on("disconnected", (err) =>
      this.options.log.warn(
        { store: this.location, err: err.message },
        "lost the watch on etcd; the last config keeps serving, edits are refused until it is back",
      ),
    );
    watcher.on("connected", () =>
      this.options.log.info({ store: this.location }, "watching the config in etcd"),
    );
    // A cancelled watch (its revision compacted away while disconnected): read everything again.
    watcher.on("error", (err) => {
      if (this.#closed) return;
      this.options.log.warn(
        { store: this.location, err: err.message },
        "the etcd watch ended; reading the config again",
      );
      void this.#resync();
    });
    this.#watcher = watcher;
  }

  async #resync(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#sync();
        return;
      } catch (err) {
        this.options.log.warn(
          { store: this.location, err: (err as Error).message },
          "cannot read the config from etcd; retrying",
        );
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  /** Watch events come in bursts (a chunked apply): one rebuild per turn of the event loop. */
  #scheduleRebuild(): void {
    if (this.#rebuildQueued) return;
    this.#rebuildQueued = true;
    setImmediate(() => {
      this.#rebuildQueued = false;
      this.#rebuild();
    });
  }

  #rebuild(): void {
    const result = this.#parse(new Map([...this.#entries].map(([k, e]) => [k, e.value])));
    if (!result.ok) {
      if (JSON.stringify(result.errors) !== JSON.stringify(this.#lastErrors)) {
        for (const e of result.errors)
          this.options.log.error(
            { store: this.location, field: e.path },
            `config refused: ${formatErrors([e])}`,
          );
        this.options.log.error(
          { store: this.location, revision: this.#revision, errors: result.errors.length },
          "the config in etcd was refused; the last good config keeps serving. Fix the entries above",
        );
      }
      this.#lastErrors = result.errors;
    } else {
      this.#lastErrors = [];
      if (!this.#config || !isDeepStrictEqual(this.#config, result.config)) {
        this.#config = result.config;
        this.options.onConfig(result.config, this.version);
      }
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (w.revision > this.#revision) return true;
      w.resolve();
      return false;
    });
  }

  #parse(
    values: ReadonlyMap<string, unknown>,
  ): { ok: true; config: Config } | { ok: false; errors: ConfigError[] } {
    const { raw, errors } = assemble(this.layout, values);
    if (errors.length > 0) return { ok: false, errors };
    const parsed = parseConfigValue(raw, this.location);
    return parsed.ok ? { ok: true, config: parsed.value } : { ok: false, errors: parsed.errors };
  }

  /** Resolves when the watch has brought `rev` (or after `timeoutMs`). */
  #waitForRevision(rev: number, timeoutMs: number): Promise<void> {
    if (this.#revision >= rev) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push({ revision: rev, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  #waitForChange(timeoutMs: number): Promise<void> {
    return this.#waitForRevision(this.#revision + 1, timeoutMs);
  }

  async edit(request: ConfigEditRequest): Promise<ConfigEditResult> {
    const previous = this.#config;
    if (!previous) throw new GatewayError(status.UNAVAILABLE, "no config is serving yet");
    const base = /^[0-9]{1,15}$/.test(request.baseVersion) ? Number(request.baseVersion) : NaN;
    if (Number.isNaN(base))
      throw new GatewayError(
        status.ABORTED,
        `conflict: this edit was based on config version '${request.baseVersion}', which is not an etcd revision; the config is now at ${this.version}: read it again and retry`,
      );
    const { list, name } = request.scope;
    const key = this.layout.entryKey(list, name);
    const read = await this.#call("read the entry", () => this.#client.get(key).exec());
    const kv = read.kvs[0];
    const modRevision = revision(kv?.mod_revision);
    const now = revision(read.header.revision);
    if (modRevision > base || base > now) {
      const why =
        base > now
          ? `etcd has not reached revision ${base}`
          : `${list === "models" ? "model" : "node"} '${name}' changed at revision ${modRevision}, after it`;
      throw new GatewayError(
        status.ABORTED,
        `conflict: this edit was based on config version ${base}, but ${why}; the config is now at ${Math.max(this.#revision, modRevision)}: read it again and retry`,
      );
    }
    const text = stringify({ [list]: kv ? [JSON.parse(kv.value.toString())] : [] });
    const next = request.change(text);
    const unchanged = (): ConfigEditResult => ({
      status: "unchanged",
      config: previous,
      previous,
      version: this.version,
    });
    if (next === text) return unchanged();
    const entry = (parseYaml(next) as Record<string, unknown[]>)[list]?.[0];
    const values = new Map([...this.#entries].map(([k, e]) => [k, e.value]));
    values.set(key, entry);
    const parsed = this.#parse(values);
    if (!parsed.ok) throw invalidEdit(parsed.errors);
    if (isDeepStrictEqual(parsed.config, previous)) return unchanged();
    const txn = await this.#call("write the edit", () =>
      this.#client
        .if(key, "Mod", "==", modRevision)
        .then(
          this.#client.put(key).value(JSON.stringify(entry)),
          this.#client.put(this.layout.versionKey).value(JSON.stringify({ edit: `${list}/${name}` })),
        )
        .commit(),
    );
    const written = revision(txn.header.revision);
    if (!txn.succeeded)
      throw new GatewayError(
        status.ABORTED,
        `conflict: ${list === "models" ? "model" : "node"} '${name}' changed while this edit was being made; the config is now at ${written}: read it again and retry`,
      );
    // Applied here when this resolves, as with the file: the caller's next read sees its edit.
    await this.#waitForRevision(written, this.#timeoutMs);
    return { status: "applied", config: this.#config ?? parsed.config, previous, version: String(written) };
  }

  async #call<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new GatewayError(
        status.UNAVAILABLE,
        `cannot ${what}: etcd (${this.options.endpoints.join(", ")}) did not answer (${(err as Error).message}); nothing was changed and the last config keeps serving; retry once etcd is back`,
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    await this.#watcher?.cancel().catch(() => undefined);
    this.#client.close();
  }
}

function entryOf(kv: IKeyValue): Entry {
  const text = kv.value.toString();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = Symbol.for("not JSON");
  }
  return { value, modRevision: revision(kv.mod_revision) };
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
    const txn = await client
      .if(layout.versionKey, "Mod", ">", -1)
      .then(...ops.slice(i, i + maxOpsPerTxn))
      .commit();
    last = revision(txn.header.revision);
  }
  const end = await client.if(layout.versionKey, "Mod", ">", -1).then(marker()).commit();
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
