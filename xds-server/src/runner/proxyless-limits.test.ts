import assert from "node:assert/strict";
import { test } from "node:test";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import { proxylessLimits, proxylessLimitsLog } from "./proxyless-limits.js";

test("a node serving several versions of a model is named; versions on their own nodes are fine", () => {
  const parsed = parseConfig(`
nodes:
  - { name: n1, address: "10.0.0.1:9000" }
  - { name: n2, address: "10.0.0.2:9000" }
models:
  - name: shared
    versions:
      - { version: "1", weight: 90, nodes: [n1, n2] }
      - { version: "2", weight: 10, nodes: [n2] }
  - name: apart
    versions:
      - { version: "1", weight: 50, nodes: [n1] }
      - { version: "2", weight: 50, nodes: [n2] }
`);
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  const limits = proxylessLimits(parsed.value);
  assert.equal(limits.length, 1);
  assert.match(
    limits[0] ?? "",
    /^model 'shared': node 'n2' serves versions 1, 2, and 1, 2 without a port of its own/,
  );
});

test("a node with a port for each of its versions is fine; a version without one is named", () => {
  const config = (ports: string) => `
nodes:
  - { name: n1, address: "10.0.0.1:9000", versionPorts: [${ports}] }
models:
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [n1] }
      - { version: "2", weight: 10, nodes: [n1] }
`;
  const all = parseConfig(
    config(`{ model: scale, version: "1", port: 9011 }, { model: scale, version: "2", port: 9012 }`),
  );
  if (!all.ok) assert.fail(formatErrors(all.errors));
  assert.deepEqual(proxylessLimits(all.value), []);
  const one = parseConfig(config(`{ model: scale, version: "2", port: 9012 }`));
  if (!one.ok) assert.fail(formatErrors(one.errors));
  const limits = proxylessLimits(one.value);
  assert.equal(limits.length, 1);
  assert.match(limits[0] ?? "", /serves versions 1, 2, and 1 without a port of its own/);
});

test("version ports are checked: the version must list the node, on a port of its own", () => {
  const parsed = parseConfig(`
nodes:
  - name: n1
    address: "10.0.0.1:9000"
    versionPorts:
      - { model: scale, version: "3", port: 9013 }
      - { model: scale, version: "1", port: 9000 }
      - { model: scale, version: "2", port: 9012 }
      - { model: scale, version: "2", port: 9012 }
  - { name: n2, address: "10.0.0.2:9000", versionPorts: [{ model: scale, version: "1", port: 9011 }] }
models:
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [n1] }
      - { version: "2", weight: 10, nodes: [n1] }
`);
  assert.ok(!parsed.ok);
  const text = formatErrors(parsed.errors);
  assert.match(text, /nodes\[0\]\.versionPorts\[0\]: names scale\/3, which no model version in models is/);
  assert.match(text, /nodes\[0\]\.versionPorts\[1\]\.port: is the node's own port/);
  assert.match(text, /nodes\[0\]\.versionPorts\[3\]: duplicate version port 'scale\/2'/);
  assert.match(text, /nodes\[0\]\.versionPorts\[3\]\.port: duplicate port '9012'/);
  assert.match(text, /nodes\[1\]\.versionPorts\[0\]: names scale\/1, whose nodes \(n1\) do not include 'n2'/);
});

test("the log names each limit once, when it appears, and counts beyond ten", () => {
  const config = (models: number, sharedFrom = 0) => {
    const parsed = parseConfig(`
nodes: [{ name: n1, address: "10.0.0.1:9000" }, { name: n2, address: "10.0.0.2:9000" }]
models:
${Array.from(
  { length: models },
  (_, i) => `  - name: m${i}
    versions:
      - { version: "1", weight: 50, nodes: [n1] }
      - { version: "2", weight: 50, nodes: [${i >= sharedFrom ? "n1" : "n2"}] }`,
).join("\n")}
`);
    if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
    return parsed.value;
  };
  const lines: { msg: string; more?: number }[] = [];
  const log = proxylessLimitsLog({
    warn: (obj: object, msg?: string) => void lines.push({ ...obj, msg: msg ?? "" }),
  });
  const logged = (c: ReturnType<typeof config>) => {
    log(c);
    return lines.splice(0);
  };
  assert.deepEqual(
    logged(config(3)).map((l) => l.msg.slice(0, 20)),
    ["model 'm0': node 'n1", "model 'm1': node 'n1", "model 'm2': node 'n1"],
  );
  assert.deepEqual(logged(config(3)), [], "the same limits again: nothing");
  assert.deepEqual(logged(config(3, 1)), [], "a limit gone: nothing");
  assert.equal(logged(config(3)).length, 1, "back again: named again");
  const many = logged(config(15));
  assert.equal(many.length, 11, "twelve new ones: ten named, one line for the rest");
  assert.equal(many.at(-1)?.more, 2);
});
