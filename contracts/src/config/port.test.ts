import assert from "node:assert/strict";
import { test } from "node:test";
import { parseListenPort } from "./port.js";

test("parseListenPort: 0 to 65535, integers only", () => {
  for (const [text, want] of [
    ["0", 0],
    ["18000", 18000],
    ["65535", 65535],
    ["65536", undefined],
    ["-1", undefined],
    ["80.5", undefined],
    ["http", undefined],
    [undefined, undefined],
  ] as const) {
    assert.equal(parseListenPort(text), want, String(text));
  }
});
