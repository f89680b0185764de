/**
 * The admin API end to end, against a running control plane and a real Envoy: edits over
 * HTTP/JSON and gRPC change live traffic; stale, invalid and unauthenticated edits are refused
 * with nothing lost; the file after an edit is valid and keeps the operator's comments.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { parseConfig } from "@inferencehub/contracts/config";
import { AdminServiceClient } from "../gen/inference/inferencehub/admin/v1/admin.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { grpcCall } from "./lib/assertions.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany } from "./lib/load.js";

const TOKEN = "test-admin-token-0123456789";
const scaleCall = {
  request: fp32Request("scale", SCALE_SAMPLE_INPUT),
  metadata: { "inferencehub-model": "scale" },
};

const configText = (nodes: NodeEntry[], port: number) => `# Operator's notes: keep this comment.
listener: { address: 127.0.0.1, port: ${port} }
nodes:
${nodes.map((n) => `  - { name: ${n.name}, address: "${n.address}" } # ${n.name} comment`).join("\n")}
models:
  # scale is our canary model
  - name: scale
    versions:
      - { version: "1", weight: 100, nodes: [${nodes.map((n) => n.name).join(", ")}] }
      - { version: "2", weight: 0, nodes: [${nodes.map((n) => n.name).join(", ")}] }
`;

describe("admin API", () => {
  let gw: GatewayFixture;
  let http: (
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ) => Promise<{ status: number; body: Record<string, unknown> }>;

  before(async () => {
    gw = await startGateway({
      nodes: [{ name: "node-a" }],
      config: () => ({}),
      configText,
      xdsEnv: { INFERENCEHUB_ADMIN_TOKEN: TOKEN },
    });
    http = async (method, path, body, token = TOKEN) => {
      const res = await fetch(`http://127.0.0.1:${gw.xds.adminPort}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
  });
  after(() => gw?.stop());

  const versions = async () => {
    const stats = await callMany(gw.client(), { total: 60, concurrency: 6, ...scaleCall });
    assert.deepEqual(stats.failures, []);
    return [...stats.byVersion().keys()].sort();
  };
  const configVersion = async () => (await http("GET", "/v1/models")).body.configVersion as string;

  test("an admin call without the token, or with a wrong one, is refused", async () => {
    assert.equal((await http("GET", "/v1/models", undefined, null)).status, 401);
    const wrong = await http("GET", "/v1/models", undefined, "nope");
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.body.error), /not valid/);
  });

  test("an edit through the HTTP API changes live traffic, and the file keeps its comments", async () => {
    assert.deepEqual(await versions(), ["1"]);
    const res = await http("PUT", "/v1/models/scale/weights", {
      base_version: await configVersion(),
      weights: { "1": 0, "2": 100 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await gw.xds.waitForSync("envoy-1");
    assert.deepEqual(await versions(), ["2"]);
    const text = await readFile(gw.configPath, "utf8");
    assert.ok(parseConfig(text).ok, "the file on disk is valid");
    assert.match(text, /# Operator's notes: keep this comment\./);
    assert.match(text, /# scale is our canary model/);
    assert.match(text, /# node-a comment/);
    const audit = await gw.xds.waitForLine(/"audit":true/);
    assert.match(audit, /"who":"admin"/);
    assert.match(audit, /"op":"setWeights"/);
  });

  test("the same edit through gRPC changes live traffic", async () => {
    const client = new AdminServiceClient(`127.0.0.1:${gw.xds.adsPort}`, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    try {
      const list = await grpcCall(client, "listModels", {}, md);
      await grpcCall(
        client,
        "setWeights",
        { baseVersion: list.configVersion, model: "scale", weights: { "1": 100, "2": 0 } },
        md,
      );
      await gw.xds.waitForSync("envoy-1");
      assert.deepEqual(await versions(), ["1"]);
      await assert.rejects(
        grpcCall(client, "listModels", {}),
        (err: ServiceError) => err.code === status.UNAUTHENTICATED,
      );
    } finally {
      client.close();
    }
  });

  test("a stale edit is refused with a conflict and nothing is overwritten", async () => {
    const stale = await configVersion();
    const first = await http("PUT", "/v1/models/scale/weights", {
      base_version: stale,
      weights: { "1": 50, "2": 50 },
    });
    assert.equal(first.status, 200);
    const before = await readFile(gw.configPath, "utf8");
    const second = await http("PUT", "/v1/models/scale/weights", {
      base_version: stale,
      weights: { "1": 10, "2": 90 },
    });
    assert.equal(second.status, 409);
    assert.match(String(second.body.error), /conflict.*read it again/);
    assert.equal(await readFile(gw.configPath, "utf8"), before, "the file is as the first edit left it");
  });

  test("an invalid edit names the field; the request's own rules are checked too", async () => {
    const base = await configVersion();
    const before = await readFile(gw.configPath, "utf8");
    const sum = await http("PUT", "/v1/models/scale/weights", {
      base_version: base,
      weights: { "1": 50, "2": 40 },
    });
    assert.equal(sum.status, 400);
    assert.ok(
      (sum.body.violations as { field: string }[]).some((v) => v.field.startsWith("models[0].versions")),
      JSON.stringify(sum.body),
    );
    const rule = await http("POST", "/v1/models/scale/versions", {
      base_version: base,
      version: "3",
      nodes: ["node-a", "node-a"],
      weight: 101,
    });
    assert.equal(rule.status, 400);
    assert.deepEqual((rule.body.violations as { field: string }[]).map((v) => v.field).sort(), [
      "nodes",
      "weight",
    ]);
    // Neither nodes nor a placement: nothing would serve it.
    const nowhere = await http("POST", "/v1/models/scale/versions", {
      base_version: base,
      version: "3",
      weight: 0,
    });
    assert.equal(nowhere.status, 400);
    assert.deepEqual(nowhere.body.violations, [{ field: "nodes", message: "empty, and no placement" }]);
    const unknownNode = await http("POST", "/v1/models/scale/versions", {
      base_version: base,
      version: "3",
      nodes: ["ghost"],
      weight: 0,
    });
    assert.equal(unknownNode.status, 400);
    assert.match(String(unknownNode.body.error), /ghost/);
    assert.equal(await readFile(gw.configPath, "utf8"), before, "refused edits write nothing");
  });

  test("add a version, drain and undrain a node, remove the version", async () => {
    let base = await configVersion();
    let res = await http("POST", "/v1/models/scale/versions", {
      base_version: base,
      version: "3",
      nodes: ["node-a"],
      weight: 0,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    base = res.body.configVersion as string;
    res = await http("POST", "/v1/nodes/node-a/drain", { base_version: base });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    base = res.body.configVersion as string;
    res = await http("POST", "/v1/nodes/node-a/undrain", { base_version: base });
    assert.equal(res.status, 200);
    base = res.body.configVersion as string;
    res = await http("DELETE", `/v1/models/scale/versions/3?base_version=${base}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const model = (await http("GET", "/v1/models/scale")).body.model as { versions: { version: string }[] };
    assert.deepEqual(
      model.versions.map((v) => v.version),
      ["1", "2"],
    );
  });

  test("pin sends every call to one version; unpin restores the weights", async () => {
    let res = await http("PUT", "/v1/models/scale/weights", {
      base_version: await configVersion(),
      weights: { "1": 100, "2": 0 },
    });
    assert.equal(res.status, 200);
    res = await http("PUT", "/v1/models/scale/pin", { base_version: res.body.configVersion, version: "2" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((res.body.model as { pinned: string }).pinned, "2");
    await gw.xds.waitForSync("envoy-1");
    assert.deepEqual(await versions(), ["2"]);
    res = await http("DELETE", `/v1/models/scale/pin?base_version=${res.body.configVersion as string}`);
    assert.equal(res.status, 200);
    await gw.xds.waitForSync("envoy-1");
    assert.deepEqual(await versions(), ["1"]);
  });
});
