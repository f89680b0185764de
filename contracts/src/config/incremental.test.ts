import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigAssembler, type ModelEntry } from "./incremental.js";
import { parseConfigValue } from "./parse.js";
import type { RawConfig, RawModel } from "./raw.js";

type Rest = Omit<RawConfig, "models">;

const rest: Rest = {
  listener: { port: 8080 },
  defaults: { timeout: "5s" },
  nodes: [
    { name: "a", address: "127.0.0.1:9001", versionPorts: [{ model: "m01", version: "2", port: 9101 }] },
    { name: "b", address: "127.0.0.1:9002" },
  ],
  auth: {
    extAuthz: { address: "127.0.0.1:19000" },
    keysFile: "keys.yaml",
    tenants: [{ name: "t", models: [{ name: "m02", versions: ["1"] }, "m03"] }],
  },
};
const model = (i: number, weights: [number, number] = [100, 0], nodes = ["a", "b"]): RawModel => ({
  name: `m${String(i).padStart(2, "0")}`,
  versions: [
    { version: "1", weight: weights[0], nodes },
    { version: "2", weight: weights[1], nodes },
  ],
});
const entries = (models: RawModel[]): ModelEntry[] =>
  models.map((raw) => ({ raw, text: JSON.stringify(raw) }));

/** The assembler's answer is parseConfigValue's for the whole config (errors in any order). */
function sameAsWhole(assembler: ConfigAssembler, r: Rest, models: RawModel[]): boolean {
  const got = assembler.assemble(r, entries(models));
  const want = parseConfigValue({ ...r, models });
  if (want.ok) {
    assert.ok(got.ok, JSON.stringify(!got.ok && got.errors));
    assert.deepEqual(got.value, want.value);
    return true;
  }
  assert.ok(!got.ok, "the assembler accepted what the whole check refuses");
  const lines = (errors: { path: string; message: string }[]) =>
    errors.map((e) => `${e.path}: ${e.message}`).sort();
  assert.deepEqual(lines(got.errors), lines(want.errors));
  return false;
}

test("model by model, the assembler gives what the whole check gives, accepted or refused", () => {
  const assembler = new ConfigAssembler();
  const models = Array.from({ length: 20 }, (_, i) => model(i));
  assert.equal(sameAsWhole(assembler, rest, models), true);
  // One model's weights.
  models[5] = model(5, [30, 70]);
  assert.equal(sameAsWhole(assembler, rest, models), true);
  // Weights that do not add up, and an unknown node: refused, the model named by its index.
  const refused = [...models];
  refused[7] = model(7, [30, 60]);
  refused[8] = model(8, [100, 0], ["a", "nope"]);
  assert.equal(sameAsWhole(assembler, rest, refused), false);
  // A refusal leaves nothing behind: the models as they were are accepted again.
  assert.equal(sameAsWhole(assembler, rest, models), true);
  // A model a grant names (m02, version 1) and one a version port names (m01 version 2), removed
  // or changed: the rules across models refuse it.
  assert.equal(
    sameAsWhole(
      assembler,
      rest,
      models.filter((m) => m.name !== "m03"),
    ),
    false,
  );
  const noVersionTwo = [...models];
  noVersionTwo[1] = { name: "m01", versions: [{ version: "1", weight: 100, nodes: ["a"] }] };
  assert.equal(sameAsWhole(assembler, rest, noVersionTwo), false);
  // A schema problem in one model.
  const badField = [...models];
  badField[3] = { ...model(3), timeout: "soon" } as RawModel;
  assert.equal(sameAsWhole(assembler, rest, badField), false);
  // A new model, and the settings changed (every model follows the new defaults).
  models.push(model(20, [0, 100]));
  assert.equal(sameAsWhole(assembler, rest, models), true);
  assert.equal(sameAsWhole(assembler, { ...rest, defaults: { timeout: "9s" } }, models), true);
  assert.equal(sameAsWhole(assembler, { ...rest, defaults: { timeout: "9s" } }, models.slice(0, 19)), true);
});

test("a model unchanged since the last call keeps its normalized form (no work, the same object)", () => {
  const assembler = new ConfigAssembler();
  const models = Array.from({ length: 5 }, (_, i) => model(i));
  const first = assembler.assemble(rest, entries(models));
  models[2] = model(2, [50, 50]);
  const second = assembler.assemble(rest, entries(models));
  assert.ok(first.ok && second.ok);
  assert.equal(second.value.models[0], first.value.models[0]);
  assert.notEqual(second.value.models[2], first.value.models[2]);
});
