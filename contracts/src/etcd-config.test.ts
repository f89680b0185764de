import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig, parseConfigValue, type RawConfig } from "./config/index.js";
import { assemble, entriesOf, etcdLayout, keyRole } from "./etcd-config.js";

const layout = etcdLayout("/ih");
const raw: RawConfig = {
  listener: { port: 8080 },
  nodes: [
    { name: "node-b", address: "127.0.0.1:9002" },
    { name: "node-a", address: "127.0.0.1:9001" },
  ],
  models: [
    { name: "resnet", versions: [{ version: "1", weight: 100, nodes: ["node-a", "node-b"] }] },
    { name: "bert", versions: [{ version: "1", weight: 100, nodes: ["node-a"] }], timeout: "2s" },
  ],
};
const valuesOf = (entries: Map<string, string>) =>
  new Map([...entries].map(([k, v]) => [k, JSON.parse(v) as unknown]));

test("the prefix gets one trailing slash; keys are settings, version, and one per model and node", () => {
  assert.equal(etcdLayout("/ih").configPrefix, "/ih/config/");
  assert.equal(etcdLayout("/ih/").configPrefix, "/ih/config/");
  assert.deepEqual(keyRole(layout, "/ih/config/settings"), { role: "settings" });
  assert.deepEqual(keyRole(layout, "/ih/config/version"), { role: "version" });
  assert.deepEqual(keyRole(layout, "/ih/config/models/resnet"), {
    role: "entry",
    list: "models",
    name: "resnet",
  });
  assert.deepEqual(keyRole(layout, "/ih/config/nodes/a"), { role: "entry", list: "nodes", name: "a" });
  assert.deepEqual(keyRole(layout, "/ih/config/models/"), { role: "other" });
  assert.deepEqual(keyRole(layout, "/ih/other"), { role: "other" });
});

test("a config split into entries assembles back to the same config, models and nodes in key order", () => {
  const entries = entriesOf(layout, raw);
  assert.deepEqual([...entries.keys()].sort(), [
    "/ih/config/models/bert",
    "/ih/config/models/resnet",
    "/ih/config/nodes/node-a",
    "/ih/config/nodes/node-b",
    "/ih/config/settings",
  ]);
  assert.deepEqual(JSON.parse(entries.get("/ih/config/settings")!), { listener: { port: 8080 } });
  const { raw: back, errors } = assemble(layout, valuesOf(entries));
  assert.deepEqual(errors, []);
  assert.deepEqual(
    back.models?.map((m) => m.name),
    ["bert", "resnet"],
  );
  assert.deepEqual(
    back.nodes?.map((n) => n.name),
    ["node-a", "node-b"],
  );
  // The same meaning as the file: only the order of the lists differs.
  const fromFile = parseConfig(JSON.stringify(raw));
  const fromEtcd = parseConfigValue(back);
  assert.ok(fromFile.ok && fromEtcd.ok);
  const byName = <T extends { name: string }>(l: T[]) => [...l].sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(byName(fromEtcd.value.models), byName(fromFile.value.models));
  assert.deepEqual(byName(fromEtcd.value.nodes), byName(fromFile.value.nodes));
  assert.deepEqual(fromEtcd.value.listener, fromFile.value.listener);
});

test("entries that cannot make a config are errors naming their key", () => {
  const values = valuesOf(entriesOf(layout, raw));
  values.set("/ih/config/models/bert", "not an object");
  values.set("/ih/config/models/resnet", { ...raw.models![0], name: "other" });
  values.set("/ih/config/settings", { listener: { port: 8080 }, models: [] });
  values.set("/ih/config/version", { anything: true });
  const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
  assert.deepEqual(assemble(layout, values).errors.sort(byPath), [
    { path: "/ih/config/models/bert", message: "expected a JSON object" },
    { path: "/ih/config/models/resnet", message: `the entry's name is "other", not its key's 'resnet'` },
    { path: "/ih/config/settings", message: "models belong in keys of their own, not in settings" },
  ]);
  values.delete("/ih/config/settings");
  assert.ok(
    assemble(layout, values).errors.some((e) => e.path === "/ih/config/settings" && e.message === "missing"),
  );
});

test("parseConfigValue gives the same errors as parseConfig, without positions", () => {
  const bad = {
    ...raw,
    models: [{ name: "bert", versions: [{ version: "1", weight: 90, nodes: ["node-a"] }] }],
  };
  const fromFile = parseConfig(JSON.stringify(bad));
  const fromValue = parseConfigValue(bad, "etcd");
  assert.ok(!fromFile.ok && !fromValue.ok);
  assert.deepEqual(
    fromValue.errors.map((e) => [e.path, e.message, e.source]),
    fromFile.errors.map((e) => [e.path, e.message, "etcd"]),
  );
});
