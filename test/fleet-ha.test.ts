/**
 * Placement with two control planes on one etcd (#18): one leader drives the nodes, the other
 * routes by what the leader shares, so an Envoy on either reaches the placed version; the leader
 * killed (-9), the other takes over without reloading anything and places what comes next.
 *
 * Skips, saying why, when etcd is missing, unless INFERENCEHUB_REQUIRE_ETCD=1.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { etcdUnavailableReason, startEtcdCluster, type EtcdCluster } from "../scripts/lib/etcd-process.js";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { createInferClient, type InferClient } from "../scripts/lib/infer-client.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { fleetOperations, readyOn, TEST_FLEET } from "./lib/fleet.js";
import { hubctlOnAdmin } from "./lib/hubctl.js";

const unavailable = etcdUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";
const TOKEN = "fleet-ha-repository-token";
const ADMIN_TOKEN = "fleet-ha-admin-token";

describe(
  "placement with two control planes on etcd",
  { skip: required ? false : (unavailable ?? false) },
  () => {
    let dir: string;
    let etcd: EtcdCluster;
    const nodes: NodeProcess[] = [];
    const replicas: XdsProcess[] = [];
    let envoy: EnvoyProcess;
    let client: InferClient;
    const prefix = `/inferencehub-fleet-ha-${process.pid}/`;
    const pinned = (version: string) => ({
      metadata: { "inferencehub-model": "scale", "inferencehub-model-version": version },
    });
    const request = fp32Request("scale", SCALE_SAMPLE_INPUT);

    const startReplica = (seed: string) =>
      startXdsServer({
        configPath: seed,
        etcd: { endpoints: etcd.endpoints, prefix },
        env: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN, INFERENCEHUB_ADMIN_TOKEN: ADMIN_TOKEN },
      });

    before(async () => {
      if (unavailable) assert.fail(`INFERENCEHUB_REQUIRE_ETCD=1, but ${unavailable}`);
      dir = await mkdtemp(join(tmpdir(), "inferencehub-fleet-ha-"));
      const listenPort = await freePort();
      [etcd] = await Promise.all([
        startEtcdCluster({ size: 1, name: "fleet-ha" }),
        ...["node-a", "node-b"].map(async (name) =>
          nodes.push(
            await startNode({
              name,
              models: ["scale"].filter(() => name === "node-a"),
              repositoryToken: TOKEN,
            }),
          ),
        ),
      ]);
      nodes.sort((a, b) => a.name.localeCompare(b.name));
      const seed = join(dir, "inferencehub.yaml");
      await writeFile(
        seed,
        stringify({
          listener: { address: "127.0.0.1", port: listenPort },
          fleet: TEST_FLEET,
          nodes: nodes.map((n) => ({
            name: n.name,
            address: n.address,
            pool: n.name === "node-a" ? "static" : "fleet",
          })),
          models: [
            {
              name: "scale",
              versions: [
                { version: "1", weight: 100, nodes: ["node-a"] },
                { version: "2", weight: 0, placement: { pool: "fleet", replicas: 1 } },
              ],
            },
          ],
        }),
      );
      replicas.push(await startReplica(seed), await startReplica(seed));
      envoy = await startEnvoy({
        name: "envoy-fleet-ha",
        bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
          NODE_ID: "envoy-fleet-ha",
          NODE_CLUSTER: "inferencehub-test",
          ADMIN_PORT: 0,
          XDS_HOST: "127.0.0.1",
          XDS_PORT: replicas[1]!.adsPort,
          ADS_API_TYPE: "GRPC",
        }),
      });
      client = createInferClient(`127.0.0.1:${listenPort}`);
    });

    after(async () => {
      client?.close();
      await envoy?.stop();
      await Promise.all(replicas.map((r) => r.stop()));
      await Promise.all(nodes.map((n) => n.stop()));
      await etcd?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("one leader loads; both replicas route to where it is ready", async () => {
      const statuses = await Promise.all(
        replicas.map((r) =>
          r.waitFor((s) => readyOn(s.fleet, "scale", "2").length === 1, "scale/2 ready", 30_000),
        ),
      );
      assert.deepEqual(
        statuses.map((s) => readyOn(s.fleet, "scale", "2")),
        [["node-b"], ["node-b"]],
      );
      assert.deepEqual(statuses.map((s) => s.fleet?.role).sort(), ["follower", "leader"]);
      const loads = await Promise.all(replicas.map((r) => fleetOperations(r, { operation: "load" })));
      assert.deepEqual(loads.map((n) => n > 0).sort(), [false, true], "only the leader loads");
      // The Envoy streams from replicas[1], leader or not: the placed version answers.
      const answer = await client.infer(request, pinned("2"));
      assert.equal(answer.headers["x-inferencehub-node"], "node-b");
    });

    test("the leader killed, the other takes over without reloading and places what comes next", async () => {
      const statuses = await Promise.all(replicas.map((r) => r.status()));
      const leaderAt = statuses.findIndex((s) => s.fleet?.role === "leader");
      const survivor = replicas[1 - leaderAt]!;
      await replicas[leaderAt]!.stop("SIGKILL");
      await survivor.waitFor((s) => s.fleet?.role === "leader", "the survivor to lead", 20_000);
      assert.deepEqual(readyOn((await survivor.status()).fleet, "scale", "2"), ["node-b"]);
      assert.equal(
        await fleetOperations(survivor, { operation: "load" }),
        0,
        "what was loaded is adopted, not loaded again",
      );
      const hubctl = hubctlOnAdmin(survivor.adminPort, ADMIN_TOKEN);
      await hubctl("add-version", "scale", "3", "--replicas", "1", "--pool", "fleet");
      await survivor.waitFor((s) => readyOn(s.fleet, "scale", "3").length === 1, "scale/3 ready", 30_000);
      if (leaderAt === 0) {
        // The Envoy's replica survived: calls to both placed versions answer through it.
        for (const v of ["2", "3"])
          assert.equal((await client.infer(request, pinned(v))).response.modelVersion, v);
      }
    });
  },
);
