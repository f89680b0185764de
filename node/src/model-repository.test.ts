// issue #10 finding 2: model names are checked before any path is built, and what a client reads
// (error messages, RepositoryIndex reasons) never shows the server's paths.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { GatewayError } from "@inferencehub/contracts/errors";
import { modelsDir } from "../../scripts/lib/paths.js";
import { checkModelName, ModelRepository } from "./model-repository.js";

const root = mkdtempSync(join(tmpdir(), "inferencehub-repo-"));
after(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, "broken", "1"), { recursive: true });
writeFileSync(join(root, "broken", "1", "model.onnx"), "not an onnx graph");
mkdirSync(join(root, "Not_A_Model", "1"), { recursive: true });
const repository = new ModelRepository({ root, log: pino({ level: "silent" }) });

const invalid = (err: unknown) => {
  assert.ok(err instanceof GatewayError, String(err));
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.match(err.message, /is not a model name/);
  return true;
};

test("model names follow the config's rule (a DNS label)", () => {
  for (const ok of ["a", "mlp", "scale-2", "0", "a".repeat(63)])
    assert.doesNotThrow(() => checkModelName(ok));
  for (const bad of ["", "..", "../../etc", "a/b", "/etc", "A", "a_b", "-a", "a-", "a".repeat(64), "a\u0000"])
    assert.throws(() => checkModelName(bad), invalid, JSON.stringify(bad));
});

test("load refuses a path as a model name before touching the disk", async () => {
  await assert.rejects(repository.load("../../etc"), invalid);
  await assert.rejects(repository.load(".."), invalid);
});

test("a model not on disk is NOT_FOUND, and the message has no path", async () => {
  await assert.rejects(repository.load("absent"), (err) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, status.NOT_FOUND);
    assert.ok(!err.message.includes(root), err.message);
    return true;
  });
});

test("a version that fails to load: the index reason has no server path", async () => {
  await assert.rejects(repository.load("broken"), (err) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, status.INTERNAL);
    assert.ok(!err.message.includes(root), err.message);
    return true;
  });
  const entry = repository.index(false).find((e) => e.name === "broken");
  assert.ok(entry);
  assert.equal(entry.state, "UNAVAILABLE");
  assert.notEqual(entry.reason, "");
  assert.ok(!entry.reason.includes(root), entry.reason);
  assert.ok(!/(^|[\s'"(=:])\//.test(entry.reason), `no absolute path in: ${entry.reason}`);
});

test("a directory whose name is no model name is not listed (nor loaded by loadAll)", async () => {
  assert.deepEqual(repository.onDisk(), ["broken"]);
});

// issue #18: what a reconciler reads from the repository: a state per version, a reason when it is
// not loaded, which versions a load takes, and a limit on loaded versions.
const fleetRoot = mkdtempSync(join(tmpdir(), "inferencehub-repo-fleet-"));
after(() => rmSync(fleetRoot, { recursive: true, force: true }));
cpSync(join(modelsDir, "scale"), join(fleetRoot, "scale"), { recursive: true });
cpSync(join(modelsDir, "mlp"), join(fleetRoot, "mlp"), { recursive: true });
mkdirSync(join(fleetRoot, "broken", "1"), { recursive: true });
writeFileSync(join(fleetRoot, "broken", "1", "model.onnx"), "not an onnx graph");

const fleetRepository = (maxModels?: number) =>
  new ModelRepository({
    root: fleetRoot,
    log: pino({ level: "silent" }),
    ...(maxModels !== undefined ? { maxModels } : {}),
  });

const states = (repo: ModelRepository, unloading?: ReadonlySet<string>) =>
  Object.fromEntries(repo.index(false, unloading).map((e) => [`${e.name}/${e.version}`, e.state]));

const isCode = (code: status, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof GatewayError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.message, pattern);
  return true;
};

test("a version policy loads exactly the versions it names; a reload drops the others", async () => {
  const repo = fleetRepository();
  await repo.load("scale", { kind: "specific", versions: ["2"] });
  assert.deepEqual(repo.versions("scale"), ["2"]);
  assert.deepEqual(states(repo), {
    "broken/1": "UNAVAILABLE",
    "mlp/1": "UNAVAILABLE",
    "scale/1": "UNAVAILABLE",
    "scale/2": "READY",
    "scale/3": "UNAVAILABLE",
  });
  await repo.load("scale", { kind: "latest", count: 2 });
  assert.deepEqual(repo.versions("scale"), ["2", "3"]);
  await repo.load("scale", { kind: "specific", versions: ["1"] });
  assert.deepEqual(repo.versions("scale"), ["1"]);
  assert.deepEqual(
    repo.index(true).map((e) => `${e.name}/${e.version}`),
    ["scale/1"],
  );
  await repo.unloadAll();
});

test("a version not on disk is NOT_FOUND, naming the versions there, and nothing changes", async () => {
  const repo = fleetRepository();
  await repo.load("scale", { kind: "specific", versions: ["2"] });
  await assert.rejects(
    repo.load("scale", { kind: "specific", versions: ["2", "9"] }),
    isCode(status.NOT_FOUND, /no version 9 .*\(it has 1, 2, 3\)/),
  );
  assert.deepEqual(repo.versions("scale"), ["2"]);
  await repo.unloadAll();
});

test("a version that fails to load is UNAVAILABLE with the error as its reason; loading it alone says why", async () => {
  const repo = fleetRepository();
  await assert.rejects(
    repo.load("broken", { kind: "specific", versions: ["1"] }),
    isCode(status.INTERNAL, /version '1' could not be loaded: ./),
  );
  const entry = repo.index(false).find((e) => e.name === "broken");
  assert.equal(entry?.state, "UNAVAILABLE");
  assert.notEqual(entry?.reason, "unloaded");
  assert.equal(repo.index(false).find((e) => e.name === "mlp")?.reason, "unloaded");
});

test("--max-models: a load past the limit is RESOURCE_EXHAUSTED, its versions say why, and a reload counts in place of the old", async () => {
  const repo = fleetRepository(3);
  await repo.load("scale"); // 3 versions: full
  assert.deepEqual(repo.capacity().models, 3);
  assert.equal(repo.capacity().maxModels, 3);
  assert.ok(repo.capacity().memoryBytes > 0);
  await assert.rejects(
    repo.load("mlp"),
    isCode(
      status.RESOURCE_EXHAUSTED,
      /needs 1 model version\(s\) but node full: 3 of 3 .*--max-models 3.*unload a model first/,
    ),
  );
  const tooMany = fleetRepository(2);
  await assert.rejects(
    tooMany.load("scale"),
    isCode(
      status.RESOURCE_EXHAUSTED,
      /needs 3 .* more versions than the node takes \(--max-models 2\); name fewer/,
    ),
  );
  const mlp = repo.index(false).find((e) => e.name === "mlp");
  assert.equal(mlp?.state, "UNAVAILABLE");
  assert.match(mlp?.reason ?? "", /^node full/);
  // Reloading scale with fewer versions fits, and frees room for mlp.
  await repo.load("scale", { kind: "specific", versions: ["3"] });
  await repo.load("mlp");
  assert.equal(repo.capacity().models, 2);
  assert.equal(repo.index(false).find((e) => e.name === "mlp")?.state, "READY");
  await repo.unloadAll();
  assert.equal(repo.capacity().models, 0);
});

test("--max-models holds under concurrent loads of different models", async () => {
  const repo = fleetRepository(3);
  const results = await Promise.allSettled([repo.load("scale"), repo.load("mlp")]);
  const refused = results.filter((r) => r.status === "rejected");
  assert.equal(refused.length, 1, JSON.stringify(results.map((r) => r.status)));
  assert.ok(repo.capacity().models <= 3);
  await repo.unloadAll();
});

test("states: LOADING while a load runs, UNLOADING while an unload drains, then UNAVAILABLE 'unloaded'", async () => {
  const repo = fleetRepository();
  const loading = repo.load("scale", { kind: "specific", versions: ["1"] });
  // The load takes its reservation in its first step; wait for that step, not for the load.
  await new Promise((r) => setImmediate(r));
  assert.equal(states(repo)["scale/1"], "LOADING");
  assert.equal(repo.capacity().models, 1);
  await loading;
  assert.equal(states(repo)["scale/1"], "READY");
  assert.equal(states(repo, new Set(["scale"]))["scale/1"], "UNLOADING");
  await repo.unload("scale");
  const entry = repo.index(false).find((e) => e.name === "scale" && e.version === "1");
  assert.deepEqual(entry, { name: "scale", version: "1", state: "UNAVAILABLE", reason: "unloaded" });
});
