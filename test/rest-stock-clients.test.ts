/**
 * The Open Inference Protocol's REST form (KServe v2 HTTP) through a real Envoy with ext-authz on,
 * as a user of a stock REST client points it at the gateway with only an API key (issue #15): the
 * stock tritonclient.http from PyPI (.tools/tritonclient-venv, from setup) for server and model
 * calls, inference with JSON and binary tensors of every datatype the `mixed` model has, the
 * weighted split and a pinned version, and the errors as HTTP statuses; then plain fetch for a
 * node killed under REST load.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { servedByHeader, servedVersionHeader } from "@inferencehub/contracts/headers";
import { gatewayServerName } from "@inferencehub/contracts/protocol";
import type { ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { repoRoot, toolsDir } from "../scripts/lib/paths.js";
import { freePort } from "../scripts/lib/ports.js";
import {
  MIXED_SAMPLE_INPUTS,
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  mixedReference,
  mlpReference,
  scaleReference,
  unflatten,
} from "../scripts/lib/test-models.js";
import { assertClose } from "./lib/assertions.js";
import { gatewayConfig, scaleModel, failoverDefaults } from "./lib/configs.js";
import { startTestAuthz } from "./lib/auth.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const python = join(toolsDir, "tritonclient-venv", "bin", "python");
const script = join(repoRoot, "test", "tritonclient-http", "gateway-calls.py");
/** May call every model the gateway serves. */
const allKey = "ihk_rest-all";
/** May call scale only. */
const limitedKey = "ihk_rest-limited";

const WEIGHTS = [70, 30, 0] as const;
const SPLIT_CALLS = 200;
const PINNED_CALLS = 40;
const CONCURRENCY = 12;
const PER_TRY_TIMEOUT_MS = 2000;

function config(nodes: NodeEntry[], listenPort: number, extAuthzPort: number, controlPlane?: string) {
  return gatewayConfig(
    nodes,
    listenPort,
    [
      // 70/30 over versions 1 and 2; version 3 takes pinned calls only.
      scaleModel(WEIGHTS, ["node-a", "node-b"]),
      { name: "mixed", versions: [{ version: "1", nodes: ["node-a"] }] },
      // Two nodes: the one killed under load, and the one that takes over.
      { name: "mlp", versions: [{ version: "1", nodes: ["node-a", "node-b"] }] },
    ],
    {
      // As the gRPC failover tests: a call that could not reach a node is retried on another.
      defaults: failoverDefaults(PER_TRY_TIMEOUT_MS),
      auth: {
        // Generous: ext-authz shares a small machine with the load; its latency is not under test.
        extAuthz: { address: `127.0.0.1:${extAuthzPort}`, timeout: "2s" },
        keysFile: "keys.yaml",
        tenants: [
          { name: "rest-all", models: ["*"] },
          { name: "rest-limited", models: ["scale"] },
        ],
      },
      // The gateway's own answers (the repository index) come from the control plane.
      ...(controlPlane ? { controlPlane: { address: controlPlane } } : {}),
    },
  );
}

interface ClientError {
  error: string;
  message: string;
}
interface InferResult {
  model_name: string;
  model_version: string;
  binary: Record<string, boolean>;
  datatypes: Record<string, string>;
  outputs: Record<string, unknown[]>;
}
type Answer = [version: string, output: number[][]];

const show = (x: unknown) => JSON.stringify(x).slice(0, 600);

/** A call's result that must not be an error. */
function ok<T>(results: Record<string, unknown>, name: string): T {
  const r = results[name] as T & Partial<ClientError>;
  assert.ok(r !== undefined, `${name}: no result`);
  assert.equal(r.error, undefined, `${name}: ${show(r)}`);
  return r;
}

/** A call's result that must be the client's exception with this HTTP status. */
function raised(results: Record<string, unknown>, name: string, status: number, message: RegExp): void {
  const r = results[name] as Partial<ClientError>;
  assert.equal(
    r?.error,
    String(status),
    `${name}: expected the client to raise with HTTP ${status}, got ${show(r)}`,
  );
  assert.match(r.message ?? "", message, `${name}: ${show(r)}`);
}

function assertMixed(r: InferResult): void {
  const want = mixedReference(MIXED_SAMPLE_INPUTS);
  const v = r.outputs;
  assertClose(v["sum"] as number[][], want.sum);
  assert.deepEqual(v["b_twice"], want.b_twice);
  assert.deepEqual(v["c_neg"], want.c_neg);
  assert.deepEqual(v["not_flag"], want.not_flag);
  assert.deepEqual(v["h_double"], want.h_double);
  assert.deepEqual(v["text_out"], want.text_out);
}

interface RestCall {
  ok: boolean;
  status: number;
  node: string;
  version: string;
  bodyVersion: string;
  output?: number[];
  error?: string;
  startedAt: number;
  at: number;
}

/** A steady stream of REST infers of mlp through the gateway, `concurrency` in flight. */
function startRestLoad(url: string, concurrency: number) {
  const body = JSON.stringify({
    inputs: [
      { name: "input", shape: [MLP_SAMPLE_INPUT.length, 4], datatype: "FP32", data: MLP_SAMPLE_INPUT },
    ],
  });
  const headers = { authorization: `Bearer ${allKey}`, "content-type": "application/json" };
  const calls: RestCall[] = [];
  const waiters: { target: number; resolve: () => void }[] = [];
  let running = true;
  const one = async (): Promise<RestCall> => {
    const startedAt = Date.now();
    try {
      const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      const common = {
        status: res.status,
        node: res.headers.get(servedByHeader) ?? "",
        version: res.headers.get(servedVersionHeader) ?? "",
        startedAt,
        at: Date.now(),
      };
      if (res.status !== 200) return { ...common, ok: false, bodyVersion: "", error: text.slice(0, 300) };
      const json = JSON.parse(text) as { model_version: string; outputs: { data: number[] }[] };
      return { ...common, ok: true, bodyVersion: json.model_version, output: json.outputs[0]?.data ?? [] };
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const error = `${e.name}: ${e.message}${e.cause ? ` (${e.cause.message})` : ""}`;
      return {
        ok: false,
        status: 0,
        node: "",
        version: "",
        bodyVersion: "",
        error,
        startedAt,
        at: Date.now(),
      };
    }
  };
  const worker = async () => {
    while (running) {
      calls.push(await one());
      for (const w of waiters.filter((w) => calls.length >= w.target)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    calls,
    /** Resolves once at least `n` more calls have finished. */
    more: (n: number) => new Promise<void>((resolve) => waiters.push({ target: calls.length + n, resolve })),
    stop: async () => {
      running = false;
      for (const w of waiters.splice(0)) w.resolve();
      await Promise.all(workers);
      return calls;
    },
  };
}

describe(
  "stock REST clients through the gateway, with only an API key",
  { skip: !existsSync(python) && `${python} is missing: run bash scripts/setup.sh` },
  () => {
    let gw: GatewayFixture;
    let authz: ExtAuthzProcess;
    let results: Record<string, unknown>;

    before(async () => {
      const extAuthzPort = await freePort();
      gw = await startGateway({
        // A few ms per call keeps several calls in flight on each node under load.
        nodes: [
          { name: "node-a", models: ["scale", "mixed", "mlp"], httpPort: 0, args: ["--infer-delay-ms", "5"] },
          { name: "node-b", models: ["scale", "mlp"], httpPort: 0, args: ["--infer-delay-ms", "5"] },
        ],
        config: (nodes, port) => config(nodes, port, extAuthzPort),
      });
      authz = await startTestAuthz(gw, extAuthzPort, [
        { id: "all", tenant: "rest-all", key: allKey },
        { id: "limited", tenant: "rest-limited", key: limitedKey },
      ]);
      await gw.applyConfig(
        config(gw.nodeEntries(), gw.listenPort, extAuthzPort, `127.0.0.1:${gw.xds.adsPort}`),
      );
      await gw.xds.waitFor((s) => {
        const h = s.health ?? {};
        return (
          ["scale/1", "scale/2", "scale/3", "mixed/1", "mlp/1"].every(
            (v) => h["node-a"]?.[v] === "HEALTHY",
          ) && ["scale/1", "scale/2", "scale/3", "mlp/1"].every((v) => h["node-b"]?.[v] === "HEALTHY")
        );
      }, "every node healthy");
      const plan = {
        keys: { all: allKey, limited: limitedKey },
        mixed: MIXED_SAMPLE_INPUTS,
        mlp: MLP_SAMPLE_INPUT,
        scale: SCALE_SAMPLE_INPUT,
        split_calls: SPLIT_CALLS,
        pinned_calls: PINNED_CALLS,
      };
      const { stdout } = await promisify(execFile)(
        python,
        [script, `127.0.0.1:${gw.listenPort}`, JSON.stringify(plan)],
        { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      );
      results = JSON.parse(stdout) as Record<string, unknown>;
    });

    after(async () => {
      await authz?.stop();
      await gw?.stop();
    });

    test("live, ready, server metadata, model ready and model metadata", () => {
      assert.equal(results["live"], true, show(results["live"]));
      assert.equal(results["ready"], true, show(results["ready"]));
      assert.equal(ok<{ name: string }>(results, "server_metadata").name, gatewayServerName);
      assert.equal(results["model_ready_scale"], true, show(results["model_ready_scale"]));
      assert.equal(results["model_ready_scale_v2"], true, show(results["model_ready_scale_v2"]));
      assert.equal(results["model_ready_mixed"], true, show(results["model_ready_mixed"]));
      const mixed = ok<{ name: string; inputs: { name: string; datatype: string; shape: number[] }[] }>(
        results,
        "model_metadata_mixed",
      );
      assert.equal(mixed.name, "mixed");
      assert.deepEqual(
        mixed.inputs.map((i) => `${i.name}:${i.datatype}`),
        ["a:FP32", "b:INT64", "c:INT32", "flag:BOOL", "h:FP16", "text:BYTES"],
      );
      const scale = ok<{ name: string; versions: string[] }>(results, "model_metadata_scale_v2");
      assert.equal(scale.name, "scale");
      assert.deepEqual(scale.versions, ["1", "2", "3"]);
      const mlp = ok<{ name: string; outputs: { name: string; datatype: string }[] }>(
        results,
        "model_metadata_mlp",
      );
      assert.equal(mlp.name, "mlp");
      assert.deepEqual(
        mlp.outputs.map((o) => `${o.name}:${o.datatype}`),
        ["output:FP32"],
      );
    });

    test("infer with JSON tensors: FP32, FP16, INT32, INT64, BOOL, BYTES, as the reference computes", () => {
      const mixed = ok<InferResult>(results, "mixed_json");
      assert.equal(mixed.model_name, "mixed");
      assert.equal(mixed.model_version, "1");
      assert.deepEqual(mixed.datatypes, {
        sum: "FP32",
        b_twice: "INT64",
        c_neg: "INT32",
        not_flag: "BOOL",
        h_double: "FP16",
        text_out: "BYTES",
      });
      // Asked for as JSON: no output came back binary.
      assert.deepEqual(
        Object.values(mixed.binary),
        [false, false, false, false, false, false],
        show(mixed.binary),
      );
      assertMixed(mixed);
      const mlp = ok<InferResult>(results, "mlp_json");
      assert.deepEqual(mlp.binary, { output: false });
      assertClose(mlp.outputs["output"] as number[][], mlpReference(MLP_SAMPLE_INPUT));
    });

    test("infer with binary tensors (binary_data=True on inputs and outputs)", () => {
      const mixed = ok<InferResult>(results, "mixed_binary");
      assert.equal(mixed.model_version, "1");
      // Asked for as binary: every output came back as raw data after the JSON.
      assert.deepEqual(Object.values(mixed.binary), [true, true, true, true, true, true], show(mixed.binary));
      assertMixed(mixed);
      const mlp = ok<InferResult>(results, "mlp_binary");
      assert.deepEqual(mlp.binary, { output: true });
      assertClose(mlp.outputs["output"] as number[][], mlpReference(MLP_SAMPLE_INPUT));
    });

    test(`the ${WEIGHTS.join("/")} split over ${SPLIT_CALLS} unpinned calls; model_version= pins`, () => {
      const split = ok<Answer[]>(results, "split");
      assert.equal(split.length, SPLIT_CALLS);
      // Each answer is its version's: the output is that version's function of the input.
      for (const [version, output] of split) assertClose(output, scaleReference(version, SCALE_SAMPLE_INPUT));
      const count = (v: string) => split.filter(([version]) => version === v).length;
      const [v1, v2, v3] = [count("1"), count("2"), count("3")];
      assert.equal(
        v1 + v2,
        SPLIT_CALLS,
        `only the weighted versions answer unpinned calls: ${v1}/${v2}/${v3}`,
      );
      // Binomial(200, 0.7): mean 140, sd 6.5; ±5 sd fails by chance about once in a million runs.
      const mean = (SPLIT_CALLS * WEIGHTS[0]) / 100;
      const sd = Math.sqrt((SPLIT_CALLS * WEIGHTS[0] * WEIGHTS[1]) / 100 / 100);
      assert.ok(
        Math.abs(v1 - mean) <= 5 * sd,
        `version 1 answered ${v1} of ${SPLIT_CALLS}, expected ${mean} ± ${5 * sd}`,
      );
      assert.ok(v2 > 0, "version 2 answered too");
      const pinned = ok<Answer[]>(results, "pinned_v2");
      assert.equal(pinned.length, PINNED_CALLS);
      assert.deepEqual(
        pinned.map(([version]) => version),
        Array<string>(PINNED_CALLS).fill("2"),
      );
      for (const [, output] of pinned) assertClose(output, scaleReference("2", SCALE_SAMPLE_INPUT));
    });

    test("get_model_repository_index: the gateway's index, what the key's tenant may call", () => {
      const all = ok<{ name: string; version: string; state: string }[]>(results, "repository_index");
      assert.deepEqual(
        all.map((m) => `${m.name}/${m.version}:${m.state}`),
        ["scale/1:READY", "scale/2:READY", "scale/3:READY", "mixed/1:READY", "mlp/1:READY"],
      );
      const limited = ok<{ name: string }[]>(results, "repository_index_limited");
      assert.deepEqual([...new Set(limited.map((m) => m.name))], ["scale"]);
      assert.deepEqual(results["repository_index_no_key"], {
        error: "401",
        message: "no credentials: send one header 'authorization: Bearer <API key or JWT>'",
      });
    });

    test("errors as the client's exception: unknown model 404, no key 401, a model not the tenant's 403", () => {
      raised(results, "unknown_model_metadata", 404, /model 'no-such-model' is not served by this gateway/);
      raised(results, "unknown_model_infer", 404, /model 'no-such-model' is not served by this gateway/);
      raised(results, "no_key_metadata", 401, /authorization: Bearer/);
      raised(results, "no_key_infer", 401, /authorization: Bearer/);
      raised(results, "wrong_key_infer", 401, /./);
      raised(results, "limited_metadata_mlp", 403, /may not call model 'mlp'/);
      raised(results, "limited_infer_mlp", 403, /may not call model 'mlp'/);
      // The same key may call its own model: the 403 is about the model, not the key.
      const scale = ok<InferResult>(results, "limited_infer_scale");
      assert.ok(["1", "2"].includes(scale.model_version), scale.model_version);
      assertClose(
        scale.outputs["output"] as number[][],
        scaleReference(scale.model_version, SCALE_SAMPLE_INPUT),
      );
    });

    test("an unknown model is refused by the policy before anything says it does not exist", () => {
      // ext-authz reads the model from the path before Envoy routes the call: without a key the
      // answer is 401 whatever the name, and a tenant limited to some models gets 403 for a name
      // that does not exist, as for one that does (only a tenant allowed '*' learns it is 404).
      raised(results, "no_key_unknown_model", 401, /authorization: Bearer/);
      raised(results, "no_key_unknown_model_infer", 401, /authorization: Bearer/);
      raised(results, "limited_unknown_model", 403, /may not call model 'no-such-model'/);
    });

    test("a node killed under REST load: only calls in flight on it fail, none after", async () => {
      const load = startRestLoad(`http://127.0.0.1:${gw.listenPort}/v2/models/mlp/infer`, CONCURRENCY);
      let killedAt = 0;
      let diedAt = 0;
      try {
        await load.more(200);
        const victim = gw.nodes.get("node-b")!;
        killedAt = Date.now();
        await victim.stop("SIGKILL");
        // Calls sent between the signal and the exit reached a live node: they were in flight on it.
        diedAt = Date.now();
        await load.more(600);
      } finally {
        await load.stop();
      }
      const calls = load.calls;
      const failures = calls.filter((c) => !c.ok);
      const before = calls.filter((c) => c.at < killedAt && c.ok);
      // Both nodes took calls before the kill: the killed one had calls to lose.
      assert.ok(
        before.some((c) => c.node === "node-a") && before.some((c) => c.node === "node-b"),
        "both nodes served",
      );
      // Every answer is the node's: its headers and body name the version, and the output is mlp's.
      const want = mlpReference(MLP_SAMPLE_INPUT);
      for (const c of calls.filter((c) => c.ok)) {
        assert.equal(c.version, "1", show(c));
        assert.equal(c.bodyVersion, "1", show(c));
        assertClose(unflatten(c.output ?? [], 3), want);
      }
      // Bound: at most every call in flight at the kill could have been on the victim.
      assert.ok(failures.length <= CONCURRENCY, `${failures.length} failed: ${show(failures.slice(0, 3))}`);
      assert.deepEqual(
        failures.filter((c) => c.startedAt > diedAt),
        [],
        "no call sent after the kill failed: connect failures are retried on the other node",
      );
      // Each failure was in flight at the kill, and is the gateway's HTTP error (JSON, 503), never
      // a connection dropped under the client.
      for (const c of failures) {
        assert.ok(c.startedAt <= diedAt && c.at >= killedAt, `not in flight at the kill: ${show(c)}`);
        assert.equal(c.status, 503, show(c));
        assert.match(c.error ?? "", /^\{"error":/, show(c));
      }
      const servedAfter = calls.filter((c) => c.startedAt > killedAt + 50 && c.ok);
      assert.ok(servedAfter.length >= 500, `${servedAfter.length} calls served after the kill`);
      assert.ok(!servedAfter.some((c) => c.node === "node-b"), "nothing after the kill from the dead node");
      // And the load was still succeeding when it stopped.
      assert.ok(calls.slice(-100).every((c) => c.ok));
    });
  },
);
