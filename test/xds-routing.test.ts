/**
 * The control plane steering a real Envoy in front of real nodes: weighted versions, the pin
 * header, live edits under load, shadow traffic, and NOT_FOUND for an unknown model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import { assertClose, eventually } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany, startLoad } from "./lib/load.js";

const WORKER_UPDATE_GRACE_MS = 200;
const scaleCall = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};

function config(
  nodes: NodeEntry[],
  listenPort: number,
  scale: { weights: [number, number]; shadow?: boolean },
) {
  const all = nodes.map((n) => n.name);
  return gatewayConfig(nodes, listenPort, [
    {
      ...scaleModel([...scale.weights, 0], all),
      ...(scale.shadow ? { shadow: { version: "3", percent: 100 } } : {}),
    },
    { name: "mlp", versions: [{ version: "1", nodes: all }] },
  ]);
}

/** Binomial bounds at 4.5 standard deviations: a correct split fails about once in 150,000 runs. */
function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 4.5 * sd, n * p + 4.5 * sd];
}

for (const transport of ["sotw", "delta"] as const) {
  describe(`routing through Envoy steered over ${transport} ADS`, () => {
    let gw: GatewayFixture;
    let listenPort = 0;

    before(async () => {
      gw = await startGateway({
        transport,
        nodes: [{ name: "node-a" }, { name: "node-b" }],
        config: (nodes, port) => ((listenPort = port), config(nodes, port, { weights: [90, 10] })),
      });
    });
    after(() => gw?.stop());

    const apply = (weights: [number, number], shadow = false) =>
      gw.applyConfig(config(gw.nodeEntries(), listenPort, { weights, shadow }));

    if (transport === "sotw") {
      test("a 90/10 split over 2,000 calls is within binomial bounds of 10%", async () => {
        const client = gw.client();
        const stats = await callMany(client, { total: 2000, concurrency: 16, ...scaleCall });
        assert.deepEqual(stats.failures, []);
        const v2 = stats.byVersion().get("2") ?? 0;
        const [lo, hi] = binomialBounds(2000, 0.1);
        assert.ok(
          v2 >= lo && v2 <= hi,
          `version 2 got ${v2} of 2000 calls, expected ${lo.toFixed(0)}..${hi.toFixed(0)}`,
        );
        assert.equal(stats.byVersion().get("3"), undefined, "weight 0 gets nothing");
      });

      test("the pin header sends every call to the pinned version", async () => {
        const client = gw.client();
        for (const version of ["1", "2", "3"]) {
          const stats = await callMany(client, {
            total: 100,
            concurrency: 8,
            request: scaleCall.request,
            metadata: { ...scaleCall.metadata, "inferencehub-model-version": version },
          });
          assert.deepEqual([...stats.byVersion()], [[version, 100]]);
        }
      });

      test("a model that is not served gets NOT_FOUND naming it", async () => {
        const client = gw.client();
        await assert.rejects(
          client.infer(fp32Request("resnet", SCALE_SAMPLE_INPUT), {
            metadata: { "inferencehub-model": "resnet" },
          }),
          (err: ServiceError) => {
            assert.equal(err.code, status.NOT_FOUND);
            assert.match(err.details, /'resnet'/);
            return true;
          },
        );
      });

      test("shadow traffic reaches the shadow version; the client only sees the primary's answer", async () => {
        await apply([100, 0], true);
        const shadowCalls = async () => {
          let n = 0;
          for (const node of gw.nodes.values())
            n += metricValue(await node.metrics(), "inferencehub_node_requests_total", {
              model: "scale",
              version: "3",
            });
          return n;
        };
        const before = await shadowCalls();
        const client = gw.client();
        for (let i = 0; i < 50; i++) {
          const { response } = await client.infer(scaleCall.request, { metadata: scaleCall.metadata });
          assert.equal(response.modelVersion, "1");
          assertClose(fp32Output(response), scaleReference("1", SCALE_SAMPLE_INPUT));
        }
        // Mirrored calls are fire-and-forget: wait for them to land, not for a fixed time.
        const deadline = Date.now() + 5000;
        while ((await shadowCalls()) - before < 50 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal((await shadowCalls()) - before, 50, "every call was mirrored to version 3");
        await apply([90, 10]);
      });
    }

    test("editing 100/0 to 0/100 under continuous load moves the traffic with zero failed calls", async () => {
      await apply([100, 0]);
      const client = gw.client();
      const load = startLoad(client, { concurrency: 8, ...scaleCall });
      await load.more(200);
      await apply([0, 100]);
      const switched = Date.now();
      await load.more(600);
      // Calls after this may already see the edit below: version 2's window ends here.
      const switchingBack = Date.now();
      await apply([100, 0]);
      const switchedBack = Date.now();
      await load.more(200);
      const stats = await load.stop();
      assert.deepEqual(stats.failures, [], "no call failed during the edits");
      const sentBetween = (from: number, to: number) =>
        stats.calls.filter((c) => c.startedAt > from && c.at < to);
      // Envoy ACKs once its main thread has the new routes; workers get them a moment later
      // (thread-local update), so calls sent within that moment may still take the old route.
      const onV2 = sentBetween(switched + WORKER_UPDATE_GRACE_MS, switchingBack);
      assert.ok(onV2.length > 100, `${onV2.length} calls were sent and answered between the two edits`);
      const stray = onV2.filter((c) => c.version !== "2");
      assert.deepEqual(stray, [], "once Envoy ACKed 0/100, every call went to version 2");
      const back = sentBetween(switchedBack + WORKER_UPDATE_GRACE_MS, Infinity).filter(
        (c) => c.version !== "1",
      );
      assert.deepEqual(back, [], "once Envoy ACKed 100/0, every call went to version 1");
    });

    test("replacing a version by a new one (a cluster added, the old one removed) under load fails no call", async () => {
      const entries = () => gw.nodeEntries();
      const only = (version: string) =>
        gatewayConfig(entries(), listenPort, [
          { name: "scale", versions: [{ version, nodes: entries().map((n) => n.name) }] },
        ]);
      const write = (config: object) => gw.applyConfig(config);
      await write(only("1"));
      const load = startLoad(gw.client(), { concurrency: 8, ...scaleCall });
      await load.more(100);
      await write(only("2"));
      const moved = Date.now();
      await load.more(200);
      await write(only("3"));
      await load.more(200);
      const stats = await load.stop();
      assert.deepEqual(stats.failures, [], "make before break: no call saw a missing cluster");
      assert.ok(
        stats.calls.filter((c) => c.startedAt > moved).some((c) => c.version === "2"),
        `versions seen: ${JSON.stringify([...stats.byVersion()])}`,
      );
      assert.deepEqual([...stats.byVersion().keys()].sort(), ["1", "2", "3"]);
      await apply([90, 10]);
    });

    test("a model removed by an edit is NOT_FOUND and its clusters leave Envoy; added back, it is served", async () => {
      const [envoy] = gw.envoys;
      assert.ok(envoy);
      const activeClusters = async () =>
        JSON.stringify(await envoy.configDump({ resource: "dynamic_active_clusters" }));
      const mlpCall = () =>
        gw.client().infer(fp32Request("mlp", [[1, 2, 3, 4]]), { metadata: { "inferencehub-model": "mlp" } });
      const withoutMlp = config(gw.nodeEntries(), listenPort, { weights: [90, 10] });
      withoutMlp.models = withoutMlp.models.filter((m) => m.name !== "mlp");
      await gw.applyConfig(withoutMlp);
      await assert.rejects(mlpCall(), (err: ServiceError) => {
        assert.equal(err.code, status.NOT_FOUND);
        assert.match(err.details, /model 'mlp' is not served/);
        return true;
      });
      // Envoy drops the route configuration with its scope; only then are the clusters removed.
      await eventually(async () => !(await activeClusters()).includes('"mlp~1"'), "mlp~1 leaves Envoy");
      await gw.client().infer(scaleCall.request, { metadata: scaleCall.metadata });

      await apply([90, 10]);
      const answer = await mlpCall();
      assert.equal(answer.response.modelName, "mlp");
      assert.ok((await activeClusters()).includes('"mlp~1"'));
    });
  });
}
