import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { KservDatatype } from "../datatypes.js";
import {
  encodeBytesElements,
  flattenData,
  jsonDataText,
  rawFromJsonData,
  splitBytesElements,
} from "./json-tensors.js";

/** Asserts an INVALID_ARGUMENT whose message matches. */
function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.message, message);
    return true;
  });
}

const cases: { datatype: KservDatatype; values: unknown[]; raw: Buffer }[] = [
  { datatype: "BOOL", values: [true, false, false, true], raw: Buffer.from([1, 0, 0, 1]) },
  { datatype: "INT8", values: [-128, 0, 1, 127], raw: Buffer.from(Int8Array.from([-128, 0, 1, 127]).buffer) },
  { datatype: "UINT8", values: [0, 1, 254, 255], raw: Buffer.from([0, 1, 254, 255]) },
  {
    datatype: "INT16",
    values: [-32768, 0, 1, 32767],
    raw: Buffer.from(Int16Array.from([-32768, 0, 1, 32767]).buffer),
  },
  {
    datatype: "UINT16",
    values: [0, 1, 2, 65535],
    raw: Buffer.from(Uint16Array.from([0, 1, 2, 65535]).buffer),
  },
  {
    datatype: "INT32",
    values: [-(2 ** 31), 0, 7, 2 ** 31 - 1],
    raw: Buffer.from(Int32Array.from([-(2 ** 31), 0, 7, 2 ** 31 - 1]).buffer),
  },
  {
    datatype: "UINT32",
    values: [0, 1, 2, 2 ** 32 - 1],
    raw: Buffer.from(Uint32Array.from([0, 1, 2, 2 ** 32 - 1]).buffer),
  },
  {
    datatype: "INT64",
    values: [-5, 0, 7, 2 ** 40],
    raw: Buffer.from(BigInt64Array.from([-5n, 0n, 7n, 2n ** 40n]).buffer),
  },
  {
    datatype: "UINT64",
    values: [0, 1, 2, 2 ** 53],
    raw: Buffer.from(BigUint64Array.from([0n, 1n, 2n, 2n ** 53n]).buffer),
  },
  {
    datatype: "FP32",
    values: [1.5, -2, 0.25, 4],
    raw: Buffer.from(Float32Array.from([1.5, -2, 0.25, 4]).buffer),
  },
  {
    datatype: "FP64",
    values: [1e-300, 2, 0.1, 4],
    raw: Buffer.from(Float64Array.from([1e-300, 2, 0.1, 4]).buffer),
  },
  {
    datatype: "FP16",
    values: [0.5, -1.25, 1000, 0],
    raw: Buffer.from(Uint16Array.from([0x3800, 0xbd00, 0x63d0, 0]).buffer),
  },
  { datatype: "BYTES", values: ["a", "", "héllo", "✓"], raw: encodeBytesElements(["a", "", "héllo", "✓"]) },
];

for (const { datatype, values, raw } of cases) {
  test(`${datatype}: flat JSON data becomes the raw little-endian form, and back to the same JSON`, () => {
    const encoded = rawFromJsonData("x", datatype, [2, 2], values);
    assert.deepEqual(encoded, raw);
    assert.deepEqual(JSON.parse(jsonDataText(datatype, encoded)), values);
  });
}

test("nested data is read row-major, the same as flat", () => {
  const flat = rawFromJsonData("x", "FP32", [2, 3], [1, 2, 3, 4, 5, 6]);
  const nested = rawFromJsonData(
    "x",
    "FP32",
    [2, 3],
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  );
  assert.deepEqual(nested, flat);
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(nested).buffer)), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    flattenData(
      "x",
      [
        [[1], [2]],
        [[3], [4]],
      ],
      3,
    ),
    [1, 2, 3, 4],
  );
});

test("data whose element count does not match the shape is refused, naming the input and both counts", () => {
  refuses(
    () => rawFromJsonData("pixels", "FP32", [2, 2], [1, 2, 3]),
    /input 'pixels': shape \[2,2\] needs 4 elements, data has 3/,
  );
  refuses(
    () => rawFromJsonData("pixels", "FP32", [1, 2], [[1, 2, 3]]),
    /input 'pixels'.*needs 2 elements, data has 3/,
  );
  refuses(() => rawFromJsonData("pixels", "FP32", [0], [1]), /needs 0 elements, data has 1/);
});

test("data nested deeper than the shape's rank is refused, without walking it", () => {
  let deep: unknown = [1];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  refuses(
    () => rawFromJsonData("t", "FP32", [1, 1], deep),
    /input 't': data is nested deeper than its 2 dimension/,
  );
});

test("elements of the wrong JSON type, or out of the datatype's range, are refused naming input and element", () => {
  refuses(
    () => rawFromJsonData("a", "FP32", [2], [1, "2"]),
    /input 'a': element 1 is "2", FP32 needs a number/,
  );
  refuses(() => rawFromJsonData("a", "FP32", [2], [1, null]), /element 1 is null/);
  refuses(
    () => rawFromJsonData("b", "BOOL", [2], [true, 1]),
    /input 'b': element 1 is 1, BOOL needs true or false/,
  );
  refuses(
    () => rawFromJsonData("c", "INT32", [2], [1, 1.5]),
    /input 'c': element 1 is 1.5, INT32 needs an integer/,
  );
  refuses(() => rawFromJsonData("c", "INT8", [1], [128]), /INT8 needs an integer in \[-128, 127\]/);
  refuses(() => rawFromJsonData("c", "UINT8", [1], [-1]), /UINT8 needs an integer in \[0, 255\]/);
  refuses(() => rawFromJsonData("s", "BYTES", [1], [3]), /input 's': element 0 is 3, BYTES needs a string/);
  refuses(() => rawFromJsonData("o", "FP64", [1], [{}]), /element 0 is an object/);
  refuses(() => rawFromJsonData("n", "FP32", [1], 5), /input 'n': data must be an array/);
});

test("64-bit integers in JSON output keep every digit", () => {
  const raw = Buffer.from(BigInt64Array.from([2n ** 62n + 1n, -(2n ** 63n)]).buffer);
  assert.equal(jsonDataText("INT64", raw), "[4611686018427387905,-9223372036854775808]");
  const u = Buffer.from(BigUint64Array.from([2n ** 64n - 1n]).buffer);
  assert.equal(jsonDataText("UINT64", u), "[18446744073709551615]");
});

test("BYTES elements split back out of the length-prefixed form; a malformed buffer is undefined", () => {
  const raw = encodeBytesElements(["", "ab", Buffer.from([0xff, 0])]);
  assert.deepEqual(
    splitBytesElements(raw)?.map((b) => [...b]),
    [[], [97, 98], [0xff, 0]],
  );
  assert.equal(splitBytesElements(raw.subarray(0, raw.length - 1)), undefined);
  assert.equal(splitBytesElements(Buffer.from([1, 0])), undefined);
});

test("FP16 values with no JSON form are written as null, as JSON.stringify does", () => {
  assert.equal(jsonDataText("FP16", Buffer.from(Uint16Array.from([0x7c00, 0x3c00]).buffer)), "[null,1]");
});
