/**
 * A stock server behind the gateway (issue #11): Seldon's MLServer 1.7.1, serving the `scale`
 * model as a custom Python runtime (test/mlserver/), beside the project's reference nodes, with a
 * real Envoy steered by the control plane. MLServer serves `scale` versions 2 and 3 and an
 * unversioned `scale-unversioned` (the reference v1's k and b); its node says `versionFrom: body`.
 *
 * - MLServer is probed HEALTHY by ServerReady and ModelReady(model, serverVersion) (it answers
 *   UNIMPLEMENTED to grpc.health.v1, which counts no failure and logs nothing);
 * - the unversioned model as config version "1" with `serverVersion: ""` answers right, unpinned
 *   and pinned by header or body (the body's "1" is rewritten to none); without the rewrite a
 *   body naming "1" gets NOT_FOUND from MLServer;
 * - a 40/30/30 split of `scale` across v1 on a reference node and v2 and v3 on the one MLServer:
 *   every answer's output is the reference output of the version the answer names, the node fits
 *   the version, and each version's share is within binomial bounds;
 * - the same over REST (#15): MLServer's HTTP port is the node's restPort; the gateway writes the
 *   version as MLServer names it into the path (none for the unversioned model);
 * - kill -9 of MLServer and of a reference node at once: both UNHEALTHY within the same bound,
 *   the split fails over to v1; MLServer restarted on its port: HEALTHY again, the split back.
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
/** Serves `scale` v1 (weighted against MLServer's v2 and v3). */
const REF = "node-a";
/** A reference node (serving `mlp`) killed beside MLServer, to compare detection times. */
const REF_KILLED = "node-b";
const UNVERSIONED = "scale-unversioned";
const WEIGHTS: Record<string, number> = { "1": 40, "2": 30, "3": 30 };

const health = { interval: "1s", timeout: "250ms", healthyThreshold: 1, unhealthyThreshold: 2, jitter: 0.1 };
/**
 * Kill to UNHEALTHY, at most: the next round (interval × (1 + jitter)), the confirming round
 * (100 ms later) and both their timeouts, the 200 ms coalescing window, and 1 s for a loaded
 * 2-core machine and the status polls.
 */
const DETECTION_BOUND_MS = 1_000 * 1.1 + 100 + 2 * 250 + 200 + 1_000;

function config(nodes: NodeEntry[], listenPort: number, opts: { bodyRewrite?: boolean } = {}) {
  const { bodyRewrite = true } = opts;
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    // MLServer runs the version the body names: the gateway writes the chosen one there.
    nodes: nodes.map((n) => (n.name === MLS && bodyRewrite ? { ...n, versionFrom: "body" } : n)),
    defaults: { health },
    models: [
      { name: UNVERSIONED, versions: [{ version: "1", nodes: [MLS], serverVersion: "" }] },
      {
        name: "scale",
        versions: [
          { version: "1", weight: WEIGHTS["1"], nodes: [REF] },
          // MLServer calls them "2" and "3" too (parameters.version); written out for the example.
          { version: "2", weight: WEIGHTS["2"], nodes: [MLS], serverVersion: "2" },
          { version: "3", weight: WEIGHTS["3"], nodes: [MLS], serverVersion: "3" },
        ],
      },
      { name: "mlp", versions: [{ version: "1", nodes: [REF_KILLED] }] },
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

/** `total` unpinned calls of `scale`, 8 at a time; any failure fails the test. */
async function unpinnedScale(client: InferClient, total: number): Promise<Answer[]> {
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
  return answers;
}

/** v1 from the reference node (which says so), v2 and v3 from MLServer (which sends no header). */
function assertRight(a: Answer): void {
  assert.equal(a.node, a.version === "1" ? REF : undefined, `version ${a.version} answered by ${a.node}`);
  assertClose(a.output, scaleReference(a.version, SCALE_SAMPLE_INPUT), 0);
}

const failuresOf = (metrics: string, labels: Record<string, string>) =>
  metricValue(metrics, "inferencehub_health_probe_failures_total", labels);

const skip = mlserverUnavailableReason();

describe("MLServer (stock) behind the gateway", { skip: skip ?? false }, () => {
  let mls: MlserverProcess | undefined;
  let gw: GatewayFixture;
  let listenPort = 0;
  const nodes = () => [...gw.nodeEntries(), mls!.entry()];
  const allHealthy = (s: XdsStatus) =>
    s.health?.[MLS]?.[`${UNVERSIONED}/1`] === "HEALTHY" &&
    s.health[MLS]["scale/2"] === "HEALTHY" &&
    s.health[MLS]["scale/3"] === "HEALTHY" &&
    s.health[REF]?.["scale/1"] === "HEALTHY" &&
    s.health[REF_KILLED]?.["mlp/1"] === "HEALTHY";

  before(async () => {
    // test/mlserver/*/model-settings.json carry k and b of the reference versions they stand for.
    for (const [folder, version] of [
      ["scale-v2", "2"],
      ["scale-v3", "3"],
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
        { name: REF, models: ["scale"], httpPort: 0 },
        { name: REF_KILLED, models: ["mlp"] },
      ],
      config: (entries, port) => ((listenPort = port), config([...entries, mlsEntry], port)),
    });
  });
  after(async () => {
    await gw?.stop();
    await mls?.stop();
  });

  test("MLServer is probed HEALTHY by ServerReady and ModelReady; no failure counted or logged round after round", async () => {
    await gw.xds.waitFor(allHealthy, "every node HEALTHY");
    // Three more rounds on MLServer, each answering UNIMPLEMENTED to Health/Check.
    const seen = new Set<string>();
    await gw.xds.waitFor((s) => {
      const at = probesOf(s)[MLS]?.lastProbeAt;
      if (at) seen.add(at);
      return seen.size >= 4;
    }, "three more probe rounds on MLServer");
    assert.equal(probesOf(await gw.xds.status())[MLS]?.lastError, null);
    const metrics = await gw.xds.metrics();
    assert.equal(
      failuresOf(metrics, { node: MLS }),
      0,
      metrics
        .split("\n")
        .filter((l) => l.startsWith("inferencehub_health_probe_failures_total"))
        .join("\n"),
    );
    // (The proxyless group warns that MLServer serves two versions of scale: not the prober's.)
    const noisy = gw.xds.logs.filter(
      (l) => l.includes('"component":"health"') && l.includes(MLS) && /"level":(40|50)/.test(l),
    );
    assert.deepEqual(noisy, [], "no warning or error from the prober about MLServer");
    await gw.xds.waitForSync("envoy-1");
  });

  test('the unversioned MLServer model (serverVersion "") answers through the gateway: unpinned, typed and raw, and pinned by header or body', async () => {
    const client = gw.client();
    for (const opts of [
      {},
      { raw: true },
      { pin: "1" },
      { bodyVersion: "1" },
      { pin: "1", bodyVersion: "1" },
    ]) {
      const a = await call(client, UNVERSIONED, opts);
      const what = JSON.stringify(opts);
      assert.equal(a.node, undefined, `${what}: MLServer answered, not a reference node`);
      assert.equal(a.version, "", `${what}: MLServer names no version for an unversioned model`);
      assertClose(a.output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
    }
  });

  test("scale split 40/30/30 across v1 on a reference node and v2, v3 on MLServer: every answer is right, each share within bounds", async () => {
    const client = gw.client();
    const total = 300;
    const answers = await unpinnedScale(client, total);
    const count = new Map<string, number>();
    for (const a of answers) {
      count.set(a.version, (count.get(a.version) ?? 0) + 1);
      assertRight(a);
    }
    assert.deepEqual([...count.keys()].sort(), ["1", "2", "3"]);
    for (const [version, weight] of Object.entries(WEIGHTS)) {
      const n = count.get(version) ?? 0;
      const [lo, hi] = binomialBounds(total, weight / 100);
      assert.ok(
        n >= lo && n <= hi,
        `v${version} got ${n} of ${total}, expected ${lo.toFixed(0)}..${hi.toFixed(0)}`,
      );
    }

    // Pinned calls, by header, by body or both: MLServer runs the pinned version of the two it has.
    for (const version of ["1", "2", "3"]) {
      for (const opts of [{ pin: version }, { pin: version, bodyVersion: version }]) {
        const a = await call(client, "scale", opts);
        assert.equal(a.version, version, JSON.stringify(opts));
        assertRight(a);
      }
    }
  });

  test("REST (#15): the split and the pins reach MLServer's HTTP port, with its own names for the versions in the path", async () => {
    const base = `http://127.0.0.1:${listenPort}`;
    const body = JSON.stringify({
      inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: SCALE_SAMPLE_INPUT.flat() }],
    });
    const rest = async (path: string): Promise<Answer> => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      const text = await res.text();
      assert.equal(res.status, 200, `${path}: ${text}`);
      const json = JSON.parse(text) as {
        model_version?: string;
        outputs: { data: number[]; shape: number[] }[];
      };
      const data = json.outputs[0]?.data ?? [];
      return {
        version: res.headers.get("x-inferencehub-model-version") ?? json.model_version ?? "",
        node: res.headers.get("x-inferencehub-node") ?? undefined,
        output: [data.slice(0, 4), data.slice(4, 8)],
      };
    };
    // The unversioned model: its config version "1" is no version in MLServer's paths.
    for (const path of [`/v2/models/${UNVERSIONED}/infer`, `/v2/models/${UNVERSIONED}/versions/1/infer`]) {
      const a = await rest(path);
      assert.equal(a.node, undefined, `${path}: MLServer answered`);
      assertClose(a.output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
    }
    const total = 300;
    const count = new Map<string, number>();
    for (let i = 0; i < total; i++) {
      const a = await rest("/v2/models/scale/infer");
      assertRight(a);
      count.set(a.version, (count.get(a.version) ?? 0) + 1);
    }
    for (const [version, weight] of Object.entries(WEIGHTS)) {
      const n = count.get(version) ?? 0;
      const [lo, hi] = binomialBounds(total, weight / 100);
      assert.ok(
        n >= lo && n <= hi,
        `REST v${version} got ${n} of ${total}, expected ${lo.toFixed(0)}..${hi.toFixed(0)}`,
      );
    }
    for (const version of ["1", "2", "3"]) {
      const a = await rest(`/v2/models/scale/versions/${version}/infer`);
      assert.equal(a.version, version);
      assertRight(a);
    }
  });

  test('without versionFrom: body, MLServer runs what the body says: the config\'s version "1" is NOT_FOUND there', async () => {
    await gw.applyConfig(config(nodes(), listenPort, { bodyRewrite: false }));
    try {
      const client = gw.client();
      await assert.rejects(call(client, UNVERSIONED, { bodyVersion: "1" }), (err: ServiceError) => {
        assert.equal(err.code, status.NOT_FOUND, `${err.code} ${err.details}`);
        assert.match(err.details, /Model scale-unversioned with version 1 not found/);
        return true;
      });
      // An unpinned body still works on a model the server has in one version only.
      assertClose((await call(client, UNVERSIONED)).output, scaleReference("1", SCALE_SAMPLE_INPUT), 0);
    } finally {
      await gw.applyConfig(config(nodes(), listenPort));
    }
  });

  test("kill -9: MLServer is UNHEALTHY as fast as a reference node killed at the same moment; the split fails over to v1; a restart brings it back", async (t) => {
    await gw.xds.waitFor(allHealthy, "every node HEALTHY");
    assert.equal(failuresOf(await gw.xds.metrics(), { node: MLS }), 0, "no failure counted while it was up");
    const port = mls!.grpcPort;
    const killedAt = Date.now();
    await Promise.all([mls!.stop("SIGKILL"), gw.nodes.get(REF_KILLED)!.stop("SIGKILL")]);
    const outAt: Record<string, number> = {};
    await gw.xds.waitFor((s) => {
      const now = Date.now();
      const m = s.health?.[MLS];
      if (
        m?.["scale/2"] === "UNHEALTHY" &&
        m["scale/3"] === "UNHEALTHY" &&
        m[`${UNVERSIONED}/1`] === "UNHEALTHY"
      )
        outAt[MLS] ??= now;
      if (s.health?.[REF_KILLED]?.["mlp/1"] === "UNHEALTHY") outAt[REF_KILLED] ??= now;
      return outAt[MLS] !== undefined && outAt[REF_KILLED] !== undefined;
    }, "both killed nodes UNHEALTHY");
    const mlsMs = outAt[MLS]! - killedAt;
    const refMs = outAt[REF_KILLED]! - killedAt;
    const times = `MLServer out in ${mlsMs} ms, the reference node in ${refMs} ms (bound ${DETECTION_BOUND_MS} ms)`;
    t.diagnostic(times);
    assert.ok(mlsMs <= DETECTION_BOUND_MS, times);
    assert.ok(refMs <= DETECTION_BOUND_MS, times);
    // Both counted the same failure: the dead port, never the missing health service.
    const metrics = await gw.xds.metrics();
    for (const node of [MLS, REF_KILLED]) {
      const n = failuresOf(metrics, { node, probe: "health_check", reason: "UNAVAILABLE" });
      assert.ok(n >= 2, `${node}: ${n} health_check UNAVAILABLE counted`);
    }
    assert.equal(failuresOf(metrics, { node: MLS, reason: "UNIMPLEMENTED" }), 0);

    // v2 and v3 have no node up: their share goes to v1, and a call pinned to v2 is UNAVAILABLE.
    await gw.xds.waitFor(
      (s) => (s.degradedSplits?.scale?.versionsDown ?? []).sort().join(",") === "2,3",
      "scale's split degraded",
    );
    await gw.xds.waitForSync("envoy-1");
    const client = gw.client();
    for (const a of await unpinnedScale(client, 40)) {
      assert.equal(a.version, "1");
      assertRight(a);
    }
    await assert.rejects(call(client, "scale", { pin: "2" }), (err: ServiceError) => {
      assert.equal(err.code, status.UNAVAILABLE, `${err.code} ${err.details}`);
      return true;
    });

    // MLServer back on the same port: HEALTHY again and the split restored.
    mls = await startMlserver({ name: MLS, grpcPort: port, httpPort: mls!.httpPort });
    await gw.xds.waitFor(
      (s) => s.health?.[MLS]?.["scale/2"] === "HEALTHY" && s.health[MLS]["scale/3"] === "HEALTHY",
      "MLServer HEALTHY again",
    );
    await gw.xds.waitFor((s) => s.degradedSplits?.scale === undefined, "the split restored");
    await gw.xds.waitForSync("envoy-1");
    const back = await unpinnedScale(client, 60);
    back.forEach(assertRight);
    assert.ok(
      back.some((a) => a.version !== "1"),
      "MLServer answers again",
    );
  });
});

if (skip) console.log(`# skipping MLServer tests: ${skip}`);
