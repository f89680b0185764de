/**
 * The whole lifecycle of a model version through the control plane, under continuous load with
 * no failed call (#18): one hubctl command adds version 2 placed on the fleet (the control plane
 * loads it), the control plane rolls traffic over step by step with the CLI gone, removes
 * version 1 from the config at 100%, and the reconciler drains and unloads it from the nodes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createRepositoryClient } from "../xds-server/src/fleet/index.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { readyOn, TEST_FLEET } from "./lib/fleet.js";
import { hubctlOnAdmin } from "./lib/hubctl.js";
import { startLoad, type RunningLoad } from "./lib/load.js";

const TOKEN = "fleet-rollout-repository-token";
const ADMIN_TOKEN = "fleet-rollout-admin-token";

function config(nodes: NodeEntry[], port: number) {
  return {
    listener: { address: "127.0.0.1", port },
    fleet: TEST_FLEET,
    nodes,
    models: [{ name: "scale", versions: [{ version: "1", weight: 100, placement: { replicas: 2 } }] }],
  };
}

describe("load, roll out, unload the old version: one command, no failed call", () => {
  let gw: GatewayFixture;
  let load: RunningLoad | undefined;
  const repo = createRepositoryClient();

  before(async () => {
    gw = await startGateway({
      nodes: ["node-a", "node-b"].map((name) => ({
        name,
        models: [],
        repositoryToken: TOKEN,
        // Loads take a while, as real models do: calls must not reach a version still loading.
        args: ["--load-delay-ms", "500"],
      })),
      config,
      envoyAdminMetadata: true,
      xdsEnv: { INFERENCEHUB_REPOSITORY_TOKEN: TOKEN, INFERENCEHUB_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    await gw.xds.waitFor(
      (s) => readyOn(s.fleet, "scale", "1").length === 2,
      "scale/1 ready on both nodes",
      30_000,
    );
    await gw.xds.waitForSync(gw.envoys[0]!.name);
  });
  after(async () => {
    await load?.stop();
    repo.close();
    await gw?.stop();
  });

  test("version 2 goes from nowhere to 100%, and version 1 leaves the nodes", async () => {
    load = startLoad(gw.client(), {
      concurrency: 4,
      request: fp32Request("scale", SCALE_SAMPLE_INPUT),
      metadata: { "inferencehub-model": "scale" },
    });
    await load.more(50);
    const hubctl = hubctlOnAdmin(gw.xds.adminPort, ADMIN_TOKEN);
    await hubctl(
      "rollout",
      "start",
      "scale",
      "--to",
      "2",
      "--replicas",
      "2",
      "--steps",
      "50,100",
      "--interval",
      "1s",
      "--min-calls",
      "20",
      "--remove-old",
    );
    // The CLI has exited: the control plane loads, waits, shifts, removes.
    const done = await gw.xds.waitFor(
      (s) =>
        (s.rollouts ?? []).some(
          (r) => r.model === "scale" && !["waiting-ready", "running", "holding"].includes(r.state),
        ),
      "the rollout to end",
      60_000,
    );
    const rollout = done.rollouts!.find((r) => r.model === "scale")!;
    assert.equal(rollout.state, "completed", JSON.stringify(rollout));
    // Version 1 was removed from the config, then drained and unloaded from both nodes.
    await gw.xds.waitFor(
      (s) =>
        s.fleet?.versions.every((v) => v.version !== "1") === true &&
        readyOn(s.fleet, "scale", "2").length === 2,
      "only scale/2 placed",
    );
    for (const name of ["node-a", "node-b"]) {
      const target = { name, address: gw.nodes.get(name)!.address, token: TOKEN };
      for (;;) {
        const index = await repo.index(target, { readyOnly: true });
        const held = index.versions.filter((v) => v.model === "scale").map((v) => v.version);
        if (held.join() === "2") break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await load.more(100);
    const stats = await load.stop();
    load = undefined;
    assert.equal(stats.failures.length, 0, `failed calls: ${JSON.stringify(stats.failures.slice(0, 3))}`);
    assert.ok(stats.calls.some((c) => c.version === "1") && stats.calls.some((c) => c.version === "2"));
    assert.equal(stats.calls.at(-1)!.version, "2");
  });
});
