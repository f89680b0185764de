/**
 * A stock server behind the gateway (issue #11): Seldon's MLServer 1.7.1, serving the `scale`
 * model as a custom Python runtime (test/mlserver/), beside the project's reference nodes, with a
 * real Envoy steered by the control plane.
 *
 * - an unversioned MLServer model (no parameters.version) as config version "1" with
 *   `serverVersion: ""`: probed HEALTHY (MLServer answers UNIMPLEMENTED to grpc.health.v1, which
 *   counts no failure), and answered right through the gateway;
 * - a 50/50 split of `scale` across v1 on a reference node and v2 on MLServer: every answer's
 *   output is the reference output of the version the answer says, and the split is within
 *   binomial bounds;
 * - kill -9 of MLServer and of a reference node at once: both UNHEALTHY within the same bound.
 *
 * Skips, saying why, when MLServer is not installed (scripts/setup.sh installs it).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { ModelInferRequest } from "../gen/inference/inference/grpc_service.js";
import type { InferClient } from "../scripts/lib/infer-client.js";
import {
  mlserverUnavailableReason,
  startMlserver,
  type MlserverProcess,
} from "../scripts/lib/mlserver-process.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import { SCALE_PARAMS, SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import type { XdsStatus } from "../scripts/lib/xds-process.js";
import { assertClose } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const MLS = "mlserver-1";
/** Serves `scale` v1 (weighted against MLServer's v2). */
const REF = "node-a";
/** A reference node killed beside MLServer, to compare detection times. */
const REF_KILLED = "node-b";
const UNVERSIONED = "scale-unversioned";

const health = { interval: "1s", timeout: "250ms", healthyThreshold: 1, unhealthyThreshold: 2, jitter: 0.1 };
/**
 * Kill to UNHEALTHY, at most: the next round (interval × (1 + jitter)), the confirming round
 * (100 ms later) and both their timeouts, the 200 ms coalescing window, and 1 s for a loaded
 * 2-core machine and the status polls.
 */
const DETECTION_BOUND_MS = 1_000 * 1.1 + 100 + 2 * 250 + 200 + 1_000;

function config(nodes: NodeEntry[], listenPort: number) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    defaults: { health },
    models: [
      {
        name: UNVERSIONED,
        versions: [{ version: "1", nodes: [MLS], serverVersion: "" }],
      },
      {
        name: "scale",
        versions: [
          { version: "1", weight: 50, nodes: [REF] },
          // MLServer calls it "2" too (parameters.version); written out to show the field.
          { version: "2", weight: 50, nodes: [MLS], serverVersion: "2" },
          { version: "3", weight: 0, nodes: [REF_KILLED] },
        ],
      },
    ],
  };
}

/** Binomial bounds at 4.5 standard deviations, as in xds-routing.test.ts. */
function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 4.5 * sd, n * p + 4.5 * sd];
}

type ProbeSnapshot = Record<string, { lastProbeAt: string | null; lastError: string | null }>;
const probesOf = (s: XdsStatus) => (s as XdsStatus & { probes?: ProbeSnapshot }).probes ?? {};

interface Answer {
  /** x-inferencehub-model-version from a reference node, else the body's model_version. */
  version: string;
  /** x-inferencehub-node from a reference node; MLServer sends no such header. */
  node: string | undefined;
  output: number[][];
}

async function call(
  client: InferClient,
  model: string,
  opts: { raw?: boolean; bodyVersion?: string; pin?: string } = {},
): Promise<Answer> {
  const request: ModelInferRequest = fp32Request(model, SCALE_SAMPLE_INPUT, {
    ...(opts.raw ? { raw: true } : {}),
    ...(opts.bodyVersion !== undefined ? { version: opts.bodyVersion } : {}),
  });
  const { response, headers } = await client.infer(request, {
    metadata: {
      "inferencehub-model": model,
      ...(opts.pin ? { "inferencehub-model-version": opts.pin } : {}),
    },
    deadlineMs: 10_000,
  });
  assert.equal(response.modelName, model);
  return {
    version: headers["x-inferencehub-model-version"] ?? response.modelVersion,
    node: headers["x-inferencehub-node"],
    output: fp32Output(response),
  };
}

const skip = mlserverUnavailableReason();

describe("MLServer (stock) behind the gateway", { skip: skip ?? false }, () => {
  let mls: MlserverProcess | undefined;
  let gw: GatewayFixture;

  before(async () => {
    // test/mlserver/*/model-settings.json carry k and b of the reference versions they stand for.
    for (const [folder, version] of [
      ["scale", "2"],
      [UNVERSIONED, "1"],
    ] as const) {
      const settings = JSON.parse(
        await readFile(new URL(`./mlserver/${folder}/model-settings.json`, import.meta.url), "utf8"),
      ) as { parameters: { extra: unknown } };
      assert.deepEqual(settings.parameters.extra, SCALE_PARAMS[version], `${folder}: k and b of v${version}`);
    }
    mls = await startMlserver({ name: MLS });
    const mlsEntry = mls.entry();
    gw = await startGateway({
      nodes: [
        { name: REF, models: ["scale"] },
        { name: REF_KILLED, models: ["scale"] },
      ],
      config: (nodes, port) => config([...nodes, mlsEntry], port),
    });
  });
  after(async () => {
    await gw?.stop();
    await mls?.stop();
  });

  test("MLServer is probed HEALTHY by ServerReady and ModelReady; no failure counted or logged round after round", async () => {
    await gw.xds.waitFor(
      (s) =>
        s.health?.[MLS]?.[`${UNVERSIONED}/1`] === "HEALTHY" &&
        s.health?.[MLS]?.["scale/2"] === "HEALTHY" &&
        s.health?.[REF]?.["scale/1"] === "HEALTHY" &&
        s.health?.[REF_KILLED]?.["scale/3"] === "HEALTHY",
      "every node HEALTHY",
    );
    // Three more rounds on MLServer, each answering UNIMPLEMENTED to Health/Check.
    const seen = new Set<string>();
    await gw.xds.waitFor((s) => {
      const at = probesOf(s)[MLS]?.lastProbeAt;
      if (at) seen.add(at);
      return seen.size >= 4;
    }, "three more probe rounds on MLServer");
    const s = await gw.xds.status();
    assert.equal(probesOf(s)[MLS]?.lastError, null);
    const metrics = await gw.xds.metrics();
    assert.equal(
      metricValue(metrics, "inferencehub_health_probe_failures_total", { node: MLS }),
      0,
      metrics
        .split("\n")
        .filter((l) => l.startsWith("inferencehub_health_probe_failures_total"))
        .join("\n"),
    );
    const noisy = gw.xds.logs.filter((l) => l.includes(MLS) && /"level":(40|50)/.test(l));
    assert.deepEqual(noisy, [], "no warning or error about MLServer");
    await gw.xds.waitForSync("envoy-1");
  });

  test('the unversioned MLServer model (serverVersion "") answers through the gateway, typed and raw', async () => {
    const client = gw.client();
    for (const raw of [false, true]) {
      const a = await call(client, UNVERSIONED, { raw });
      assert.equal(a.node, undefined, "MLServer answered, not a reference node");
      assert.equal(a.version, "", "MLServer names no version for an unversioned model");
      assertClose(a.output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
    }
    // Pinned by header: Envoy routes to version 1; MLServer ignores the header, the body is unpinned.
    const pinned = await call(client, UNVERSIONED, { pin: "1" });
    assertClose(pinned.output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
  });

  test("scale split 50/50 across v1 on a reference node and v2 on MLServer: every answer is right, the split within bounds", async () => {
    const client = gw.client();
    const total = 200;
    const answers: Answer[] = [];
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          next++;
          try {
            answers.push(await call(client, "scale"));
          } catch (err) {
            failures.push(`${(err as ServiceError).code} ${(err as ServiceError).details}`);
          }
        }
      }),
    );
    assert.deepEqual(failures, []);
    const count = new Map<string, number>();
    for (const a of answers) {
      count.set(a.version, (count.get(a.version) ?? 0) + 1);
      // v1 comes from the reference node (which says so), v2 from MLServer (which sends no header).
      assert.equal(a.node, a.version === "1" ? REF : undefined, `version ${a.version} answered by ${a.node}`);
      assertClose(a.output, scaleReference(a.version, SCALE_SAMPLE_INPUT), 0);
    }
    assert.deepEqual([...count.keys()].sort(), ["1", "2"], `versions seen: ${[...count.keys()].join(",")}`);
    const v2 = count.get("2") ?? 0;
    const [lo, hi] = binomialBounds(total, 0.5);
    assert.ok(
      v2 >= lo && v2 <= hi,
      `MLServer's v2 got ${v2} of ${total}, expected ${lo.toFixed(0)}..${hi.toFixed(0)}`,
    );

    // Pinned calls: a header pin reaches MLServer with an unpinned body (it serves one version),
    // and a body that names MLServer's version is fine too.
    for (const opts of [{ pin: "2" }, { pin: "2", bodyVersion: "2" }]) {
      const a = await call(client, "scale", opts);
      assert.equal(a.node, undefined);
      assert.equal(a.version, "2");
      assertClose(a.output, scaleReference("2", SCALE_SAMPLE_INPUT), 0);
    }
    const v1 = await call(client, "scale", { pin: "1" });
    assert.equal(v1.node, REF);
    assertClose(v1.output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
  });

  test("kill -9: MLServer is UNHEALTHY as fast as a reference node killed at the same moment", async (t) => {
    const before = await gw.xds.metrics();
    assert.equal(metricValue(before, "inferencehub_health_probe_failures_total", { node: MLS }), 0);
    const killedAt = Date.now();
    await Promise.all([mls!.stop("SIGKILL"), gw.nodes.get(REF_KILLED)!.stop("SIGKILL")]);
    const outAt: Record<string, number> = {};
    await gw.xds.waitFor((s) => {
      const now = Date.now();
      if (s.health?.[MLS]?.["scale/2"] === "UNHEALTHY" && s.health[MLS][`${UNVERSIONED}/1`] === "UNHEALTHY")
        outAt[MLS] ??= now;
      if (s.health?.[REF_KILLED]?.["scale/3"] === "UNHEALTHY") outAt[REF_KILLED] ??= now;
      return outAt[MLS] !== undefined && outAt[REF_KILLED] !== undefined;
    }, "both killed nodes UNHEALTHY");
    const mlsMs = outAt[MLS]! - killedAt;
    const refMs = outAt[REF_KILLED]! - killedAt;
    const times = `MLServer out in ${mlsMs} ms, the reference node in ${refMs} ms (bound ${DETECTION_BOUND_MS} ms)`;
    t.diagnostic(times);
    assert.ok(mlsMs <= DETECTION_BOUND_MS, times);
    assert.ok(refMs <= DETECTION_BOUND_MS, times);
    // Both counted the same kind of failure: the dead port, not the missing health service.
    const metrics = await gw.xds.metrics();
    for (const node of [MLS, REF_KILLED]) {
      assert.ok(
        metricValue(metrics, "inferencehub_health_probe_failures_total", {
          node,
          probe: "health_check",
          reason: "UNAVAILABLE",
        }) >= 2,
        `${node}: health_check UNAVAILABLE counted`,
      );
    }
    assert.equal(
      metricValue(metrics, "inferencehub_health_probe_failures_total", {
        node: MLS,
        reason: "UNIMPLEMENTED",
      }),
      0,
    );
    // The reference v1 still serves; MLServer's v2 has no endpoint left.
    await gw.xds.waitForSync("envoy-1");
    const client = gw.client();
    const v1 = await call(client, "scale", { pin: "1" });
    assert.equal(v1.node, REF);
    await assert.rejects(call(client, "scale", { pin: "2" }), (err: ServiceError) => {
      assert.equal(err.code, status.UNAVAILABLE, `${err.code} ${err.details}`);
      return true;
    });
  });
});

if (skip) console.log(`# skipping MLServer tests: ${skip}`);
