import assert from "node:assert/strict";
import { test } from "node:test";
import { float16ToFloat32, float32ToFloat16 } from "./float16.js";

test("float16 conversion rounds half to even and covers subnormals, infinities and NaN", () => {
  assert.equal(float32ToFloat16(1), 0x3c00);
  assert.equal(float32ToFloat16(65504), 0x7bff);
  assert.equal(float32ToFloat16(65520), 0x7c00, "rounds up to infinity");
  assert.equal(float32ToFloat16(2 ** -24), 0x0001);
  assert.equal(float32ToFloat16(1 + 2 ** -11), 0x3c00, "ties go to even");
  assert.equal(float16ToFloat32(0x3555), 0.333251953125);
  assert.ok(Number.isNaN(float16ToFloat32(0x7e00)));
  assert.equal(float16ToFloat32(0xfc00), -Infinity);
});
