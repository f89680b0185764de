// issue #10 finding 3: client-chosen strings in status messages are bounded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { boundDetails, clip, listText, MAX_DETAILS_BYTES, NAME_CHARS, shapeText } from "./client-text.js";

test("clip keeps a short printable name as is", () => {
  assert.equal(clip("input_0"), "input_0");
  assert.equal(clip(""), "");
});

test("clip cuts a long name at NAME_CHARS, then …", () => {
  const out = clip("a".repeat(10_000));
  assert.equal(out, `${"a".repeat(NAME_CHARS)}…`);
});

test("clip escapes what is not printable ASCII, and counts the escapes against the bound", () => {
  assert.equal(clip("é\n\u0000"), "\\u{e9}\\u{a}\\u{0}");
  assert.equal(clip("😀"), "\\u{1f600}");
  // A lone surrogate is escaped too (encodeURI would throw on it).
  assert.equal(clip("\ud800"), "\\u{d800}");
  const out = clip("é".repeat(1_000));
  assert.ok(out.length <= NAME_CHARS + 1);
  assert.ok(out.endsWith("…"));
});

test("shapeText shows up to 8 dimensions, then the count", () => {
  assert.equal(shapeText([1, 4]), "[1,4]");
  assert.equal(shapeText([]), "[]");
  assert.equal(shapeText([1, 2, 3, 4, 5, 6, 7, 8]), "[1,2,3,4,5,6,7,8]");
  assert.equal(shapeText(Array.from({ length: 5_000 }, (_, i) => i)), "[0,1,2,3,4,5,6,7,… (5000 dims)]");
});

test("listText shows up to 8 names, each clipped, then how many more", () => {
  assert.equal(listText(["a", "b"]), "a, b");
  const many = Array.from({ length: 20 }, (_, i) => `n${i}`);
  assert.equal(listText(many), "n0, n1, n2, n3, n4, n5, n6, n7, … 12 more");
  assert.ok(listText(["x".repeat(5_000)]).length <= NAME_CHARS + 1);
});

test("boundDetails leaves a short message alone and cuts a long one to the wire budget", () => {
  assert.equal(boundDetails("model 'mlp' is not served"), "model 'mlp' is not served");
  for (const long of ["a b ".repeat(2_000), "é".repeat(2_000), "x".repeat(100_000)]) {
    const out = boundDetails(long);
    assert.ok(encodeURI(out).length <= MAX_DETAILS_BYTES, `${encodeURI(out).length} bytes`);
    assert.ok(out.endsWith("… (message cut)"));
  }
});

test("boundDetails replaces lone surrogates, which grpc-js could not encode", () => {
  const out = boundDetails("bad \ud800 name");
  assert.equal(out, "bad \ufffd name");
  assert.doesNotThrow(() => encodeURI(out));
});
