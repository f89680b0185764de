/**
 * Two control plane replicas on a 3-member etcd cluster, with a real Envoy that lists both in its
 * bootstrap and calls running the whole time (#17):
 * - both serve the seed config at the same version with the same snapshot versions;
 * - the replica Envoy streams from is killed (-9): no call fails, Envoy resyncs to the other,
 *   and an edit made during the outage reaches it; what Envoy held is not sent again;
 * - the etcd leader killed: edits still commit (after an election) and reach both replicas;
 * - two edits of one model from the same base, one per replica: one wins, the other is ABORTED
 *   with the current version;
 * - an entry written by hand that is not valid: refused, naming the key, the last config serves;
 * - etcd down: calls go on with the last config, edits are refused (UNAVAILABLE); back: edits apply;
 * - hubctl export gives the config with the admin edits; hubctl apply -f of an edited export
 *   reaches both replicas; an invalid file is refused naming the field, with nothing written.
 *
 * Skips, saying why, when etcd is missing (scripts/setup.sh installs it), unless
 * INFERENCEHUB_REQUIRE_ETCD=1, which turns the skip into a failure.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse as parseYaml, stringify } from "yaml";
import { parseConfig } from "@inferencehub/contracts/config";
import {
  etcdLeader,
  etcdUnavailableReason,
  startEtcdCluster,
  type EtcdCluster,
} from "../scripts/lib/etcd-process.js";
import {
  renderBootstrap,
  startEnvoy,
  withXdsReplicas,
  type EnvoyProcess,
} from "../scripts/lib/envoy-process.js";
import { createInferClient, type InferClient } from "../scripts/lib/infer-client.js";
import { metricValue, startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startXdsServer, type XdsProcess, type XdsStatus } from "../scripts/lib/xds-process.js";
import { hubctlOnEtcd } from "./lib/hubctl.js";
import { etcdClient, etcdLayout } from "@inferencehub/contracts/etcd-config";
import { eventually } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { callMany, startLoad, type RunningLoad } from "./lib/load.js";

const unavailable = etcdUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";
const TOKEN = "replica-admin-token-0123456789";
const scaleCall = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};

describe("control plane replicas on etcd", { skip: required ? false : (unavailable ?? false) }, () => {
  let dir: string;
  let etcd: EtcdCluster;
  let node: NodeProcess;
  let envoy: EnvoyProcess;
  let client: InferClient;
  let listenPort: number;
  const replicas: XdsProcess[] = [];
  const loads: RunningLoad[] = [];
  const prefix = `/inferencehub-test-${process.pid}/`;

  const startReplica = (seed?: string) =>
    startXdsServer({
      ...(seed ? { configPath: seed } : {}),
      etcd: { endpoints: etcd.endpoints, prefix },
      env: { INFERENCEHUB_ADMIN_TOKEN: TOKEN },
    });

  before(async () => {
    if (unavailable) assert.fail(`INFERENCEHUB_REQUIRE_ETCD=1, but ${unavailable}`);
    dir = await mkdtemp(join(tmpdir(), "inferencehub-replicas-"));
    [etcd, node, listenPort] = await Promise.all([
      startEtcdCluster({ size: 3, name: "replicas" }),
      startNode({ name: "node-a" }),
      freePort(),
    ]);
    const seed = join(dir, "inferencehub.yaml");
    const config = gatewayConfig([{ name: "node-a", address: node.address }], listenPort, [
      scaleModel([100, 0], ["node-a"]),
    ]);
    await writeFile(seed, stringify(config));
    // Both get the seed: the first write wins, the other reads it.
    replicas.push(...(await Promise.all([startReplica(seed), startReplica(seed)])));
    const bootstrap = renderBootstrap("bootstrap-ads.template.yaml", {
      NODE_ID: "envoy-ha",
      NODE_CLUSTER: "inferencehub-test",
      ADMIN_PORT: 0,
      XDS_HOST: "127.0.0.1",
      XDS_PORT: replicas[0]!.adsPort,
      ADS_API_TYPE: "GRPC",
    });
    envoy = await startEnvoy({
      name: "envoy-ha",
      bootstrap: withXdsReplicas(
        bootstrap,
        replicas.map((r) => ({ host: "127.0.0.1", port: r.adsPort })),
      ),
    });
    client = createInferClient(`127.0.0.1:${listenPort}`);
  });

  after(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    client?.close();
    await envoy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await node?.stop();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const live = () => replicas.filter((r) => r.process.exitCode === null && r.process.signalCode === null);
  const holding = (s: XdsStatus) =>
    s.clients.some(
      (c) => c.nodeId === "envoy-ha" && c.syncedVersion !== "" && c.syncedVersion === s.snapshots.envoy,
    );
  /** The replica Envoy's ADS stream is on now, waiting until one holds it in sync. */
  const connectedReplica = async (): Promise<XdsProcess> => {
    let found: XdsProcess | undefined;
    await eventually(
      async () => {
        for (const r of live()) if (holding(await r.status())) found = r;
        return found !== undefined;
      },
      "a live replica to have envoy-ha in sync",
      20_000,
    );
    return found!;
  };
  /**
   * Every live replica serves `version` and, once each has probed the node, the same snapshots
   * (health is each replica's own: a replica just started has its endpoints UNKNOWN until then).
   */
  const allAt = async (version: string) => {
    let statuses: XdsStatus[] = [];
    await eventually(
      async () => {
        statuses = await Promise.all(live().map((r) => r.status()));
        return statuses.every(
          (s) =>
            s.configVersion === version &&
            JSON.stringify(s.snapshots) === JSON.stringify(statuses[0]!.snapshots),
        );
      },
      `every replica at config version ${version} with the same snapshots`,
      20_000,
    );
    return statuses[0]!;
  };
  const admin = async (r: XdsProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${r.adminPort}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const setWeights = (r: XdsProcess, base: string, weights: Record<string, number>) =>
    admin(r, "PUT", "/v1/models/scale/weights", { base_version: base, weights });
  const versionsServed = async () => {
    const stats = await callMany(client, { total: 60, concurrency: 6, ...scaleCall });
    assert.deepEqual(stats.failures, []);
    return [...stats.byVersion().keys()].sort();
  };

  test("both replicas serve the seed at one version, with the same snapshot versions", async () => {
    const s = await replicas[0]!.status();
    assert.equal(s.configStore.kind, "etcd");
    assert.match(s.configVersion, /^[0-9]+$/);
    await allAt(s.configVersion);
    await connectedReplica();
    assert.deepEqual(await versionsServed(), ["1"]);
  });

  test("the replica Envoy streams from is killed: no call fails, Envoy resyncs to the other, an edit made meanwhile reaches it", async () => {
    const load = startLoad(client, { concurrency: 4, ...scaleCall });
    loads.push(load);
    await load.more(50);
    const victim = await connectedReplica();
    const survivor = live().find((r) => r !== victim)!;
    victim.process.kill("SIGKILL");
    await new Promise((r) => victim.process.once("exit", r));
    const base = (await survivor.status()).configVersion;
    const edit = await setWeights(survivor, base, { "1": 0, "2": 100 });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    const version = edit.body.configVersion as string;
    const s = await survivor.waitFor(
      (st) => st.configVersion === version && holding(st),
      "envoy-ha in sync on the survivor with the edit",
    );
    // What Envoy held (its version_info per kind, content hashes equal on both replicas) was not
    // sent again: only the edited route configuration went out.
    const metrics = await survivor.metrics();
    for (const kind of ["cluster", "listener", "endpoint"])
      assert.equal(
        metricValue(metrics, "inferencehub_xds_pushes_total", { kind, transport: "sotw" }),
        0,
        `the survivor pushed ${kind}s to a reconnected Envoy that held them`,
      );
    assert.ok(
      metricValue(metrics, "inferencehub_xds_pushes_total", { kind: "route", transport: "sotw" }) > 0,
    );
    // Envoy's own record: the clusters it holds are the survivor's snapshot's.
    const dump = JSON.stringify(await envoy.configDump({ resource: "dynamic_active_clusters" }));
    assert.ok(dump.includes("scale"), "Envoy still holds the model's clusters");
    assert.ok(
      s.clients.some((c) => c.nodeId === "envoy-ha"),
      "the survivor lists Envoy as its client",
    );
    await load.more(50);
    const stats = await load.stop();
    assert.deepEqual(stats.failures, [], "no call failed while the replica died");
    assert.deepEqual(await versionsServed(), ["2"]);
    // Restarted with no seed, it reads the config from etcd: the same version and snapshots.
    replicas.splice(replicas.indexOf(victim), 1, await startReplica());
    await allAt(version);
  });

  test("the etcd leader killed: an edit still commits and reaches both replicas", async () => {
    const leader = await etcdLeader(etcd);
    await leader.kill();
    const r = live()[0]!;
    const edit = await setWeights(r, (await r.status()).configVersion, { "1": 100, "2": 0 });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    await allAt(edit.body.configVersion as string);
    assert.deepEqual(await versionsServed(), ["1"]);
    await leader.restart();
  });

  test("two edits of one model from one base, one per replica: one wins, the other is ABORTED with the current version", async () => {
    const [a, b] = live();
    const base = (await a!.status()).configVersion;
    const results = await Promise.all([
      setWeights(a!, base, { "1": 30, "2": 70 }),
      setWeights(b!, base, { "1": 60, "2": 40 }),
    ]);
    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(lost.length, 1, JSON.stringify(results));
    assert.equal(lost[0]!.status, 409, JSON.stringify(lost[0]));
    const now = won[0]!.body.configVersion as string;
    assert.match(String(lost[0]!.body.error), new RegExp(`conflict: .*now at ${now}`));
    await allAt(now);
  });

  test("an entry written by hand that is not valid is refused naming the key; the last config serves", async () => {
    const r = live()[0]!;
    const before = await r.status();
    const etcd3 = etcdClient(etcd.endpoints);
    const key = etcdLayout(prefix).entryKey("models", "scale");
    try {
      const good = await etcd3.get(key).string();
      assert.ok(good);
      await etcd3.put(key).value(JSON.stringify({ ...JSON.parse(good), versions: [] }));
      const refused = await r.waitFor((s) => s.refusedEdit.length > 0, "the entry to be refused");
      assert.ok(
        refused.refusedEdit.some((e) => e.path === `${key}.versions`),
        JSON.stringify(refused.refusedEdit),
      );
      assert.equal(refused.snapshots.envoy, before.snapshots.envoy, "nothing was published");
      await etcd3.put(key).value(good);
      await r.waitFor((s) => s.refusedEdit.length === 0, "the entry to be accepted again");
    } finally {
      etcd3.close();
    }
  });

  test("etcd down: calls go on, edits are refused with UNAVAILABLE; etcd back: edits apply", async () => {
    const r = live()[0]!;
    const base = (await r.status()).configVersion;
    await Promise.all(etcd.members.map((m) => m.kill()));
    assert.equal((await versionsServed()).length > 0, true);
    const refused = await setWeights(r, base, { "1": 0, "2": 100 });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(String(refused.body.error), /etcd .*did not answer.*last config keeps serving/);
    await Promise.all(etcd.members.map((m) => m.restart()));
    let applied: Awaited<ReturnType<typeof setWeights>> | undefined;
    await eventually(
      async () => {
        applied = await setWeights(r, (await r.status()).configVersion, { "1": 0, "2": 100 });
        return applied.status === 200;
      },
      "an edit to apply once etcd is back",
      30_000,
    );
    await allAt(applied!.body.configVersion as string);
    assert.deepEqual(await versionsServed(), ["2"]);
  });

  test("hubctl export gives the admin edits; apply -f of an edited export reaches both replicas; an invalid file is refused", async () => {
    const hubctl = hubctlOnEtcd({ endpoints: etcd.endpoints, prefix });
    const exported = join(dir, "exported.yaml");
    await hubctl("export", "-o", exported);
    const text = await readFile(exported, "utf8");
    const parsed = parseConfig(text, exported);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const scale = parsed.value.models.find((m) => m.name === "scale")!;
    assert.deepEqual(
      scale.versions.map((v) => [v.version, v.weight]),
      [
        ["1", 0],
        ["2", 100],
      ],
      "the export holds the last admin edit",
    );

    const raw = parseYaml(text) as { models: { name: string; versions: { weight: number }[] }[] };
    raw.models[0]!.versions[0]!.weight = 100;
    raw.models[0]!.versions[1]!.weight = 0;
    const edited = join(dir, "edited.yaml");
    await writeFile(edited, stringify(raw));
    const { stdout } = await hubctl("apply", "-f", edited);
    const version = /config version ([0-9]+)/.exec(stdout)?.[1];
    assert.ok(version, stdout);
    await allAt(version);
    assert.deepEqual(await versionsServed(), ["1"]);

    raw.models[0]!.versions[0]!.weight = 70;
    await writeFile(edited, stringify(raw));
    const refused = await hubctl("apply", "-f", edited).then(
      () => assert.fail("an invalid file was applied"),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /models\[0\]\.versions.*nothing was written|nothing was written[\s\S]*models\[0\]\.versions/,
    );
    assert.equal((await live()[0]!.status()).configVersion, version, "nothing was written");
  });
});
