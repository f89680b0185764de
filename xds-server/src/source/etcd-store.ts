/**
 * The config in etcd (the layout: @inferencehub/contracts/etcd-config), shared by every control plane replica: read once in full,
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
import type { Etcd3, Watcher } from "etcd3";
import type { Logger } from "pino";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml, stringify } from "yaml";
import {
  ConfigAssembler,
  formatErrors,
  type Config,
  type ConfigError,
  type RawConfig,
} from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { ConfigEditRequest, ConfigEditResult } from "../admin/index.js";
import { invalidEdit } from "./edit-errors.js";
import {
  assemble,
  entryOf,
  etcdClient,
  etcdFailureHint,
  etcdLayout,
  type EtcdSecurity,
  revision,
  writeConfig,
  type EtcdLayout,
  type Entry,
} from "@inferencehub/contracts/etcd-config";

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members (http://host:2379, or https:// with `security`). */
  endpoints: string[];
  /** Default /inferencehub/. */
  prefix?: string;
  /** TLS and etcd user (readEtcdSecurity); none: plaintext, no user. */
  security?: EtcdSecurity;
  log: Logger;
  /** Called with every valid config that differs from the last one, and its version. */
  onConfig: (config: Config, version: string) => void;
  /**
   * Written when etcd holds no config under the prefix (once: when replicas race, one write
   * wins and the others read it). Parsed and validated by the caller.
   */
  seed?: RawConfig;
  /**
   * Deadline of each call to etcd; default 10 s: a write just after the leader died waits out
   * etcd's own request timeout (5 s + 2 election timeouts) before it is retried with the new one.
   */
  callTimeoutMs?: number;
}

type Parsed = { ok: true; config: Config } | { ok: false; errors: ConfigError[] };

export class EtcdConfigStore {
  readonly kind = "etcd";
  readonly location: string;
  readonly layout: EtcdLayout;
  readonly #client: Etcd3;
  readonly #timeoutMs: number;
  #entries = new Map<string, Entry>();
  /** An entry's text changed since the last rebuild (the version key's alone does not count). */
  #dirty = false;
  /** Reuses the models an edit did not touch: an edit checks one model, not all of them. */
  readonly #assembler = new ConfigAssembler();
  /** The highest revision of any entry read (the watch may be ahead of the rebuild). */
  #revision = 0;
  /** The revision the last rebuild got to: edits wait for it to reach theirs. */
  #processed = 0;
  /** The revision of the config serving: the config version, equal on every replica. */
  #serving = 0;
  #config: Config | undefined;
  #lastErrors: ConfigError[] = [];
  #watcher: Watcher | undefined;
  #closed = false;
  /** Edits waiting for the watch to bring the revision they wrote. */
  #waiters: { revision: number; resolve: () => void }[] = [];
  #rebuildQueued = false;

  constructor(private readonly options: EtcdStoreOptions) {
    this.layout = etcdLayout(options.prefix);
    this.#timeoutMs = options.callTimeoutMs ?? 10_000;
    this.#client = etcdClient(options.endpoints, this.#timeoutMs, options.security);
    this.location = `etcd ${options.endpoints.join(",")} ${this.layout.configPrefix}`;
  }

  get version(): string {
    return String(this.#serving);
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
    let synced = false;
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        // Once read, the watch brings what comes next: no need to read everything again.
        if (!synced) await this.#sync();
        synced = true;
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
            { store: this.location, err: (err as Error).message, hint: etcdFailureHint(err) },
            "cannot read the config from etcd; retrying every second",
          );
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    throw new Error("the store was closed before a config was read");
  }

  /** Reads every entry, then watches from the next revision (a resync after a compaction too). */
  async #sync(): Promise<void> {
    if (this.#watcher) await cancelWithin(this.#watcher);
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
    // Never backwards: a resync after a delete finds no entry at the delete's revision.
    this.#revision = Math.max(this.#revision, ...[...this.#entries.values()].map((e) => e.modRevision));
    this.#dirty = true;
    this.#rebuild();
    // Known to close() before etcd answers: a watch still being created when the store closes is
    // cancelled too, rather than left in the client, retrying against a closed connection forever.
    const watcher = this.#client
      .watch()
      .prefix(this.layout.configPrefix)
      .startRevision(String(revision(range.header.revision) + 1))
      .watcher();
    this.#watcher = watcher;
    await connected(watcher);
    if (this.#closed) return;
    watcher.on("data", (res) => {
      for (const event of res.events) {
        const key = event.kv.key.toString();
        this.#revision = Math.max(this.#revision, revision(event.kv.mod_revision));
        const before = this.#entries.get(key);
        if (event.type === "Delete") this.#entries.delete(key);
        else this.#entries.set(key, entryOf(event.kv));
        if (key !== this.layout.versionKey && before?.text !== this.#entries.get(key)?.text)
          this.#dirty = true;
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
      if (this.#closed || this.#watcher !== watcher) return;
      // Cancelled by etcd already: cancelling it again would wait for an answer that never comes.
      this.#watcher = undefined;
      watcher.removeAllListeners();
      this.options.log.warn(
        { store: this.location, err: err.message },
        "the etcd watch ended; reading the config again",
      );
      void this.#resync();
    });
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
    if (this.#dirty) this.#apply(this.#parse(this.#entries));
    // Unchanged entries (the version key alone) serve at the new revision too, unless refused.
    else if (this.#lastErrors.length === 0) this.#serving = this.#revision;
    this.#processed = this.#revision;
    this.#waiters = this.#waiters.filter((w) => {
      if (w.revision > this.#processed) return true;
      w.resolve();
      return false;
    });
  }

  #apply(result: Parsed): void {
    this.#dirty = false;
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
      this.#config = result.config;
      this.#serving = this.#revision;
      this.options.onConfig(result.config, this.version);
    }
  }

  #parse(entries: ReadonlyMap<string, Pick<Entry, "value" | "text">>): Parsed {
    const { raw, errors } = assemble(this.layout, new Map([...entries].map(([k, e]) => [k, e.value])));
    if (errors.length > 0) return { ok: false, errors };
    const { models = [], ...rest } = raw;
    const parsed = this.#assembler.assemble(
      rest,
      models.map((m) => ({ raw: m, text: entries.get(this.layout.entryKey("models", m.name))?.text ?? "" })),
      this.location,
    );
    if (parsed.ok) return { ok: true, config: parsed.value };
    return {
      ok: false,
      errors: parsed.errors.map((e) => ({ ...e, path: keyedPath(this.layout, raw, e.path) })),
    };
  }

  /** Resolves when the watch has brought `rev` (or after `timeoutMs`). */
  #waitForRevision(rev: number, timeoutMs: number): Promise<void> {
    if (this.#processed >= rev) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push({ revision: rev, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  #waitForChange(timeoutMs: number): Promise<void> {
    return this.#waitForRevision(this.#processed + 1, timeoutMs);
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
        `conflict: this edit was based on config version ${base}, but ${why}; the config is now at ${Math.max(this.#serving, modRevision)}: read it again and retry`,
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
    const entryText = JSON.stringify(entry);
    const entries = new Map<string, Pick<Entry, "value" | "text">>(this.#entries);
    entries.set(key, { value: entry, text: entryText });
    const parsed = this.#parse(entries);
    if (!parsed.ok) throw invalidEdit(parsed.errors);
    // Same meaning, other text (say `drain: false` removed): nothing to store.
    const named = (config: Config) => config[list].find((x: { name: string }) => x.name === name);
    if (isDeepStrictEqual(named(parsed.config), named(previous))) return unchanged();
    const txn = await this.#call("write the edit", () =>
      this.#client
        .if(key, "Mod", "==", modRevision)
        .then(
          this.#client.put(key).value(entryText),
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
    if (this.#watcher) await cancelWithin(this.#watcher);
    this.#client.close();
  }
}

/** Resolves when etcd has created the watch, rejects when it refused it; leaves no listener behind. */
function connected(watcher: Watcher): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      watcher.off("connected", onConnected);
      watcher.off("error", onError);
      if (err) reject(err);
      else resolve();
    };
    const onConnected = () => done();
    const onError = (err: Error) => done(err);
    watcher.once("connected", onConnected);
    watcher.once("error", onError);
  });
}

/**
 * Cancels a watch, waiting at most a second for etcd's answer: a watch that etcd ended on its own
 * (compacted, or its member gone) may never be answered, and closing the client ends it anyway.
 */
async function cancelWithin(watcher: Watcher): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    watcher.cancel().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1_000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/**
 * A field of the assembled config (`models[3].versions`) as the key that holds it and the field
 * in its value (`/inferencehub/config/models/resnet.versions`): what an operator fixes.
 */
function keyedPath(layout: EtcdLayout, raw: RawConfig, path: string): string {
  const m = /^(models|nodes)\[(\d+)\](.*)$/.exec(path);
  if (!m) return path === "" ? layout.settingsKey : `${layout.settingsKey}.${path}`;
  const list = m[1] as "models" | "nodes";
  const name = raw[list]?.[Number(m[2])]?.name;
  return name === undefined ? path : `${layout.entryKey(list, name)}${m[3]}`;
}
