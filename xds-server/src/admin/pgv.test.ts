import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../paths.js";
import { RuleSet } from "./pgv.js";

const rules = RuleSet.load(
  join(repoRoot, "proto/inferencehub/admin/v1/admin.proto"),
  "inferencehub.admin.v1",
);

test("the admin API's own rules accept a good request and name every broken field", () => {
  const good = { baseVersion: "abc", model: "scale", version: "4", nodes: ["node-1"], weight: 10 };
  assert.deepEqual(rules.check("AddVersionRequest", good), []);
  const bad = { baseVersion: "", model: "Scale!", version: "4.1", nodes: ["a", "a"], weight: 101 };
  assert.deepEqual(
    rules.check("AddVersionRequest", bad).map((v) => v.field),
    ["base_version", "model", "version", "nodes", "weight"],
  );
  assert.match(rules.check("AddVersionRequest", bad).find((v) => v.field === "weight")!.message, /<= 100/);
});

test("map and repeated rules", () => {
  assert.deepEqual(
    rules
      .check("SetWeightsRequest", { baseVersion: "v", model: "m", weights: {} })
      .map((v) => [v.field, v.message]),
    [["weights", "needs at least 1 entry"]],
  );
  assert.deepEqual(
    rules.check("AddVersionRequest", {
      baseVersion: "v",
      model: "m",
      version: "1",
      nodes: ["a", "a"],
      weight: 0,
    }),
    [{ field: "nodes", message: "items must be unique" }],
  );
});

test("a rule the interpreter does not enforce fails at load, so none goes unchecked", () => {
  const dir = mkdtempSync(join(tmpdir(), "pgv-"));
  const file = join(dir, "x.proto");
  writeFileSync(
    file,
    'syntax = "proto3"; package x; import "validate/validate.proto"; message M { string s = 1 [(validate.rules).string = {email: true}]; }',
  );
  assert.throws(() => RuleSet.load(file, "x"), /M\.s: rule string\.email is not enforced/);
});

test("issue #10 finding 7: JSON values of the wrong type are named, not coerced", () => {
  assert.deepEqual(
    rules.checkJson("AddVersionRequest", {
      base_version: "v",
      model: "m",
      version: 3,
      nodes: "a",
      weight: "7",
    }),
    [
      { field: "version", message: "must be a string, got number 3" },
      { field: "nodes", message: 'must be an array, got string "a"' },
    ],
  );
  assert.deepEqual(
    rules
      .checkJson("SetWeightsRequest", { baseVersion: "v", weights: { "1": 1.5, "2": "x", "3": 4 } })
      .map((v) => v.field),
    ['weights["1"]', 'weights["2"]'],
  );
  assert.deepEqual(rules.checkJson("SetWeightsRequest", { weights: null, model: null, extra: [] }), []);
});
