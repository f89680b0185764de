import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { KservDatatype } from "./datatypes.js";
import {
  contentsFromTensor,
  emptyContents,
  rawFromTensor,
  tensorFromContents,
  tensorFromRaw,
} from "./tensors.js";

const cases: { datatype: KservDatatype; field: keyof ReturnType<typeof emptyContents>; values: unknown[] }[] =
  [
    { datatype: "FP32", field: "fp32Contents", values: [1.5, -2, 0.25, 4] },
    { datatype: "FP64", field: "fp64Contents", values: [1e-300, 2, 3, 4] },
    { datatype: "INT32", field: "intContents", values: [-1, 2, -3, 2147483647] },
    { datatype: "INT8", field: "intContents", values: [-128, 0, 1, 127] },
    { datatype: "INT64", field: "int64Contents", values: [-5, 0, 7, 2 ** 40] },
    { datatype: "UINT8", field: "uintContents", values: [0, 1, 254, 255] },
    { datatype: "UINT64", field: "uint64Contents", values: [0, 1, 2, 2 ** 40] },
    { datatype: "BOOL", field: "boolContents", values: [true, false, false, true] },
    {
      datatype: "BYTES",
      field: "bytesContents",
      values: ["a", "", "héllo", "xyz"].map((s) => Buffer.from(s)),
    },
  ];

for (const { datatype, field, values } of cases) {
  test(`${datatype}: typed → tensor → typed and raw → tensor → raw round-trip`, () => {
    const contents = { ...emptyContents(), [field]: values };
    const tensor = tensorFromContents("x", datatype, [2, 2], contents);
    assert.deepEqual(tensor.dims, [2, 2]);
    assert.deepEqual(contentsFromTensor(datatype, tensor)[field], values);

    const raw = rawFromTensor(datatype, tensor);
    // A view at an odd offset, as grpc-js may hand out, must still decode.
    const unaligned = Buffer.concat([Buffer.from([0]), raw]).subarray(1);
    const again = tensorFromRaw("x", datatype, [2, 2], unaligned);
    assert.deepEqual(rawFromTensor(datatype, again), raw);
  });
}

test("FP16 has no typed field and says to send it raw", () => {
  assert.throws(
    () => tensorFromContents("h", "FP16", [1], emptyContents()),
    (err: unknown) =>
      err instanceof GatewayError &&
      err.code === status.INVALID_ARGUMENT &&
      /'h'.*raw_input_contents/.test(err.message),
  );
});

test("element count must match the shape, and the error names the input", () => {
  assert.throws(
    () => tensorFromContents("input", "FP32", [2, 4], { ...emptyContents(), fp32Contents: [1, 2, 3] }),
    /input 'input': shape \[2,4\] needs 8 elements, fp32Contents has 3/,
  );
  assert.throws(
    () => tensorFromRaw("input", "FP32", [2], Buffer.alloc(7)),
    /input 'input'.*needs 8 bytes.*hold 7/,
  );
});

test("a BYTES length prefix that overruns the buffer is refused", () => {
  const raw = Buffer.alloc(6);
  raw.writeUInt32LE(100);
  assert.throws(() => tensorFromRaw("text", "BYTES", [1], raw), /input 'text': BYTES element overruns/);
});
