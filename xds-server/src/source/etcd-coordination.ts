/**
 * What several control planes on one etcd share beyond the config: who is the single writer that
 * drives the nodes (the reconciler; rollouts), and state that writer publishes for every replica
 * to route by (where each placed version is ready). An election on a lease: a leader that dies
 * loses it when its lease runs out (`ttlSeconds`), and another replica takes over.
 */
import type { Etcd3, Campaign, Election, Watcher } from "etcd3";
import type { Logger } from "pino";
import { etcdClient, etcdLayout, type EtcdSecurity } from "@inferencehub/contracts/etcd-config";

export interface EtcdCoordinationOptions {
  endpoints: string[];
  prefix?: string;
  security?: EtcdSecurity;
  log: Logger;
  /** This replica, as other replicas' logs name the leader. */
  id: string;
  /** How long a leader that stopped answering keeps the role (default 5 s). */
  ttlSeconds?: number;
}

export class EtcdCoordination {
  readonly #client: Etcd3;
  readonly #election: Election;
  readonly #statePrefix: string;
  readonly #log: Logger;
  #campaign: Campaign | undefined;
  #leader = false;
  #closed = false;
  readonly #watchers: Watcher[] = [];
  #retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: EtcdCoordinationOptions) {
    const layout = etcdLayout(options.prefix);
    this.#client = etcdClient(options.endpoints, 5_000, options.security);
    this.#election = this.#client.election(`${layout.prefix}leader`, options.ttlSeconds ?? 5);
    this.#statePrefix = `${layout.prefix}state/`;
    this.#log = options.log;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** Campaigns until closed; `onChange` hears every gain and loss of the role. */
  campaign(onChange: (leader: boolean) => void): void {
    if (this.#closed) return;
    const campaign = this.#election.campaign(this.options.id);
    this.#campaign = campaign;
    campaign.on("elected", () => {
      this.#leader = true;
      this.#log.info({ id: this.options.id }, "elected: this replica drives the nodes now");
      onChange(true);
    });
    campaign.on("error", (err: Error) => {
      // The lease or the connection was lost: whoever holds the role now, it is not us.
      const was = this.#leader;
      this.#leader = false;
      if (this.#closed) return;
      this.#log.warn({ err: err.message }, "leader election failed; campaigning again");
      if (was) onChange(false);
      this.#retry = setTimeout(() => this.campaign(onChange), 1_000);
      this.#retry.unref();
    });
  }

  /** Writes a shared value (the leader's). */
  async publish(name: string, value: string): Promise<void> {
    await this.#client.put(`${this.#statePrefix}${name}`).value(value);
  }

  /** Reads a shared value now and at every change; undefined when it is not there. */
  async follow(name: string, onValue: (value: string | undefined) => void): Promise<void> {
    const key = `${this.#statePrefix}${name}`;
    const watcher = await this.#client.watch().key(key).create();
    this.#watchers.push(watcher);
    watcher.on("put", (kv) => onValue(kv.value.toString()));
    watcher.on("delete", () => onValue(undefined));
    onValue((await this.#client.get(key).string()) ?? undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    // Hand the role over at once rather than after the lease runs out.
    if (this.#campaign) await this.#campaign.resign().catch(() => undefined);
    await Promise.all(this.#watchers.map((w) => w.cancel().catch(() => undefined)));
    this.#client.close();
  }
}
