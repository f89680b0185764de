/**
 * hubctl rollout against a running control plane and a real Envoy under load: a version that
 * fails its calls is rolled back by itself; a healthy version reaches 100%.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { startLoad, type RunningLoad } from "./lib/load.js";

const run = promisify(execFile);
const TOKEN = "rollout-admin-token";

function config(nodes: NodeEntry[], port: number) {
  const all = nodes.map((n) => n.name);
  return {
    listener: { address: "127.0.0.1", port },
    nodes,
    models: [
      {
        name: "scale",
        versions: [
          { version: "1", weight: 100, nodes: all },
          { version: "2", weight: 0, nodes: all },
          // No node has version 9 of scale: every call to it fails with NOT_FOUND.
          { version: "9", weight: 0, nodes: all },
        ],
      },
    ],
  };
}

describe("hubctl rollout", () => {
  let gw: GatewayFixture;
  let load: RunningLoad;

  before(async () => {
    gw = await startGateway({
      nodes: [{ name: "node-a" }],
      config,
      xdsEnv: { INFERENCEHUB_ADMIN_TOKEN: TOKEN },
    });
    load = startLoad(gw.client(), {
      concurrency: 4,
      request: fp32Request("scale", SCALE_SAMPLE_INPUT),
      metadata: { "inferencehub-model": "scale" },
    });
  });
  after(async () => {
    await load?.stop();
    await gw?.stop();
  });

  const rollout = (to: string) =>
    run(
      `${repoRoot}/hubctl/bin/hubctl`,
      [
        "--json",
        "rollout",
        "scale",
        "--to",
        to,
        "--steps",
        "20,50,100",
        "--interval",
        "1s",
        "--min-calls",
        "20",
        "--envoy-admin",
        gw.envoys[0]!.adminUrl,
      ],
      {
        env: {
          ...process.env,
          INFERENCEHUB_ADMIN_TOKEN: TOKEN,
          INFERENCEHUB_SERVER: `http://127.0.0.1:${gw.xds.adminPort}`,
        },
      },
    ).then(
      (r) => ({ code: 0, out: JSON.parse(r.stdout) as { outcome: string; weights: Record<string, number> } }),
      (e: { code: number; stdout: string; stderr: string }) => {
        if (!e.stdout) throw new Error(`hubctl failed (${e.code}): ${e.stderr}`);
        return {
          code: e.code,
          out: JSON.parse(e.stdout) as { outcome: string; weights: Record<string, number> },
        };
      },
    );
  const weights = async () =>
    Object.fromEntries(
      (
        (await (
          await fetch(`http://127.0.0.1:${gw.xds.adminPort}/v1/models/scale`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          })
        ).json()) as {
          model: { versions: { version: string; weight?: number }[] };
        }
      ).model.versions.map((v) => [v.version, v.weight ?? 0]),
    );

  test("a rollout to a version that fails its calls stops and rolls back by itself", async () => {
    const { code, out } = await rollout("9");
    assert.equal(out.outcome, "rolled-back");
    assert.equal(code, 2);
    assert.deepEqual(await weights(), { "1": 100, "2": 0, "9": 0 });
  });

  test("a rollout to a healthy version reaches 100%", async () => {
    const { code, out } = await rollout("2");
    assert.equal(code, 0);
    assert.equal(out.outcome, "completed");
    assert.deepEqual(await weights(), { "1": 0, "2": 100, "9": 0 });
    await gw.xds.waitForSync("envoy-1");
    const mark = Date.now() + 200;
    await load.more(100);
    assert.ok(load.calls.filter((c) => c.startedAt > mark).every((c) => c.ok && c.version === "2"));
  });
});
