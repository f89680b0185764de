import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { parse } from "yaml";
import { applyEdit, rescale } from "./edits.js";
import { AdminError } from "./errors.js";

const file = `# routing for the demo (kept by every edit)
nodes:
  - { name: node-1, address: "127.0.0.1:9001" } # the first node
  - { name: node-2, address: "127.0.0.1:9002" }
models:
  # the canary
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [node-1, node-2] }
      - { version: "2", weight: 10, nodes: [node-2] }
`;

const models = (text: string) =>
  (
    parse(text) as {
      models: { name: string; versions: { version: string; weight: number }[]; pin?: string }[];
    }
  ).models;

test("rescale keeps proportions with whole numbers that add up", () => {
  assert.deepEqual(rescale([90, 10], 80), [72, 8]);
  assert.deepEqual(rescale([1, 1, 1], 100), [34, 33, 33]);
  assert.deepEqual(rescale([0, 0], 100), [100, 0]);
});

test("edits keep the operator's comments and the one-line style", () => {
  const out = applyEdit(file, { op: "setWeights", model: "scale", weights: { "1": 50, "2": 50 } });
  assert.match(out, /# routing for the demo/);
  assert.match(out, /# the first node/);
  assert.match(out, /# the canary/);
  assert.match(out, /- \{ version: "1", weight: 50, nodes: \[ node-1, node-2 \] \}/);
});

test("add and remove a version: the others keep their proportions", () => {
  const added = applyEdit(file, {
    op: "addVersion",
    model: "scale",
    version: "3",
    nodes: ["node-1"],
    weight: 20,
  });
  assert.deepEqual(
    models(added)[0]!.versions.map((v) => [v.version, v.weight]),
    [
      ["1", 72],
      ["2", 8],
      ["3", 20],
    ],
  );
  const removed = applyEdit(added, { op: "removeVersion", model: "scale", version: "1" });
  assert.deepEqual(
    models(removed)[0]!.versions.map((v) => [v.version, v.weight]),
    [
      ["2", 29],
      ["3", 71],
    ],
  );
});

test("pin, shadow and drain write their fields; unpin and shadow 0 remove them", () => {
  let out = applyEdit(file, { op: "pin", model: "scale", version: "2" });
  assert.equal(models(out)[0]!.pin, "2");
  out = applyEdit(out, { op: "unpin", model: "scale" });
  assert.equal(models(out)[0]!.pin, undefined);
  out = applyEdit(out, { op: "drain", node: "node-2" });
  assert.match(out, /name: node-2, address: "127.0.0.1:9002", drain: true/);
  out = applyEdit(out, { op: "undrain", node: "node-2" });
  assert.doesNotMatch(out, /drain/);
});

test("edits refuse what cannot be: unknown names, duplicates, the last version", () => {
  const code = (c: status) => (err: unknown) => err instanceof AdminError && err.code === c;
  assert.throws(() => applyEdit(file, { op: "pin", model: "nope", version: "1" }), code(status.NOT_FOUND));
  assert.throws(() => applyEdit(file, { op: "pin", model: "scale", version: "9" }), /no version '9'/);
  assert.throws(
    () => applyEdit(file, { op: "addVersion", model: "scale", version: "2", nodes: ["node-1"], weight: 0 }),
    code(status.ALREADY_EXISTS),
  );
  assert.throws(
    () => applyEdit(file, { op: "setWeights", model: "scale", weights: { "1": 100 } }),
    /missing: 2/,
  );
  const single = applyEdit(file, { op: "removeVersion", model: "scale", version: "2" });
  assert.throws(
    () => applyEdit(single, { op: "removeVersion", model: "scale", version: "1" }),
    code(status.FAILED_PRECONDITION),
  );
});
