import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig, type Config } from "@inferencehub/contracts/config";
import { assign, type NodeFacts } from "./placement.js";
import { createPlacedConfigMemo, placedConfig } from "./placed-config.js";

function config(versions: string, nodes = 4): Config {
  const r = parseConfig(
    `listener: { address: 127.0.0.1, port: 8080 }
pools: [cpu, gpu]
nodes:
${Array.from({ length: nodes }, (_, i) => `  - { name: n${i}, address: "127.0.0.1:${9001 + i}", pool: ${i === 3 ? "gpu" : "cpu"}, labels: { zone: "${i % 2 === 0 ? "a" : "b"}" } }`).join("\n")}
models:
  - name: m
    versions:
      - { version: "1", weight: 100, nodes: [n0] }
${versions}`,
    "test.yaml",
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const up =
  (load: Record<string, number> = {}, extra: Record<string, Partial<NodeFacts>> = {}) =>
  (node: string): NodeFacts => ({ alive: true, load: load[node] ?? 0, freeSlots: Infinity, ...extra[node] });
const none = () => false;

test("a count of replicas goes to the least loaded eligible nodes, config order on ties", () => {
  const cfg = config(`      - { version: "2", weight: 0, placement: { pool: cpu, replicas: 2 } }`);
  const out = assign({ config: cfg, current: new Map(), facts: up({ n0: 1 }), excluded: none });
  assert.deepEqual(out.get("m/2"), ["n1", "n2"]);
});

test("several versions spread over the nodes as they are assigned", () => {
  const cfg = config(`      - { version: "2", weight: 0, placement: { replicas: 1 } }
      - { version: "3", weight: 0, placement: { replicas: 1 } }
      - { version: "4", weight: 0, placement: { replicas: 1 } }`);
  const out = assign({ config: cfg, current: new Map(), facts: up(), excluded: none });
  assert.deepEqual([out.get("m/2"), out.get("m/3"), out.get("m/4")], [["n0"], ["n1"], ["n2"]]);
});

test("sticky: a node keeps its version while eligible, up and not failing", () => {
  const cfg = config(`      - { version: "2", weight: 0, placement: { replicas: 1 } }`);
  const current = new Map([["m/2", ["n3"]]]);
  assert.deepEqual(assign({ config: cfg, current, facts: up({ n3: 5 }), excluded: none }).get("m/2"), ["n3"]);
  const down = up({}, { n3: { alive: false } });
  assert.deepEqual(assign({ config: cfg, current, facts: down, excluded: none }).get("m/2"), ["n0"]);
  const failing = (node: string) => node === "n3";
  assert.deepEqual(assign({ config: cfg, current, facts: up(), excluded: failing }).get("m/2"), ["n0"]);
});

test("pools, labels, drained nodes and room restrict the choice", () => {
  const cfg = config(
    `      - { version: "2", weight: 0, placement: { pools: [cpu, gpu], replicas: 4, labels: { zone: b } } }`,
  );
  assert.deepEqual(assign({ config: cfg, current: new Map(), facts: up(), excluded: none }).get("m/2"), [
    "n1",
    "n3",
  ]);
  const full = up({}, { n1: { freeSlots: 0 } });
  assert.deepEqual(assign({ config: cfg, current: new Map(), facts: full, excluded: none }).get("m/2"), [
    "n3",
  ]);
  const drained = { ...cfg, nodes: cfg.nodes.map((n) => (n.name === "n3" ? { ...n, drain: true } : n)) };
  assert.deepEqual(assign({ config: drained, current: new Map(), facts: up(), excluded: none }).get("m/2"), [
    "n1",
  ]);
});

test("a node that is not known to be up gets no new replica; 'all' takes every eligible node", () => {
  const cfg = config(`      - { version: "2", weight: 0, placement: { replicas: 1 } }
      - { version: "3", weight: 0, placement: { pool: cpu, replicas: all } }`);
  const unknown = () => ({ alive: undefined, load: 0, freeSlots: Infinity });
  const out = assign({ config: cfg, current: new Map(), facts: unknown, excluded: none });
  assert.deepEqual(out.get("m/2"), []);
  assert.deepEqual(out.get("m/3"), ["n0", "n1", "n2"]);
});

test("placedConfig fills placed versions with their ready nodes and keeps unchanged models", () => {
  const cfg = config(`      - { version: "2", weight: 0, placement: { replicas: 2 } }`);
  const memo = createPlacedConfigMemo();
  const ready = new Map<string, string[]>([["m/2", ["n2", "n1", "gone"]]]);
  const first = placedConfig(cfg, (k) => ready.get(k) ?? [], memo);
  assert.deepEqual(
    first.models[0]!.versions.map((v) => v.nodes),
    [["n0"], ["n1", "n2"]],
    "config order; nodes not in the config left out",
  );
  assert.equal(placedConfig(cfg, (k) => ready.get(k) ?? [], memo).models[0], first.models[0]);
  ready.set("m/2", ["n1"]);
  assert.deepEqual(placedConfig(cfg, (k) => ready.get(k) ?? [], memo).models[0]!.versions[1]!.nodes, ["n1"]);
  const plain = config("");
  assert.equal(
    placedConfig(plain, () => []),
    plain,
    "no placed version: the same config",
  );
});
