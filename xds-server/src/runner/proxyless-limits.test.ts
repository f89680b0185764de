import assert from "node:assert/strict";
import { test } from "node:test";
import { formatErrors, parseConfig } from "../config/index.js";
import { proxylessLimits } from "./proxyless-limits.js";

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
  assert.match(limits[0] ?? "", /^model 'shared': node 'n2' serves versions 1, 2; a proxyless client's call/);
});
