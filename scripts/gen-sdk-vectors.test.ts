import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { float16ToFloat32 } from "@inferencehub/contracts/float16";
import { vectorsPath } from "./lib/paths.js";
import { rawBytes, sdkVectors } from "./lib/sdk-vectors.js";

test("sdk/vectors/vectors.json is what the reference models give (npx tsx scripts/gen-sdk-vectors.ts)", () => {
  assert.deepEqual(JSON.parse(readFileSync(vectorsPath, "utf8")), sdkVectors());
});

test("every output's raw bytes decode to its data, and every case covers its shapes", () => {
  const { cases } = sdkVectors();
  assert.deepEqual(
    cases.map((c) => c.name),
    ["mlp", "scale-v1", "scale-v2", "mixed"],
  );
  for (const c of cases) {
    for (const t of [...c.inputs, ...c.outputs]) {
      assert.equal(
        t.data.length,
        t.shape.reduce((a, b) => a * b, 1),
        `${c.name}/${t.name}`,
      );
    }
  }
  const mixed = cases.find((c) => c.name === "mixed");
  const out = (name: string) => mixed?.outputs.find((o) => o.name === name);
  const h = Buffer.from(out("h_double")?.raw ?? "", "base64");
  assert.deepEqual(
    Array.from({ length: h.length / 2 }, (_, i) => float16ToFloat32(h.readUInt16LE(2 * i))),
    out("h_double")?.data,
  );
  // BYTES: u32 length, then the bytes, per element; "wörld ✓" is 10 bytes of UTF-8.
  assert.deepEqual(
    rawBytes("BYTES", ["ab", "wörld ✓"]),
    Buffer.from([2, 0, 0, 0, 97, 98, 10, 0, 0, 0, ...Buffer.from("wörld ✓")]),
  );
  assert.deepEqual(rawBytes("BOOL", [true, false]), Buffer.from([1, 0]));
  assert.equal(Buffer.from(out("b_twice")?.raw ?? "", "base64").readBigInt64LE(16), 2n ** 41n);
});
