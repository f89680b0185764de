/**
 * The etcd config store on a real etcd, in this process (#17): replicas racing to seed an empty
 * store write it once; a whole config too large for one transaction is written in chunks and
 * every store ends on it; an admin edit's refusals (a base that is no revision, one etcd has not
 * reached, a model that does not exist, an edit that makes the config invalid, naming the key)
 * and a no-op edit leave etcd as it was; a watch whose revision was compacted while it was
 * away reads everything again.
 *
 * Skips, saying why, when etcd is missing (scripts/setup.sh installs it), unless
 * INFERENCEHUB_REQUIRE_ETCD=1, which turns the skip into a failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import type { Config, RawConfig } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import { etcdClient, etcdLayout, writeConfig } from "@inferencehub/contracts/etcd-config";
import { etcdUnavailableReason, startEtcdCluster, type EtcdCluster } from "../scripts/lib/etcd-process.js";
import { applyEdit, type Edit } from "../xds-server/src/admin/index.js";
import { EtcdConfigStore } from "../xds-server/src/source/index.js";
import { eventually } from "./lib/assertions.js";

const unavailable = etcdUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";
const log = pino({ level: process.env.STORE_TEST_LOG ?? "silent" });

function config(models: number, weights: [number, number] = [100, 0]): RawConfig {
  return {
    listener: { port: 8080 },
    nodes: [{ name: "node-a", address: "127.0.0.1:9001" }],
    models: Array.from({ length: models }, (_, i) => ({
      name: `m${String(i).padStart(4, "0")}`,
      versions: [
        { version: "1", weight: weights[0], nodes: ["node-a"] },
        { version: "2", weight: weights[1], nodes: ["node-a"] },
      ],
    })),
  };
}

describe("the etcd config store", { skip: required ? false : (unavailable ?? false) }, () => {
  let etcd: EtcdCluster;
  const stores: EtcdConfigStore[] = [];
  let prefixes = 0;
  const prefix = () => `/store-test-${process.pid}-${++prefixes}/`;
  const open = async (p: string, seed?: RawConfig) => {
    const seen: string[] = [];
    const store = new EtcdConfigStore({
      endpoints: etcd.endpoints,
      prefix: p,
      log,
      onConfig: (_c: Config, version: string) => seen.push(version),
      ...(seed ? { seed } : {}),
    });
    stores.push(store);
    await store.start();
    return { store, seen };
  };
  const edit = (store: EtcdConfigStore, e: Edit, baseVersion = store.version) =>
    store.edit({
      scope: "model" in e ? { list: "models", name: e.model } : { list: "nodes", name: e.node },
      baseVersion,
      change: (text) => applyEdit(text, e),
    });
  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => assert.fail("the edit was not refused"),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError, String(err));
        return err;
      },
    );

  before(async () => {
    if (unavailable) assert.fail(`INFERENCEHUB_REQUIRE_ETCD=1, but ${unavailable}`);
    etcd = await startEtcdCluster({ size: 3, name: "store" });
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await etcd?.stop();
  });

  test("replicas racing to seed an empty store write it once, and serve it at one version", async () => {
    const p = prefix();
    const [a, b, c] = await Promise.all([open(p, config(3)), open(p, config(3)), open(p, config(3))]);
    assert.equal(new Set([a.store.version, b.store.version, c.store.version]).size, 1);
    assert.equal(a.store.current?.models.length, 3);
    // One seed write: the version key was written once.
    const client = etcdClient(etcd.endpoints);
    try {
      const versionKey = await client.get(etcdLayout(p).versionKey).exec();
      assert.equal(versionKey.kvs[0]?.version, "1");
    } finally {
      client.close();
    }
  });

  test("a config too large for one transaction is written in chunks; the store ends on all of it", async () => {
    const p = prefix();
    const { store } = await open(p, config(2));
    const client = etcdClient(etcd.endpoints);
    try {
      const written = await writeConfig(client, etcdLayout(p), config(250, [0, 100]));
      assert.equal(written.chunked, true);
      assert.equal(written.puts, 250);
      await eventually(async () => store.version === String(written.revision), "the store at the last chunk");
      assert.equal(store.current?.models.length, 250);
      assert.ok(store.current?.models.every((m) => m.versions[1]?.weight === 100));
      // Applied again, nothing differs: nothing is written.
      const again = await writeConfig(client, etcdLayout(p), config(250, [0, 100]));
      assert.deepEqual([again.puts, again.deletes], [0, 0]);
      // Fewer models: the others are removed.
      const fewer = await writeConfig(client, etcdLayout(p), config(5, [0, 100]));
      assert.deepEqual([fewer.puts, fewer.deletes, fewer.chunked], [0, 245, true]);
      await eventually(async () => store.current?.models.length === 5, "the removals to apply");
    } finally {
      client.close();
    }
  });

  test("an edit's refusals leave etcd as it was; a no-op edit keeps the version", async () => {
    const p = prefix();
    const { store } = await open(p, config(2));
    const start = store.version;
    const setWeights: Edit = { op: "setWeights", model: "m0000", weights: { "1": 0, "2": 100 } };

    const notRevision = await refusal(edit(store, setWeights, "abc123"));
    assert.equal(notRevision.code, status.ABORTED);
    assert.match(notRevision.message, new RegExp(`not an etcd revision; the config is now at ${start}`));

    const ahead = await refusal(edit(store, setWeights, String(Number(start) + 1000)));
    assert.equal(ahead.code, status.ABORTED);
    assert.match(ahead.message, /etcd has not reached revision/);

    const missing = await refusal(edit(store, { ...setWeights, model: "nope" }));
    assert.equal(missing.code, status.NOT_FOUND);
    assert.match(missing.message, /model 'nope' is not in the config/);

    const invalid = await refusal(
      edit(store, { op: "setWeights", model: "m0001", weights: { "1": 10, "2": 10 } }),
    );
    assert.equal(invalid.code, status.INVALID_ARGUMENT);
    assert.ok(
      invalid.violations.some((v) =>
        v.field.startsWith(`${etcdLayout(p).entryKey("models", "m0001")}.versions`),
      ),
      JSON.stringify(invalid.violations),
    );

    const noop = await edit(store, { op: "setWeights", model: "m0000", weights: { "1": 100, "2": 0 } });
    assert.deepEqual([noop.status, noop.version], ["unchanged", start]);
    assert.equal(store.version, start, "nothing was written");

    const applied = await edit(store, setWeights);
    assert.equal(applied.status, "applied");
    assert.ok(Number(applied.version) > Number(start));
    assert.equal(store.version, applied.version, "the edit serves when edit() resolves");
    assert.deepEqual(
      store.current?.models.find((m) => m.name === "m0000")?.versions.map((v) => v.weight),
      [0, 100],
    );
    // Another model's edit from the old base still applies: it did not change since.
    const other = await edit(store, { op: "pin", model: "m0001", version: "2" }, start);
    assert.equal(other.status, "applied");
    // The same model from the old base is a conflict.
    const stale = await refusal(edit(store, { op: "pin", model: "m0000", version: "2" }, start));
    assert.equal(stale.code, status.ABORTED);
    assert.match(stale.message, new RegExp(`model 'm0000' changed at revision ${applied.version}`));
  });

  test("a watch whose revision was compacted while its member was down reads the config again", async () => {
    const p = prefix();
    const [member, ...others] = etcd.members;
    // A store on one member only, so that killing it takes the store's watch away.
    let resyncs = 0;
    const counting = pino(
      { level: "warn" },
      { write: (line: string) => void (/reading the config again/.test(line) && resyncs++) },
    );
    const store = new EtcdConfigStore({
      endpoints: [member!.clientUrl],
      prefix: p,
      log: counting,
      onConfig: () => undefined,
      seed: config(2),
    });
    stores.push(store);
    await store.start();
    await member!.kill();
    const client = etcdClient(others.map((m) => m.clientUrl));
    try {
      await writeConfig(client, etcdLayout(p), config(2, [50, 50]));
      const written = await writeConfig(client, etcdLayout(p), config(2, [0, 100]));
      // Compacting past the revision the store's watch resumes from (the first write): it cannot
      // resume where it stopped, and etcd cancels it.
      await client.kv.compact({ revision: String(written.revision), physical: true });
      await member!.restart();
      await eventually(
        async () => store.version === String(written.revision),
        "the store to read the config again",
        20_000,
      );
      assert.ok(store.current?.models.every((m) => m.versions[1]?.weight === 100));
      assert.ok(resyncs > 0, "the store read the config again");
    } finally {
      client.close();
    }
  });
});
