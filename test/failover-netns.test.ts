/**
 * A node cut off the network without a reset, as when a host or a link dies: the node runs in a
 * network namespace of the test's own, joined by a veth pair, and the test takes the link down
 * inside the namespace so packets to it are dropped silently (no RST, no ICMP). Needs root and
 * iproute2; where they are missing the test says so and skips.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { MLP_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { startGateway, type GatewayFixture } from "./lib/gateway-fixture.js";
import { startLoad } from "./lib/load.js";

const run = promisify(execFile);
const CONCURRENCY = 9;
const PER_TRY_TIMEOUT_MS = 1000;
const ns = `ihub${process.pid % 100000}`;
const subnet = `10.231.${process.pid % 250}`;
const hostSide = `${ns}h`;
const nsSide = `${ns}n`;
const nsAddress = `${subnet}.2`;

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

async function canUseNetns(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not root: network namespaces need CAP_NET_ADMIN";
  try {
    await run("ip", ["netns", "list"]);
    return undefined;
  } catch (err) {
    return `iproute2 cannot manage namespaces here: ${(err as Error).message}`;
  }
}

describe("a node cut off the network (packets dropped, no reset)", async () => {
  const skip = await canUseNetns();
  let gw: GatewayFixture | undefined;
  let isolated: NodeProcess | undefined;

  before(async () => {
    if (skip) return;
    await ip("netns", "add", ns);
    await ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
    await ip("link", "set", nsSide, "netns", ns);
    await ip("addr", "add", `${subnet}.1/30`, "dev", hostSide);
    await ip("link", "set", hostSide, "up");
    await ip("netns", "exec", ns, "ip", "addr", "add", `${nsAddress}/30`, "dev", nsSide);
    await ip("netns", "exec", ns, "ip", "link", "set", nsSide, "up");
    await ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    isolated = await startNode({
      name: "remote",
      models: ["mlp"],
      netns: { name: ns, host: nsAddress },
      args: ["--infer-delay-ms", "2"],
    });
    gw = await startGateway({
      nodes: [
        { name: "local-1", models: ["mlp"], args: ["--infer-delay-ms", "2"] },
        { name: "local-2", models: ["mlp"], args: ["--infer-delay-ms", "2"] },
      ],
      config: (nodes, port) => ({
        listener: { address: "127.0.0.1", port },
        nodes: [...nodes, { name: "remote", address: isolated!.address }],
        defaults: {
          health: {
            interval: "250ms",
            timeout: "250ms",
            healthyThreshold: 1,
            unhealthyThreshold: 2,
            jitter: 0.1,
          },
          retry: {
            attempts: 2,
            perTryTimeout: `${PER_TRY_TIMEOUT_MS}ms`,
            on: ["connect-failure", "refused-stream", "reset-before-request"],
          },
        },
        models: [{ name: "mlp", versions: [{ version: "1", nodes: ["local-1", "local-2", "remote"] }] }],
      }),
    });
    await gw.xds.waitFor((s) => s.health?.remote?.["mlp/1"] === "HEALTHY", "the remote node healthy");
    await gw.xds.waitForSync("envoy-1");
  });

  after(async () => {
    await gw?.stop();
    await isolated?.stop("SIGKILL");
    if (!skip) await ip("netns", "del", ns).catch(() => undefined);
    await ip("link", "del", hostSide).catch(() => undefined);
  });

  test("traffic leaves it within the per-try timeout plus ejection; failures are bounded", async (t) => {
    if (skip || !gw) return t.skip(`cannot run here: ${skip}`);
    const load = startLoad(gw.client(), {
      concurrency: CONCURRENCY,
      request: fp32Request("mlp", MLP_SAMPLE_INPUT),
      metadata: { "inferencehub-model": "mlp" },
    });
    t.after(() => load.stop());
    await load.more(300);
    assert.ok(
      load.calls.some((c) => c.node === "remote"),
      "the remote node served before the cut",
    );
    const cutAt = Date.now();
    await ip("netns", "exec", ns, "ip", "link", "set", nsSide, "down");
    await gw.xds.waitFor(
      (s) => s.health?.remote?.["mlp/1"] === "UNHEALTHY",
      "the prober to see the node gone",
    );
    await gw.xds.waitForSync("envoy-1");
    const settled = Math.max(Date.now(), cutAt + PER_TRY_TIMEOUT_MS);
    await load.more(400);
    const stats = await load.stop();
    const late = stats.calls.filter((c) => c.startedAt > settled);
    assert.ok(late.length > 200);
    assert.deepEqual(
      late.filter((c) => !c.ok),
      [],
      "after the node is out, no call fails",
    );
    assert.ok(!late.some((c) => c.node === "remote"));
    // Calls stuck on the silent node time out; least-request sends it few once they stop finishing.
    assert.ok(stats.failures.length <= 2 * CONCURRENCY, `${stats.failures.length} failed`);
    assert.ok(stats.failures.every((c) => c.startedAt <= settled));
    t.diagnostic(`failed calls: ${stats.failures.length}; node out after ${settled - cutAt} ms`);
  });
});
