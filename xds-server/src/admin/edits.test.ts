import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { parse } from "yaml";
import { GatewayError } from "@inferencehub/contracts/errors";
import { applyEdit, type Edit } from "./edits.js";

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

test("edits keep the operator's comments and the one-line style", () => {
  const out = applyEdit(file, { op: "setWeights", model: "scale", weights: { "1": 50, "2": 50 } });
  assert.match(out, /# routing for the demo/);
  assert.match(out, /# the first node/);
  assert.match(out, /# the canary/);
  assert.match(out, /- \{ version: "1", weight: 50, nodes: \[node-1, node-2\] \}/);
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
  const code = (c: status) => (err: unknown) => err instanceof GatewayError && err.code === c;
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

// issue #10 finding 7: an edit rewrote the whole file through the yaml printer, so `[scale]` came
// back as `[ scale ]`, `{a: 1}` as `{ a: 1 }` and the spaces before a comment went. Each case
// below is the whole expected file: the original with only the edited text replaced.
const flowFile = `# routing for the demo
nodes:
  - { name: node-1, address: "127.0.0.1:9001" } # the first node
  - {name: node-2, address: '127.0.0.1:9002'}
models:
  # the canary
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [node-1, node-2] }   # stable
      - {version: "2", weight: 10, nodes: [node-2]}
  - name: other
    versions: [{version: v1, nodes: [node-1]}]
`;

const blockFile = `nodes:
  - name: node-1
    address: "127.0.0.1:9001"
    drain: true   # maintenance
  - name: node-2
    address: "127.0.0.1:9002"
models:
  - name: scale
    pin: "1"  # pinned for the incident
    shadow:
      version: "2"
      percent: 5
    versions:
      - version: "1"
        weight: 100
        nodes:
          - node-1
          - node-2
        # about 2
      - version: "2"
        weight: 0
        nodes:
          - node-2
    # end of scale
  - name: other
    versions:
      - version: v1
        nodes: [ node-1 ]
`;

/** The file with each [from, to] replaced once (each `from` must be there). */
function replaced(text: string, ...swaps: [string, string][]): string {
  for (const [from, to] of swaps) {
    assert.ok(text.includes(from), `the test's own text has ${from}`);
    text = text.replace(from, to);
  }
  return text;
}

const cases: [string, string, Edit, string][] = [
  [
    "flow: set weights",
    flowFile,
    { op: "setWeights", model: "scale", weights: { "1": 60, "2": 40 } },
    replaced(flowFile, ["weight: 90", "weight: 60"], ["weight: 10", "weight: 40"]),
  ],
  [
    "flow: add a version",
    flowFile,
    { op: "addVersion", model: "scale", version: "3", nodes: ["node-1"], weight: 20 },
    replaced(
      flowFile,
      ["weight: 90", "weight: 72"],
      [
        "weight: 10, nodes: [node-2]}\n",
        'weight: 8, nodes: [node-2]}\n      - { version: "3", weight: 20, nodes: [node-1] }\n',
      ],
    ),
  ],
  [
    "flow: add a version to a one-line list of versions without weights",
    flowFile,
    { op: "addVersion", model: "other", version: "v2", nodes: ["node-1", "node-2"], weight: 20 },
    replaced(flowFile, [
      "[{version: v1, nodes: [node-1]}]",
      "[{version: v1, nodes: [node-1], weight: 80}, {version: v2, weight: 20, nodes: [node-1, node-2]}]",
    ]),
  ],
  [
    "flow: remove a version",
    flowFile,
    { op: "removeVersion", model: "scale", version: "1" },
    replaced(
      flowFile,
      ['      - { version: "1", weight: 90, nodes: [node-1, node-2] }   # stable\n', ""],
      ["weight: 10", "weight: 100"],
    ),
  ],
  [
    "flow: drain",
    flowFile,
    { op: "drain", node: "node-2" },
    replaced(flowFile, ["'127.0.0.1:9002'}", "'127.0.0.1:9002', drain: true}"]),
  ],
  [
    "flow: shadow",
    flowFile,
    { op: "setShadow", model: "scale", version: "2", percent: 7 },
    replaced(flowFile, [
      "nodes: [node-2]}\n",
      'nodes: [node-2]}\n    shadow:\n      version: "2"\n      percent: 7\n',
    ]),
  ],
  [
    "block: set weights",
    blockFile,
    { op: "setWeights", model: "scale", weights: { "1": 60, "2": 40 } },
    replaced(blockFile, ["weight: 100", "weight: 60"], ["weight: 0", "weight: 40"]),
  ],
  [
    "block: add a version",
    blockFile,
    { op: "addVersion", model: "scale", version: "3", nodes: ["node-1"], weight: 20 },
    replaced(
      blockFile,
      ["weight: 100", "weight: 80"],
      [
        "          - node-2\n    # end",
        '          - node-2\n      - version: "3"\n        weight: 20\n        nodes:\n          - node-1\n    # end',
      ],
    ),
  ],
  [
    "block: add a version to a model without weights, at the end of the file",
    blockFile,
    { op: "addVersion", model: "other", version: "v2", nodes: ["node-1", "node-2"], weight: 20 },
    replaced(blockFile, [
      "        nodes: [ node-1 ]\n",
      "        nodes: [ node-1 ]\n        weight: 80\n      - version: v2\n        weight: 20\n        nodes: [ node-1, node-2 ]\n",
    ]),
  ],
  [
    "block: pin again",
    blockFile,
    { op: "pin", model: "scale", version: "2" },
    replaced(blockFile, ['pin: "1"', 'pin: "2"']),
  ],
  [
    "block: unpin",
    blockFile,
    { op: "unpin", model: "scale" },
    replaced(blockFile, ['    pin: "1"  # pinned for the incident\n', ""]),
  ],
  [
    "block: pin a model without a pin",
    blockFile,
    { op: "pin", model: "other", version: "v1" },
    replaced(blockFile, ["        nodes: [ node-1 ]\n", "        nodes: [ node-1 ]\n    pin: v1\n"]),
  ],
  [
    "block: change the shadow",
    blockFile,
    { op: "setShadow", model: "scale", version: "2", percent: 7 },
    replaced(blockFile, ["percent: 5", "percent: 7"]),
  ],
  [
    "block: remove the shadow",
    blockFile,
    { op: "setShadow", model: "scale", version: "2", percent: 0 },
    replaced(blockFile, ['    shadow:\n      version: "2"\n      percent: 5\n', ""]),
  ],
  [
    "block: drain",
    blockFile,
    { op: "drain", node: "node-2" },
    replaced(blockFile, ['"127.0.0.1:9002"\n', '"127.0.0.1:9002"\n    drain: true\n']),
  ],
  [
    "block: undrain",
    blockFile,
    { op: "undrain", node: "node-1" },
    replaced(blockFile, ["    drain: true   # maintenance\n", ""]),
  ],
];

for (const [name, text, edit, expected] of cases) {
  test(`issue #10 finding 7: ${name} changes only the text it edits`, () => {
    assert.equal(applyEdit(text, edit), expected);
  });
}

test("issue #10 finding 4: an edit to the values already there gives the same text back (a no-op)", () => {
  assert.equal(
    applyEdit(flowFile, { op: "setWeights", model: "scale", weights: { "1": 90, "2": 10 } }),
    flowFile,
  );
  assert.equal(applyEdit(blockFile, { op: "drain", node: "node-1" }), blockFile);
  assert.equal(applyEdit(flowFile, { op: "unpin", model: "scale" }), flowFile);
});

test("a layout the splices do not handle still gets a correct edit (printed by the yaml library)", () => {
  // drain is the first key of its node: removing its line would take the "- " with it.
  const text = "nodes:\n  - drain: true\n    name: node-1\n    address: 127.0.0.1:9001\n";
  const out = applyEdit(text, { op: "undrain", node: "node-1" });
  assert.deepEqual(parse(out), { nodes: [{ name: "node-1", address: "127.0.0.1:9001" }] });
});

test("a placed version is added with its placement, written as the operator would", () => {
  const out = applyEdit(file, {
    op: "addVersion",
    model: "scale",
    version: "3",
    nodes: [],
    weight: 0,
    placement: { pools: ["cpu"], replicas: "all", labels: { zone: "a" } },
  });
  assert.match(
    out,
    /- \{ version: "3", weight: 0, placement: \{ pools: \[cpu\], replicas: all, labels: \{ zone: a \} \} \}/,
  );
  const counted = applyEdit(file, {
    op: "addVersion",
    model: "scale",
    version: "3",
    nodes: [],
    weight: 10,
    placement: { pools: [], replicas: 2, labels: {} },
  });
  const added = models(counted)[0]!.versions.at(-1) as unknown;
  assert.deepEqual(added, { version: "3", weight: 10, placement: { replicas: 2 } });
});
