/**
 * The control plane's repository client (xds-server/src/fleet/) against real servers over real
 * sockets (issue #18): what a reconciler will see when it loads and unloads versions.
 *
 * - A reference node with --max-models 3 and a broken model beside the test models: per-version
 *   states and reasons, capacity in RepositoryIndex's headers, a load of one version through
 *   Triton's version_policy, RESOURCE_EXHAUSTED past the limit, a load error reported in the
 *   index, UNLOADING while an unload drains, the operator token.
 * - The stock MLServer 1.7.1 (PyPI) with the `scale` custom runtime and a broken model: the same
 *   client calls work, and its differences show (every version of a model loads at once, no
 *   reasons, no capacity, UNKNOWN for ModelReady of a model it does not hold).
 *
 * The MLServer part skips, printing why, when MLServer is not installed (scripts/setup.sh
 * installs it), unless INFERENCEHUB_REQUIRE_MLSERVER is set: then it fails.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import {
  RepositoryError,
  createRepositoryClient,
  type IndexedVersion,
  type RepositoryNode,
} from "../xds-server/src/fleet/index.js";
import {
  mlserverTestRepository,
  mlserverUnavailableReason,
  startMlserver,
  type MlserverProcess,
} from "../scripts/lib/mlserver-process.js";
import { metricValue, startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { modelsDir, toolsDir } from "../scripts/lib/paths.js";

const TOKEN = "fleet-test-operator-token";
const tritonPython = join(toolsDir, "tritonclient-venv", "bin", "python");
const run = promisify(execFile);

const isRepositoryError = (code: status, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RepositoryError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.message, pattern);
  return true;
};

const byKey = (versions: IndexedVersion[]) =>
  Object.fromEntries(versions.map((v) => [`${v.model}/${v.version}`, v.state]));

/** Polls the index until `accept` says yes; gives up after `timeoutMs` (an event, not a fixed wait). */
async function waitForIndex(
  check: () => Promise<IndexedVersion[]>,
  accept: (versions: IndexedVersion[]) => boolean,
  timeoutMs: number,
): Promise<IndexedVersion[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const versions = await check();
    if (accept(versions)) return versions;
    if (Date.now() > deadline) throw new Error(`index never matched: ${JSON.stringify(versions)}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe("repository client against a reference node", () => {
  let dir: string;
  let proc: NodeProcess;
  let node: RepositoryNode;
  const client = createRepositoryClient();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferencehub-fleet-"));
    await cp(join(modelsDir, "scale"), join(dir, "scale"), { recursive: true });
    await cp(join(modelsDir, "mlp"), join(dir, "mlp"), { recursive: true });
    await mkdir(join(dir, "broken", "1"), { recursive: true });
    await writeFile(join(dir, "broken", "1", "model.onnx"), "not an onnx graph");
    proc = await startNode({
      name: "fleet-a",
      modelsDir: dir,
      models: ["mlp"],
      repositoryToken: TOKEN,
      // Long enough for the index to be read while an unload drains; only that test waits on it.
      args: ["--max-models", "3", "--drain-delay-ms", "500"],
    });
    node = { name: proc.name, address: proc.address, token: TOKEN };
  });
  after(async () => {
    client.close();
    await proc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("index: every version on disk with its state and reason, and the node's capacity", async () => {
    const index = await client.index(node);
    assert.deepEqual(byKey(index.versions), {
      "broken/1": "UNAVAILABLE",
      "mlp/1": "READY",
      "scale/1": "UNAVAILABLE",
      "scale/2": "UNAVAILABLE",
      "scale/3": "UNAVAILABLE",
    });
    assert.ok(index.versions.filter((v) => v.state === "UNAVAILABLE").every((v) => v.reason === "unloaded"));
    assert.equal(index.capacity?.models, 1);
    assert.equal(index.capacity?.maxModels, 3);
    assert.ok((index.capacity?.memoryBytes ?? 0) > 10_000_000, JSON.stringify(index.capacity));
    // The same figures on /metrics, for dashboards.
    const metrics = await proc.metrics();
    assert.equal(metricValue(metrics, "inferencehub_node_model_versions"), 1);
    assert.equal(metricValue(metrics, "inferencehub_node_model_versions_max"), 3);
    const ready = await client.index(node, { readyOnly: true });
    assert.deepEqual(byKey(ready.versions), { "mlp/1": "READY" });
  });

  test("load of one version loads that version only; naming two replaces the set", async () => {
    await client.load(node, "scale", "2");
    assert.equal(await client.modelReady(node, "scale", "2"), true);
    assert.equal(await client.modelReady(node, "scale", "1"), false);
    assert.equal(await client.modelReady(node, "scale", "3"), false);
    await client.load(node, "scale", ["2", "3"]);
    assert.equal(await client.modelReady(node, "scale", "3"), true);
    const index = await client.index(node);
    assert.equal(byKey(index.versions)["scale/2"], "READY");
    assert.equal(byKey(index.versions)["scale/1"], "UNAVAILABLE");
    assert.equal(index.capacity?.models, 3);
  });

  test("past --max-models: RESOURCE_EXHAUSTED with the limit named, the refusal in the index, nothing unloaded", async () => {
    await assert.rejects(
      client.load(node, "broken"),
      isRepositoryError(
        status.RESOURCE_EXHAUSTED,
        /^RepositoryModelLoad broken on node fleet-a \(127\.0\.0\.1:\d+\): RESOURCE_EXHAUSTED: .*node full: 3 of 3 .*--max-models 3.*unload a model first \(the node is full\)$/,
      ),
    );
    const index = await client.index(node);
    const broken = index.versions.find((v) => v.model === "broken");
    assert.equal(broken?.state, "UNAVAILABLE");
    assert.match(broken?.reason ?? "", /^node full/);
    assert.equal(byKey(index.versions)["mlp/1"], "READY");
    assert.equal(index.capacity?.models, 3);
  });

  test("a version that fails to load: INTERNAL with the load error, and the index keeps it as the reason", async () => {
    await client.unload(node, "mlp");
    await assert.rejects(
      client.load(node, "broken", "1"),
      isRepositoryError(status.INTERNAL, /version '1' could not be loaded: ./),
    );
    const broken = (await client.index(node)).versions.find((v) => v.model === "broken");
    assert.equal(broken?.state, "UNAVAILABLE");
    assert.ok(
      broken && broken.reason !== "unloaded" && !broken.reason.startsWith("node full"),
      broken?.reason,
    );
    assert.ok(!broken.reason.includes(dir), `no server path in: ${broken.reason}`);
  });

  test("a version or model that is not there, and an unload of what is not loaded: NOT_FOUND", async () => {
    await assert.rejects(
      client.load(node, "scale", "9"),
      isRepositoryError(status.NOT_FOUND, /no version 9 .*\(it has 1, 2, 3\)/),
    );
    await assert.rejects(client.load(node, "absent"), isRepositoryError(status.NOT_FOUND, /absent/));
    await assert.rejects(
      client.unload(node, "mlp"),
      isRepositoryError(status.NOT_FOUND, /'mlp' is not served by this node/),
    );
    assert.equal(await client.modelReady(node, "absent", ""), false);
  });

  test("an unload reports UNLOADING while it drains, then UNAVAILABLE 'unloaded'", async () => {
    const unloading = client.unload(node, "scale");
    const seen = await waitForIndex(
      async () => (await client.index(node)).versions,
      (vs) => vs.some((v) => v.model === "scale" && v.state === "UNLOADING"),
      5_000,
    );
    assert.deepEqual(
      seen
        .filter((v) => v.model === "scale" && v.state !== "UNAVAILABLE")
        .map((v) => `${v.version} ${v.state}`),
      ["2 UNLOADING", "3 UNLOADING"],
    );
    await unloading;
    const after = (await client.index(node)).versions.filter((v) => v.model === "scale");
    assert.ok(
      after.every((v) => v.state === "UNAVAILABLE" && v.reason === "unloaded"),
      JSON.stringify(after),
    );
  });

  test(
    "the stock tritonclient reads the same index and loads one version with a config override",
    {
      skip: existsSync(tritonPython) ? false : `no ${tritonPython} (scripts/setup.sh installs it)`,
    },
    async () => {
      // Triton's own client, as an operator's existing tooling would call the node.
      const script = [
        "import json, sys",
        "import tritonclient.grpc as g",
        "c = g.InferenceServerClient(sys.argv[1])",
        "h = {'x-inferencehub-repository-token': sys.argv[2]}",
        "c.load_model('mlp', headers=h, config=json.dumps({'version_policy': {'specific': {'versions': [1]}}}))",
        "index = c.get_model_repository_index(headers=h, as_json=True)",
        "print(json.dumps({'index': index, 'ready': c.is_model_ready('mlp', '1')}))",
      ].join("\n");
      const { stdout } = await run(tritonPython, ["-c", script, node.address, TOKEN]);
      const out = JSON.parse(stdout) as { index: { models: Array<Record<string, string>> }; ready: boolean };
      assert.equal(out.ready, true);
      const mlp = out.index.models.find((m) => m.name === "mlp");
      assert.deepEqual(mlp, { name: "mlp", version: "1", state: "READY" });
      const broken = out.index.models.find((m) => m.name === "broken");
      assert.equal(broken?.state, "UNAVAILABLE");
      assert.ok(broken?.reason, "the reason reaches a stock client");
      await client.unload(node, "mlp");
    },
  );

  test("without the operator token: PERMISSION_DENIED, saying so", async () => {
    await assert.rejects(
      client.index({ name: node.name, address: node.address }),
      isRepositoryError(
        status.PERMISSION_DENIED,
        /operator token \(x-inferencehub-repository-token\).*\(the node wants its operator token\)/,
      ),
    );
  });
});

const mlserverMissing = mlserverUnavailableReason();
const requireMlserver = Boolean(process.env.INFERENCEHUB_REQUIRE_MLSERVER);
if (mlserverMissing && !requireMlserver) console.log(`# skipping the MLServer part: ${mlserverMissing}`);

describe(
  "repository client against the stock MLServer",
  { skip: (!requireMlserver && mlserverMissing) || false },
  () => {
    let dir: string;
    let mls: MlserverProcess;
    let node: RepositoryNode;
    const client = createRepositoryClient();

    before(async () => {
      if (mlserverMissing) throw new Error(`INFERENCEHUB_REQUIRE_MLSERVER is set but ${mlserverMissing}`);
      // test/mlserver's `scale` runtime (versions 2 and 3, and an unversioned model), plus a model
      // whose load fails: the runtime wants k and b in parameters.extra.
      dir = await mkdtemp(join(tmpdir(), "inferencehub-fleet-mlserver-"));
      await cp(mlserverTestRepository, dir, { recursive: true });
      await mkdir(join(dir, "broken"));
      await writeFile(
        join(dir, "broken", "model-settings.json"),
        JSON.stringify({
          name: "broken",
          implementation: "scale_model.ScaleModel",
          parameters: { version: "1" },
        }),
      );
      // Nothing loaded at start: the client does it, as a reconciler would.
      mls = await startMlserver({
        name: "mlserver-fleet",
        repository: dir,
        settings: { load_models_at_startup: false },
      });
      // MLServer ignores the token; sending it shows that a reconciler may send it to every node.
      node = { name: mls.name, address: mls.address, token: TOKEN };
    });
    after(async () => {
      client.close();
      await mls?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("index: every model version it has, UNAVAILABLE with no reason, no capacity", async () => {
      const index = await client.index(node);
      assert.deepEqual(byKey(index.versions), {
        "broken/1": "UNAVAILABLE",
        "scale-unversioned/": "UNAVAILABLE",
        "scale/2": "UNAVAILABLE",
        "scale/3": "UNAVAILABLE",
      });
      // MLServer writes "State.UNAVAILABLE"; the client reads Triton's word, with nothing left over.
      assert.ok(index.versions.every((v) => v.reason === "" && v.rawState === undefined));
      assert.equal(index.capacity, undefined);
    });

    test("a load naming one version loads every version of the model (MLServer ignores load parameters)", async () => {
      await client.load(node, "scale", "2");
      assert.equal(await client.modelReady(node, "scale", "2"), true);
      assert.equal(await client.modelReady(node, "scale", "3"), true, "MLServer loaded version 3 too");
      const index = await client.index(node);
      assert.equal(byKey(index.versions)["scale/2"], "READY");
      assert.equal(byKey(index.versions)["scale/3"], "READY");
      assert.deepEqual(
        (await client.index(node, { readyOnly: true })).versions.map((v) => `${v.model}/${v.version}`).sort(),
        ["scale/2", "scale/3"],
      );
    });

    test("an unversioned model: version '' in the index and for ModelReady", async () => {
      await client.load(node, "scale-unversioned");
      assert.equal(await client.modelReady(node, "scale-unversioned", ""), true);
      assert.equal(await client.modelReady(node, "scale-unversioned", "1"), false);
      assert.equal(byKey((await client.index(node)).versions)["scale-unversioned/"], "READY");
    });

    test("a load that fails: INTERNAL with the runtime's message; the index gives no reason", async () => {
      await assert.rejects(
        client.load(node, "broken"),
        isRepositoryError(
          status.INTERNAL,
          /RepositoryModelLoad broken on node mlserver-fleet .*: INTERNAL: .*needs k and b/,
        ),
      );
      const broken = (await client.index(node)).versions.find((v) => v.model === "broken");
      assert.deepEqual(broken, { model: "broken", version: "1", state: "UNAVAILABLE", reason: "" });
    });

    test("unload: the model is no longer ready (ModelReady's UNKNOWN ModelNotFound reads as false)", async () => {
      await client.unload(node, "scale");
      assert.equal(await client.modelReady(node, "scale", "2"), false);
      assert.equal(await client.modelReady(node, "scale", "3"), false);
      const index = await client.index(node);
      assert.equal(byKey(index.versions)["scale/2"], "UNAVAILABLE");
      assert.equal(byKey(index.versions)["scale-unversioned/"], "READY");
    });

    test("what is not there: NOT_FOUND for load and unload, a name it cannot hold included", async () => {
      await assert.rejects(
        client.unload(node, "scale"),
        isRepositoryError(status.NOT_FOUND, /Model scale not found/),
      );
      await assert.rejects(
        client.load(node, "absent"),
        isRepositoryError(status.NOT_FOUND, /Model absent not found/),
      );
      await assert.rejects(client.load(node, "../etc"), isRepositoryError(status.NOT_FOUND, /not found/));
    });
  },
);
