import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "@inferencehub/contracts/config";
import { buildIR, unknownHealth } from "./index.js";

const yaml = (pin: string) => `
nodes: [{ name: a, address: "127.0.0.1:9001" }]
models:
  - name: scale
    ${pin}
    versions:
      - { version: "1", weight: 90, nodes: [a] }
      - { version: "2", weight: 10, nodes: [a] }
`;

test("a pin sends every call to the pinned version, whatever the weights", () => {
  const parsed = parseConfig(yaml('pin: "2"'));
  assert.ok(parsed.ok);
  const ir = buildIR(parsed.value, unknownHealth);
  assert.deepEqual(
    ir.models[0]!.versions.map((v) => [v.version, v.weight]),
    [
      ["1", 0],
      ["2", 100],
    ],
  );
  assert.deepEqual(
    parsed.value.models[0]!.versions.map((v) => v.weight),
    [90, 10],
    "the weights are kept for unpin",
  );
});

test("a pin naming an unknown version is refused with its path", () => {
  const parsed = parseConfig(yaml('pin: "7"'));
  assert.ok(!parsed.ok);
  assert.deepEqual(
    parsed.errors.map((e) => [e.path, e.message]),
    [["models[0].pin", "pins unknown version '7' (versions: 1, 2)"]],
  );
});
