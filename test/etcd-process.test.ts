/**
 * The etcd cluster helper (scripts/lib/etcd-process.ts) that the etcd config store (#17) tests
 * stand on, with the etcd3 client the store will use:
 * - 3 members start healthy; a key written through all endpoints reads back;
 * - the leader killed: the other two elect a new one, and a put commits (2 of 3 is a quorum);
 * - the member restarted on its ports and data dir: it rejoins, and alone serves the value
 *   written while it was down.
 *
 * Skips, saying why, when etcd is missing (scripts/setup.sh installs it), unless
 * INFERENCEHUB_REQUIRE_ETCD=1, which turns the skip into a failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Etcd3 } from "etcd3";
import { waitUntil } from "../scripts/lib/binary-process.js";
import {
  etcdHealthy,
  etcdLeader,
  etcdUnavailableReason,
  startEtcdCluster,
  type EtcdCluster,
} from "../scripts/lib/etcd-process.js";

const unavailable = etcdUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";

describe("etcd cluster as local processes", { skip: required ? false : (unavailable ?? false) }, () => {
  let cluster: EtcdCluster;
  const clients: Etcd3[] = [];
  const client = (hosts: string[]) => {
    const c = new Etcd3({ hosts });
    clients.push(c);
    return c;
  };

  before(async () => {
    if (unavailable) assert.fail(`INFERENCEHUB_REQUIRE_ETCD=1, but ${unavailable}`);
    cluster = await startEtcdCluster({ size: 3, name: "etcd-test" });
  });

  after(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
  });

  test("3 members, all healthy; a put reads back", async () => {
    assert.equal(cluster.members.length, 3);
    assert.deepEqual(
      cluster.endpoints,
      cluster.members.map((m) => m.clientUrl),
    );
    for (const m of cluster.members) {
      assert.ok(m.running(), `${m.name} not running`);
      assert.ok(await etcdHealthy(m.clientUrl), `${m.name} not healthy`);
    }
    const etcd = client(cluster.endpoints);
    await etcd.put("inferencehub/test/a").value("one");
    assert.equal(await etcd.get("inferencehub/test/a").string(), "one");
  });

  test("the leader killed: a put still commits; restarted, it alone serves the value", async () => {
    // The leader, so that the kill takes an election: the harder case for the store.
    const victim = await etcdLeader(cluster);
    const survivors = cluster.members.filter((m) => m !== victim);

    await victim.kill();
    assert.equal(victim.running(), false);
    assert.equal(await etcdHealthy(victim.clientUrl), false);
    // Until the survivors notice (the election timeout, 1 s) they forward proposals to the dead
    // leader, where they are lost: a put sent then waits out etcd's request timeout (7 s here)
    // before the client retries. Healthy again means a new leader and a quorum read through it.
    for (const m of survivors) {
      await waitUntil(m.current(), {
        label: `etcd ${m.name}`,
        what: "healthy after the leader's kill",
        timeoutMs: 10_000,
        probe: () => etcdHealthy(m.clientUrl),
      });
    }

    // A client on the two survivors only, so that no call waits on the dead member's endpoint.
    const etcd = client(survivors.map((m) => m.clientUrl));
    await etcd.put("inferencehub/test/b").value("two");
    assert.equal(await etcd.get("inferencehub/test/b").string(), "two");

    await victim.restart();
    assert.ok(victim.running());
    assert.ok(await etcdHealthy(victim.clientUrl), `${victim.name} not healthy after restart()`);
    const alone = client([victim.clientUrl]);
    // Linearizable reads (etcd3's default) go through the leader: the value is the cluster's.
    assert.equal(await alone.get("inferencehub/test/b").string(), "two");
    assert.equal(await alone.get("inferencehub/test/a").string(), "one");
    // And the restarted member's own copy caught up: a serializable read is answered locally.
    assert.equal(await alone.get("inferencehub/test/b").serializable(true).string(), "two");
  });
});
