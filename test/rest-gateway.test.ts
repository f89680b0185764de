/**
 * The Open Inference Protocol's REST form through a real Envoy (issue #15), with ext-authz on and
 * an API key, called with Node's fetch as curl would: routed by the URL path with no routing
 * header, split by the model's weights, pinned by path or header, refused with real HTTP statuses
 * and JSON errors; and one weight change steering gRPC and REST clients of the same model at once.
 * test/rest-stock-clients.test.ts does the same with the stock tritonclient.http.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { servedByHeader, servedVersionHeader, versionHeader } from "@inferencehub/contracts/headers";
import type { ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import { assertClose } from "./lib/assertions.js";
import { startTestAuthz } from "./lib/auth.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const apiKey = "ihk_rest-user";
/** A tenant that may call every model: only it learns that a name is not served (404). */
const allModelsKey = "ihk_rest-all";
/** A tenant with a rate limit of one call at a time. */
const limitedKey = "ihk_rest-limited";
const bodyLimit = 64 * 1024;
const modelTimeoutMs = 2_000;

/**
 * scale: versions 1 and 2 on the REST nodes a and b, version 3 on node c, which serves gRPC only;
 * mlp on node c only. The weights are the test's.
 */
function config(nodes: NodeEntry[], listenPort: number, extAuthzPort: number, weights: number[]) {
  return {
    listener: { address: "127.0.0.1", port: listenPort, maxRequestBodyBytes: bodyLimit },
    nodes,
    models: [
      {
        name: "scale",
        // Bounds a REST call whole, upload included: a slow body is cut here.
        timeout: `${modelTimeoutMs}ms`,
        versions: [
          { version: "1", weight: weights[0], nodes: ["node-a"] },
          { version: "2", weight: weights[1], nodes: ["node-b"] },
          { version: "3", weight: 0, nodes: ["node-c"] },
        ],
      },
      { name: "mlp", versions: [{ version: "1", nodes: ["node-c"] }] },
    ],
    auth: {
      extAuthz: { address: `127.0.0.1:${extAuthzPort}` },
      keysFile: "keys.yaml",
      tenants: [
        { name: "rest-user", models: ["scale", "mlp"] },
        { name: "rest-all", models: ["*"] },
        { name: "rest-limited", models: ["scale"], rateLimit: { callsPerSecond: 0.1, burst: 1 } },
      ],
    },
  };
}

const scaleBody = JSON.stringify({
  inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: SCALE_SAMPLE_INPUT }],
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

describe("REST through the gateway, routed by the URL path (#15)", () => {
  let gw: GatewayFixture;
  let authz: ExtAuthzProcess;
  let extAuthzPort: number;
  let base: string;

  const call = async (path: string, init: RequestInit = {}, key: string | null = apiKey): Promise<Answer> => {
    const headers = new Headers(init.headers);
    if (key !== null) headers.set("authorization", `Bearer ${key}`);
    const res = await fetch(`${base}${path}`, { ...init, headers });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const infer = (path: string, headers: Record<string, string> = {}) =>
    call(path, {
      method: "POST",
      body: scaleBody,
      headers: { "content-type": "application/json", ...headers },
    });
  /** A JSON error: the status, an `error` message matching `message`, and no gRPC headers. */
  const assertError = (answer: Answer, status: number, message: RegExp) => {
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
    assert.match(String(answer.json.error), message);
    assert.equal(answer.headers.get("grpc-status"), null);
  };

  /**
   * A POST to scale's infer path that sends `headers` and then only `sent` of its body, and
   * resolves with Envoy's answer: what a client that declares more than it sends gets.
   */
  const postPartly = (headers: Record<string, string>, sent: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/v2/models/scale/infer`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += String(d)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      if (sent === "") req.flushHeaders();
      else req.write(sent);
    });

  before(async () => {
    extAuthzPort = await freePort();
    gw = await startGateway({
      nodes: [
        { name: "node-a", models: ["scale"], httpPort: 0 },
        { name: "node-b", models: ["scale"], httpPort: 0 },
        { name: "node-c", models: ["scale", "mlp"] },
      ],
      config: (nodes, port) => config(nodes, port, extAuthzPort, [70, 30]),
    });
    authz = await startTestAuthz(gw, extAuthzPort, [
      { id: "user", tenant: "rest-user", key: apiKey },
      { id: "all", tenant: "rest-all", key: allModelsKey },
      { id: "limited", tenant: "rest-limited", key: limitedKey },
    ]);
    base = `http://127.0.0.1:${gw.listenPort}`;
  });

  after(async () => {
    await authz?.stop();
    await gw?.stop();
  });

  test("live, ready and server metadata are the gateway's; without a key, 401 as JSON", async () => {
    assert.deepEqual((await call("/v2/health/live")).json, { live: true });
    const ready = await call("/v2/health/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { ready: true });
    const metadata = await call("/v2");
    assert.equal(metadata.json.name, "inferencehub");
    assert.match(String(metadata.json.version), /^\d+\.\d+\.\d+/);

    const anonymous = await call("/v2/models/scale/infer", { method: "POST", body: scaleBody }, null);
    assertError(anonymous, 401, /./);
    assert.equal(anonymous.headers.get("www-authenticate"), "Bearer");
    assertError(await call("/v2/health/ready", {}, "ihk_wrong"), 401, /./);
  });

  test("model metadata and readiness come from the nodes, routed by the path", async () => {
    const metadata = await call("/v2/models/scale");
    assert.equal(metadata.status, 200);
    assert.equal(metadata.json.name, "scale");
    assert.deepEqual(
      (metadata.json.inputs as { name: string }[]).map((i) => i.name),
      ["input"],
    );
    assert.equal((await call("/v2/models/scale/versions/2/ready")).status, 200);
  });

  test("unpinned calls are split by the weights; the version in the answer is the one routed", async () => {
    const counts = new Map<string, number>();
    const calls = 200;
    for (let i = 0; i < calls; i++) {
      const answer = await infer("/v2/models/scale/infer");
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      const version = String(answer.json.model_version);
      // The body, the response header and the node agree: the version routing chose answered.
      assert.equal(answer.headers.get(servedVersionHeader), version);
      assert.equal(answer.headers.get(servedByHeader), version === "1" ? "node-a" : "node-b");
      const output = (answer.json.outputs as { data: number[] }[])[0]?.data ?? [];
      assertClose([output.slice(0, 4), output.slice(4)], scaleReference(version, SCALE_SAMPLE_INPUT));
      counts.set(version, (counts.get(version) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ["1", "2"]);
    // 70/30 over 200 calls: version 2 gets 60 on average, sd 6.5; 30..90 is over 4.5 sd each side.
    const v2 = counts.get("2") ?? 0;
    assert.ok(v2 >= 30 && v2 <= 90, `version 2 answered ${v2} of ${calls}`);
  });

  test("a version named in the path or the header is the version that answers, every time", async () => {
    for (let i = 0; i < 10; i++) {
      const byPath = await infer("/v2/models/scale/versions/2/infer");
      assert.equal(byPath.json.model_version, "2");
      assert.equal(byPath.headers.get(servedByHeader), "node-b");
      const byHeader = await infer("/v2/models/scale/infer", { [versionHeader]: "1" });
      assert.equal(byHeader.json.model_version, "1");
      assert.equal(byHeader.headers.get(servedByHeader), "node-a");
    }
    // Both, agreeing: fine; disagreeing: refused rather than guessed.
    assert.equal((await infer("/v2/models/scale/versions/2/infer", { [versionHeader]: "2" })).status, 200);
    assertError(
      await infer("/v2/models/scale/versions/2/infer", { [versionHeader]: "1" }),
      400,
      /names version '2'.*names another/,
    );
  });

  test("what is not served: 404 for an unknown model (403 to a tenant limited to others, 401 without a key), version or path, 501 for a version served over gRPC only", async () => {
    const unknown = { method: "POST", body: scaleBody };
    assertError(
      await call("/v2/models/resnet-50/infer", unknown, allModelsKey),
      404,
      /model 'resnet-50' is not served/,
    );
    // Anyone else is answered by the policy first, so a name's existence is not told apart.
    assertError(await call("/v2/models/resnet-50/infer", unknown), 403, /may not call model 'resnet-50'/);
    assertError(await call("/v2/models/resnet-50/infer", unknown, null), 401, /./);
    assertError(
      await infer("/v2/models/scale/versions/9/infer"),
      404,
      /version of model 'scale' is not served/,
    );
    assertError(await infer("/v2/models/scale/infer", { [versionHeader]: "9" }), 404, /not served/);
    // The index is the gateway's own answer: this config names no control plane to give it.
    assertError(
      await call("/v2/repository/index", { method: "POST" }),
      501,
      /lists its models once controlPlane.address is set/,
    );
    assertError(
      await call("/v2/repository/models", { method: "POST" }),
      404,
      /no such path in the v2 REST API/,
    );
    assertError(await call("/models/scale"), 404, /gRPC .* or REST under \/v2/);
    assertError(
      await infer("/v2/models/scale/versions/3/infer"),
      501,
      /version '3' of model 'scale' is served over gRPC only/,
    );
    assertError(await infer("/v2/models/mlp/infer"), 501, /model 'mlp' is served over gRPC only/);
  });

  test("a body declared larger than listener.maxRequestBodyBytes is refused with 413 before it is sent", async () => {
    // Envoy answers before the body: the client need not send it at all.
    const answer = await postPartly({ "content-length": String(bodyLimit + 1), expect: "100-continue" }, "");
    assert.equal(answer.status, 413, answer.body);
    assert.match(String((JSON.parse(answer.body) as { error: string }).error), /larger than the 65536 bytes/);
    // Just under the limit is forwarded (and refused by the node as not a tensor, not by size).
    const justUnder = await call("/v2/models/scale/infer", {
      method: "POST",
      body: " ".repeat(bodyLimit - 10),
      headers: { "content-type": "application/json" },
    });
    assert.equal(justUnder.status, 400, JSON.stringify(justUnder.json));
  });

  test("over its tenant's rate limit a REST call is 429 with Retry-After, as JSON", async () => {
    const first = await call("/v2/models/scale/infer", { method: "POST", body: scaleBody }, limitedKey);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const second = await call("/v2/models/scale/infer", { method: "POST", body: scaleBody }, limitedKey);
    assertError(second, 429, /over its rate limit/);
    assert.ok(Number(second.headers.get("retry-after")) >= 1, String(second.headers.get("retry-after")));
  });

  test("a body that does not match the model's inputs is 400 from the node, naming the input", async () => {
    const answer = await call("/v2/models/scale/infer", {
      method: "POST",
      body: JSON.stringify({
        inputs: [{ name: "inputz", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }],
      }),
      headers: { "content-type": "application/json" },
    });
    assertError(answer, 400, /inputz/);
  });

  test("a body sent too slowly is cut at the model's timeout, and the gateway keeps serving", async () => {
    const started = Date.now();
    // A tenth of the body, then nothing: a client that holds the call open.
    const answer = await postPartly({ "content-length": "1000" }, " ".repeat(100));
    const tookMs = Date.now() - started;
    assert.equal(answer.status, 408, `${answer.status} ${answer.body}`);
    assert.ok(tookMs < modelTimeoutMs + 3_000, `answered after ${tookMs} ms`);
    assert.equal((await infer("/v2/models/scale/infer")).status, 200);
  });

  test("one weight change steers a gRPC client and a REST client of the same model at once", async () => {
    const grpc = gw.client();
    const grpcVersion = async () =>
      (
        await grpc.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
          metadata: { authorization: `Bearer ${apiKey}`, "inferencehub-model": "scale" },
        })
      ).response.modelVersion;
    const restVersion = async () => String((await infer("/v2/models/scale/infer")).json.model_version);

    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, extAuthzPort, [100, 0]));
    for (let i = 0; i < 10; i++) assert.deepEqual([await grpcVersion(), await restVersion()], ["1", "1"]);
    await gw.applyConfig(config(gw.nodeEntries(), gw.listenPort, extAuthzPort, [0, 100]));
    for (let i = 0; i < 10; i++) assert.deepEqual([await grpcVersion(), await restVersion()], ["2", "2"]);
  });
});
