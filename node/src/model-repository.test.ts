// issue #10 finding 2: model names are checked before any path is built, and what a client reads
// (error messages, RepositoryIndex reasons) never shows the server's paths.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { GatewayError } from "@inferencehub/contracts/errors";
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
