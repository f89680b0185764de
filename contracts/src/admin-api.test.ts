import assert from "node:assert/strict";
import { test } from "node:test";
import { rescale } from "./admin-api.js";

test("rescale keeps proportions with whole numbers that add up", () => {
  assert.deepEqual(rescale([90, 10], 80), [72, 8]);
  assert.deepEqual(rescale([1, 1, 1], 100), [34, 33, 33]);
  assert.deepEqual(rescale([0, 0], 100), [100, 0]);
});
