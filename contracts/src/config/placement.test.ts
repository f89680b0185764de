/**
 * Issue #18's part of the file: versions placed by the control plane (`placement`), node labels,
 * and the reconciler's timings (`fleet`). parse.test.ts holds the rest of the format.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { assemble, entriesOf, etcdLayout } from "../etcd-config.js";
import { defaultFleetSettings } from "./defaults.js";
import { formatErrors } from "./errors.js";
import { formatConfig } from "./format.js";
import { ConfigAssembler } from "./incremental.js";
import { parseConfig, parseConfigValue } from "./parse.js";
import type { RawConfig, RawModel } from "./raw.js";
import type { Config } from "./types.js";

function parsed(text: string): Config {
  const result = parseConfig(text);
  if (!result.ok) assert.fail(`expected a valid config, got:\n${formatErrors(result.errors)}`);
  return result.value;
}

function problems(text: string): string[] {
  const result = parseConfig(text);
  if (result.ok) assert.fail("expected errors, the config is valid");
  return result.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
}

/** Two pools, labelled nodes, a model with one version listed by hand and two placed. */
const placed = `
pools: [cpu, gpu]
nodes:
  - { name: node-1, address: "127.0.0.1:9001", pool: cpu, labels: { zone: a, accel: cpu } }
  - { name: node-2, address: "127.0.0.1:9002", pool: gpu, labels: { topology.kubernetes.io/zone: b } }
models:
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [node-1] }
      - { version: "2", weight: 10, placement: { pool: cpu, replicas: 2, labels: { zone: a } } }
      - { version: "3", weight: 0, placement: { pools: [cpu, gpu], replicas: all } }
`;

/** `placed` with `text` in place of its models. */
const withModels = (text: string, head = placed.slice(0, placed.indexOf("models:"))) =>
  `${head}models:\n${text}`;

test("a placed version has no nodes of its own and its placement normalized; node labels are kept", () => {
  const config = parsed(placed);
  assert.deepEqual(
    config.nodes.map((n) => n.labels),
    [{ zone: "a", accel: "cpu" }, { "topology.kubernetes.io/zone": "b" }],
  );
  assert.deepEqual(config.models[0]?.versions, [
    { version: "1", weight: 90, nodes: ["node-1"], serverVersion: "1" },
    {
      version: "2",
      weight: 10,
      nodes: [],
      serverVersion: "2",
      placement: { pools: ["cpu"], replicas: 2, labels: { zone: "a" } },
    },
    {
      version: "3",
      weight: 0,
      nodes: [],
      serverVersion: "3",
      placement: { pools: ["cpu", "gpu"], replicas: "all", labels: {} },
    },
  ]);
  assert.deepEqual(config.fleet, defaultFleetSettings);
});

test("an empty placement is one replica on any node of any pool", () => {
  const config = parsed(withModels(`  - { name: m, versions: [{ version: "1", placement: {} }] }\n`));
  assert.deepEqual(config.models[0]?.versions[0]?.placement, { pools: [], replicas: 1, labels: {} });
  assert.deepEqual(config.models[0]?.versions[0]?.nodes, []);
});

test("a placement no configured node matches yet, or with more replicas than nodes, is valid", () => {
  const config = parsed(
    withModels(`  - name: m
    versions:
      - { version: "1", weight: 50, placement: { pool: gpu, replicas: 5 } }
      - { version: "2", weight: 50, placement: { labels: { zone: nowhere } } }
`),
  );
  assert.equal(config.models[0]?.versions[0]?.placement?.replicas, 5);
  // No node at all, and no pools list: a placement that names no pool is valid too.
  parsed(`models: [{ name: m, versions: [{ version: "1", placement: { replicas: all } }] }]\n`);
});

test("placed versions take part in shadow, pin and version ports like listed ones", () => {
  const config = parsed(`
pools: [cpu, gpu]
nodes:
  - name: node-1
    address: "127.0.0.1:9001"
    pool: cpu
    labels: { zone: a }
    versionPorts: [{ model: scale, version: "2", port: 9101 }]
models:
  - name: scale
    versions:
      - { version: "1", weight: 100, nodes: [node-1] }
      - { version: "2", weight: 0, placement: { pool: cpu, labels: { zone: a } } }
    shadow: { version: "2", percent: 5 }
    pin: "2"
`);
  assert.equal(config.models[0]?.shadow?.version, "2");
  assert.equal(config.models[0]?.pin, "2");
});

test("fleet: every timing has its default, and each may be written", () => {
  assert.deepEqual(defaultFleetSettings, {
    loadTimeoutMs: 120_000,
    drainMs: 5_000,
    retryBackoffMs: 1_000,
    maxRetryBackoffMs: 60_000,
    syncIntervalMs: 5_000,
  });
  const written = parsed(
    `fleet: { loadTimeout: 120s, drain: 5s, retryBackoff: 1s, maxRetryBackoff: 60s, syncInterval: 5s }\n`,
  );
  assert.deepEqual(written.fleet, defaultFleetSettings);
  const config = parsed(
    `fleet: { loadTimeout: 10m, drain: 0s, retryBackoff: 250ms, maxRetryBackoff: 250ms, syncInterval: 1.5s }\n`,
  );
  assert.deepEqual(config.fleet, {
    loadTimeoutMs: 600_000,
    drainMs: 0,
    retryBackoffMs: 250,
    maxRetryBackoffMs: 250,
    syncIntervalMs: 1_500,
  });
  assert.deepEqual(parsed(`fleet: { drain: 30s }\n`).fleet, { ...defaultFleetSettings, drainMs: 30_000 });
  assert.deepEqual(parsed(`fleet: {}\n`).fleet, defaultFleetSettings);
});

test("format writes placement, labels and fleet so that parse gives the same config back", () => {
  const inputs = [
    placed,
    `fleet: { drain: 0s, retryBackoff: 2s }\n`,
    withModels(`  - { name: m, versions: [{ version: "1", placement: { labels: { zone: a } } }] }\n`),
  ];
  for (const input of inputs) {
    const once = parsed(input);
    const text = formatConfig(once);
    assert.deepEqual(parsed(text), once, text);
  }
  // The nodes a reconciler filled in are not written: the placement is what the file says.
  const config = parsed(placed);
  const filled = structuredClone(config);
  filled.models[0]!.versions[1]!.nodes = ["node-1"];
  assert.deepEqual(parsed(formatConfig(filled)), config);
});

const invalid: { name: string; yaml: string; errors: string[] }[] = [
  {
    name: "a version with both nodes and placement, or neither",
    yaml: withModels(`  - { name: a, versions: [{ version: "1", nodes: [node-1], placement: { pool: cpu } }] }
  - { name: b, versions: [{ version: "1" }] }
`),
    errors: [
      "models[0].versions[0]: write nodes or placement, not both",
      "models[1].versions[0]: write nodes (the nodes that serve it) or placement (where the control plane loads it): it has neither",
    ],
  },
  {
    name: "pool and pools together, unknown pools, an empty or repeating list",
    yaml: withModels(`  - name: m
    versions:
      - { version: "1", weight: 25, placement: { pool: cpu, pools: [gpu] } }
      - { version: "2", weight: 25, placement: { pools: [cpu, tpu, cpu] } }
      - { version: "3", weight: 25, placement: { pool: tpu } }
      - { version: "4", weight: 25, placement: { pools: [] } }
`),
    errors: [
      "models[0].versions[0].placement: write pool or pools, not both",
      "models[0].versions[1].placement.pools[1]: unknown pool 'tpu' (pools: cpu, gpu)",
      "models[0].versions[1].placement.pools[2]: duplicate pool 'cpu' (also models[0].versions[1].placement.pools[0])",
      "models[0].versions[2].placement.pool: unknown pool 'tpu' (pools: cpu, gpu)",
      "models[0].versions[3].placement.pools: must not be empty",
    ],
  },
  {
    name: "without a pools list, the pools are those the nodes name",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:9001", pool: cpu }, { name: n2, address: "127.0.0.1:9002" }]
models: [{ name: m, versions: [{ version: "1", placement: { pools: [cpu, default, gpu] } }] }]
`,
    errors: ["models[0].versions[0].placement.pools[2]: unknown pool 'gpu' (pools: cpu, default)"],
  },
  {
    name: "no pools at all",
    yaml: `models: [{ name: m, versions: [{ version: "1", placement: { pool: gpu } }] }]\n`,
    errors: ["models[0].versions[0].placement.pool: unknown pool 'gpu' (no pools are defined)"],
  },
  {
    name: "replicas neither a positive integer nor all, and unknown placement fields",
    yaml: withModels(`  - name: m
    versions:
      - { version: "1", weight: 20, placement: { replicas: 0 } }
      - { version: "2", weight: 20, placement: { replicas: some } }
      - { version: "3", weight: 20, placement: { replicas: 1.5 } }
      - { version: "4", weight: 20, placement: { replicas: true } }
      - { version: "5", weight: 20, placement: { nodes: [node-1] } }
`),
    errors: [
      "models[0].versions[0].placement.replicas: 0 is not a number of nodes (an integer of at least 1) or 'all'",
      "models[0].versions[1].placement.replicas: 'some' is not a number of nodes (an integer of at least 1) or 'all'",
      "models[0].versions[2].placement.replicas: 1.5 is not a number of nodes (an integer of at least 1) or 'all'",
      "models[0].versions[3].placement.replicas: true is not a number of nodes (an integer of at least 1) or 'all'",
      "models[0].versions[4].placement.nodes: unknown field (expected one of: pool, pools, replicas, labels)",
    ],
  },
  {
    name: "labels: keys Kubernetes-style, values strings of at most 63 (numbers and booleans quoted)",
    yaml: `
nodes:
  - { name: n1, address: "127.0.0.1:9001", labels: { gen: 3, spot: true, -bad: x, ok/: y } }
  - { name: n2, address: "127.0.0.1:9002", labels: { ${"k".repeat(254)}: v, long: ${"v".repeat(64)} } }
  - { name: n3, address: "127.0.0.1:9003", labels: [zone] }
models:
  - name: m
    versions: [{ version: "1", placement: { labels: { gen: 3, zone: a } } }]
`,
    errors: [
      `nodes[0].labels.gen: 3 is not a string: quote label values (e.g. "1", "true")`,
      `nodes[0].labels.spot: true is not a string: quote label values (e.g. "1", "true")`,
      "nodes[0].labels.-bad: '-bad' is not a valid label key: use letters, digits, '-', '_', '.' and '/', starting and ending with a letter or digit (at most 253)",
      "nodes[0].labels.ok/: 'ok/' is not a valid label key: use letters, digits, '-', '_', '.' and '/', starting and ending with a letter or digit (at most 253)",
      `nodes[1].labels.${"k".repeat(254)}: '${"k".repeat(254)}' is not a valid label key: use letters, digits, '-', '_', '.' and '/', starting and ending with a letter or digit (at most 253)`,
      `nodes[1].labels.long: '${"v".repeat(64)}' is longer than 63 characters`,
      "nodes[2].labels: must be a mapping (key: value)",
      `models[0].versions[0].placement.labels.gen: 3 is not a string: quote label values (e.g. "1", "true")`,
    ],
  },
  {
    name: "fleet: durations greater than 0 (drain may be 0), retryBackoff not longer than maxRetryBackoff",
    yaml: `fleet: { loadTimeout: 0s, drain: 0s, syncInterval: soon, retryBackoff: 2m, every: 1s }\n`,
    errors: [
      "fleet.loadTimeout: '0s' must be greater than 0",
      "fleet.syncInterval: 'soon' is not a duration (use e.g. 250ms, 10s, 1m)",
      "fleet.retryBackoff: '2m' is longer than maxRetryBackoff (1m, the default)",
      "fleet.every: unknown field (expected one of: loadTimeout, drain, retryBackoff, maxRetryBackoff, syncInterval)",
    ],
  },
  {
    name: "fleet: both backoffs written, the first longer; a negative drain",
    yaml: `fleet: { retryBackoff: 10s, maxRetryBackoff: 5s, drain: -1s }\n`,
    errors: [
      "fleet.retryBackoff: '10s' is longer than maxRetryBackoff (5s)",
      "fleet.drain: '-1s' is not a duration (use e.g. 0s, 250ms, 10s)",
    ],
  },
  {
    name: "fleet: a maximum below the default first wait",
    yaml: `fleet: { maxRetryBackoff: 500ms }\n`,
    errors: ["fleet.maxRetryBackoff: '500ms' is shorter than retryBackoff (1s, the default)"],
  },
  {
    name: "a version port for a placed version on a node its placement never chooses",
    yaml: `
pools: [cpu, gpu]
nodes:
  - name: n1
    address: "127.0.0.1:9001"
    pool: gpu
    versionPorts: [{ model: m, version: "1", port: 9101 }, { model: m, version: "2", port: 9102 }]
models:
  - name: m
    versions:
      - { version: "1", weight: 50, placement: { pool: cpu } }
      - { version: "2", weight: 50, placement: { labels: { zone: a } } }
`,
    errors: [
      "nodes[0].versionPorts[0]: names m/1, whose placement (pools: cpu) never chooses 'n1'",
      "nodes[0].versionPorts[1]: names m/2, whose placement (every pool; labels: zone=a) never chooses 'n1'",
    ],
  },
];

for (const { name, yaml, errors } of invalid) {
  test(`invalid: ${name}`, () => assert.deepEqual(problems(yaml), errors));
}

test("fleet and labels travel through etcd: fleet in the settings key, labels in their node's", () => {
  const raw = parsedRaw(placed);
  const layout = etcdLayout("/ih");
  const withFleet: RawConfig = { ...raw, fleet: { drain: "0s", syncInterval: "10s" } };
  const entries = entriesOf(layout, withFleet);
  assert.deepEqual(JSON.parse(entries.get("/ih/config/settings")!), {
    pools: ["cpu", "gpu"],
    fleet: { drain: "0s", syncInterval: "10s" },
  });
  const values = new Map([...entries].map(([k, v]) => [k, JSON.parse(v) as unknown]));
  const { raw: back, errors } = assemble(layout, values);
  assert.deepEqual(errors, []);
  const fromEtcd = parseConfigValue(back);
  const fromFile = parseConfigValue(withFleet);
  assert.ok(fromEtcd.ok && fromFile.ok);
  assert.deepEqual(fromEtcd.value, fromFile.value);
  assert.deepEqual(fromEtcd.value.fleet, { ...defaultFleetSettings, drainMs: 0, syncIntervalMs: 10_000 });
});

test("the incremental assembler checks placed models and fleet changes as the whole check does", () => {
  const { models = [], ...rest } = parsedRaw(placed);
  const assembler = new ConfigAssembler();
  const entries = (list: RawModel[]) => list.map((raw) => ({ raw, text: JSON.stringify(raw) }));
  const same = (r: Omit<RawConfig, "models">, list: RawModel[]) => {
    const got = assembler.assemble(r, entries(list));
    const want = parseConfigValue({ ...r, models: list });
    assert.deepEqual(got, want);
    return got.ok;
  };
  assert.equal(same(rest, models), true);
  // One model changed: checked alone, against the pools of the rest.
  const moved: RawModel = {
    name: "other",
    versions: [{ version: "1", placement: { pools: ["gpu"], replicas: "all" } }],
  };
  assert.equal(same(rest, [...models, moved]), true);
  const unknownPool: RawModel = { name: "other", versions: [{ version: "1", placement: { pool: "tpu" } }] };
  assert.equal(same(rest, [...models, unknownPool]), false);
  // The fleet section is part of the rest: a change is a new base.
  assert.equal(same({ ...rest, fleet: { loadTimeout: "5m" } }, [...models, moved]), true);
  const got = assembler.assemble({ ...rest, fleet: { loadTimeout: "5m" } }, entries(models));
  assert.ok(got.ok);
  assert.equal(got.value.fleet.loadTimeoutMs, 300_000);
});

/** A valid file as the raw value the stores hold (YAML → JS, nothing normalized). */
function parsedRaw(text: string): RawConfig {
  parsed(text);
  return parse(text) as RawConfig;
}
