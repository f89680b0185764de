/**
 * The stock tritonclient (PyPI, in .tools/tritonclient-venv from setup) against a real Envoy with
 * ext-authz, as a Triton user points existing code at the gateway: an API key, no routing header
 * (issue #12). Live, ready and server metadata are the gateway's own answers; model calls are
 * routed by the model name in the body, pinned by model_version in the body.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import type { ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { repoRoot, toolsDir } from "../scripts/lib/paths.js";
import { freePort } from "../scripts/lib/ports.js";
import { scaleReference } from "../scripts/lib/test-models.js";
import { scaleModel } from "./lib/configs.js";
import { startTestAuthz } from "./lib/auth.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const python = join(toolsDir, "tritonclient-venv", "bin", "python");
const script = join(repoRoot, "test", "tritonclient", "first-calls.py");
const apiKey = "ihk_triton-user";

function config(nodes: NodeEntry[], listenPort: number, extAuthzPort: number, controlPlane?: string) {
  return {
    listener: { address: "127.0.0.1", port: listenPort },
    nodes,
    // Version 2 on one node only: its statistics then count every call pinned to it.
    models: [
      scaleModel([50, 50], (version) => (version === "2" ? ["node-b"] : ["node-a", "node-b"])),
      // Served, but not this tenant's.
      { name: "mlp", versions: [{ version: "1", nodes: ["node-a"] }] },
    ],
    auth: {
      extAuthz: { address: `127.0.0.1:${extAuthzPort}` },
      keysFile: "keys.yaml",
      tenants: [{ name: "triton-user", models: ["scale"] }],
    },
    ...(controlPlane ? { controlPlane: { address: controlPlane } } : {}),
  };
}

type Result = Record<string, unknown> & { error?: string; message?: string };

describe(
  "the stock tritonclient through the gateway, with only an API key",
  { skip: !existsSync(python) && `${python} is missing: run bash scripts/setup.sh` },
  () => {
    let gw: GatewayFixture;
    let authz: ExtAuthzProcess;
    let results: Record<string, unknown>;

    before(async () => {
      const extAuthzPort = await freePort();
      gw = await startGateway({
        nodes: [
          { name: "node-a", models: ["scale", "mlp"] },
          { name: "node-b", models: ["scale"] },
        ],
        config: (nodes, port) => config(nodes, port, extAuthzPort),
      });
      authz = await startTestAuthz(gw, extAuthzPort, [{ id: "user", tenant: "triton-user", key: apiKey }]);
      await gw.applyConfig(
        config(gw.nodeEntries(), gw.listenPort, extAuthzPort, `127.0.0.1:${gw.xds.adsPort}`),
      );
      await gw.xds.waitFor(
        (s) =>
          s.health?.["node-a"]?.["scale/1"] === "HEALTHY" && s.health?.["node-b"]?.["scale/2"] === "HEALTHY",
        "both nodes healthy",
      );
      const { stdout } = await promisify(execFile)(python, [script, `127.0.0.1:${gw.listenPort}`, apiKey], {
        timeout: 60_000,
      });
      results = JSON.parse(stdout) as Record<string, unknown>;
    });

    after(async () => {
      await authz?.stop();
      await gw?.stop();
    });

    test("server: live, ready, metadata, answered by the gateway", () => {
      assert.equal(results.live, true, JSON.stringify(results.live));
      assert.equal(results.ready, true, JSON.stringify(results.ready));
      assert.equal(results.server_metadata, "inferencehub");
    });

    test("model: ready, metadata; an unserved version NOT_FOUND, an unserved or ungranted model PERMISSION_DENIED", () => {
      assert.equal(results.model_ready, true, JSON.stringify(results.model_ready));
      assert.deepEqual(results.model_metadata, {
        name: "scale",
        versions: ["1", "2", "3"],
        inputs: ["input"],
      });
      const v9 = results.model_ready_v9 as Result;
      assert.equal(v9.error, "NOT_FOUND", JSON.stringify(v9));
      assert.match(v9.message ?? "", /version '9' of model 'scale' is not served/);
      // Named in the body only: the tenant's policy answers first, and says nothing of what exists.
      const unknown = results.unknown_model as Result;
      assert.equal(unknown.error, "PERMISSION_DENIED", JSON.stringify(unknown));
      assert.match(unknown.message ?? "", /may not call model 'resnet-50'/);
      const ungranted = results.ungranted_model as Result;
      assert.equal(ungranted.error, "PERMISSION_DENIED", JSON.stringify(ungranted));
      assert.match(ungranted.message ?? "", /may not call model 'mlp'/);
    });

    test("infer and async_infer: routed by the body, a body version pins, each answer is its version's", () => {
      const check = (name: string, version?: string) => {
        const r = results[name] as { version: string; output: number[][] } & Result;
        assert.equal(r.error, undefined, JSON.stringify(r));
        if (version) assert.equal(r.version, version);
        assert.deepEqual(
          r.output.flat().map((x) => Math.round(x * 1000) / 1000),
          scaleReference(r.version, [[1, 2, 3, 4]])
            .flat()
            .map((x) => Math.round(x * 1000) / 1000),
        );
      };
      check("infer");
      check("infer_v2", "2");
      check("async_infer_v2", "2");
    });

    test("model config and statistics, routed by the body; streams routed by their first message", () => {
      assert.deepEqual(results.model_config_v2, {
        name: "scale",
        platform: "onnxruntime_onnx",
        inputs: ["input"],
      });
      const stats = results.statistics_v2 as { name: string; version: string; success: number }[];
      assert.ok(Array.isArray(stats), JSON.stringify(results.statistics_v2));
      assert.equal(stats[0]?.name, "scale");
      assert.equal(stats[0]?.version, "2");
      assert.ok((stats[0]?.success ?? 0) >= 2, "infer and async_infer pinned to version 2 were counted");
      const rounded = (xs: number[]) => xs.map((x) => Math.round(x * 1000) / 1000);
      const answers = (key: string) => {
        const stream = results[key] as { version: string; output: number[][] }[];
        assert.ok(Array.isArray(stream), JSON.stringify(results[key]));
        return stream.map((r) => [r.version, rounded(r.output.flat())]);
      };
      const expected = (version: string) =>
        [[[1, 2, 3, 4]], [[5, 6, 7, 8]], [[0, 0, 0, 0]]].map((row) => [
          version,
          rounded(scaleReference(version, row).flat()),
        ]);
      // Pinned by the version in its first message.
      assert.deepEqual(answers("stream_v2"), expected("2"));
      // Unpinned: the split picks one version for the stream, and every answer is that version's.
      const any = answers("stream_any");
      assert.deepEqual(any, expected(String(any[0]?.[0])));
    });

    test("without the API key: UNAUTHENTICATED, saying what to send", () => {
      const r = results.no_credentials as Result;
      assert.equal(r.error, "UNAUTHENTICATED", JSON.stringify(r));
      assert.match(r.message ?? "", /authorization: Bearer/);
    });
  },
);
