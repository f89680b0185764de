import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { binaryDataSize, binaryResponseBody, splitBody, takeBinaryTensors } from "./binary-data.js";

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.message, message);
    return true;
  });
}

test("without Inference-Header-Content-Length the whole body is JSON", () => {
  const body = Buffer.from('{"inputs":[]}');
  const { json, binary } = splitBody(body, undefined);
  assert.equal(json.toString(), '{"inputs":[]}');
  assert.equal(binary.length, 0);
});

test("with it, the first N bytes are the JSON header and the rest is binary", () => {
  const body = Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([1, 2, 3])]);
  const { json, binary } = splitBody(body, "7");
  assert.equal(json.toString(), '{"a":1}');
  assert.deepEqual([...binary], [1, 2, 3]);
  assert.equal(splitBody(body, "10").binary.length, 0, "the whole body may be the header");
});

test("a header length that is not a count within the body is refused", () => {
  const body = Buffer.from("{}");
  refuses(
    () => splitBody(body, "3"),
    /Inference-Header-Content-Length '3' must be a byte count from 1 to the body's 2/,
  );
  refuses(() => splitBody(body, "0"), /must be a byte count/);
  refuses(() => splitBody(body, "-1"), /must be a byte count/);
  refuses(() => splitBody(body, "1e3"), /must be a byte count/);
  refuses(() => splitBody(body, "99999999999999999999"), /must be a byte count/);
});

test("binary tensors are cut in the order of the inputs that carry binary_data_size", () => {
  const binary = Buffer.from([1, 2, 3, 4, 5, 6]);
  const parts = takeBinaryTensors(binary, [
    { name: "a", size: 2 },
    { name: "json", size: undefined },
    { name: "b", size: 0 },
    { name: "c", size: 4 },
  ]);
  assert.deepEqual(
    parts.map((p) => (p ? [...p] : undefined)),
    [[1, 2], undefined, [], [3, 4, 5, 6]],
  );
});

test("sizes that overrun the binary part, or leave bytes over, are refused", () => {
  const binary = Buffer.from([1, 2, 3]);
  refuses(
    () =>
      takeBinaryTensors(binary, [
        { name: "a", size: 2 },
        { name: "b", size: 2 },
      ]),
    /input 'b': binary_data_size 2 overruns the binary data \(1 bytes left\)/,
  );
  refuses(
    () => takeBinaryTensors(binary, [{ name: "a", size: 2 }]),
    /is 3 bytes but the inputs' binary_data_size add up to 2/,
  );
  refuses(() => takeBinaryTensors(binary, []), /add up to 0/);
});

test("binary_data_size must be a non-negative integer", () => {
  assert.equal(binaryDataSize("a", undefined), undefined);
  assert.equal(binaryDataSize("a", { binary_data_size: 16 }), 16);
  refuses(
    () => binaryDataSize("a", { binary_data_size: -1 }),
    /input 'a': parameters.binary_data_size must be a byte count/,
  );
  refuses(() => binaryDataSize("a", { binary_data_size: "16" }), /must be a byte count/);
  refuses(() => binaryDataSize("a", { binary_data_size: 1.5 }), /must be a byte count/);
});

test("a response with binary outputs is the JSON header then the bytes, and says the header's length", () => {
  const json = '{"outputs":[{"name":"é"}]}';
  const { body, headerLength } = binaryResponseBody(json, [Buffer.from([9, 8]), Buffer.from([7])]);
  assert.equal(headerLength, Buffer.byteLength(json), "bytes, not characters");
  assert.equal(body.subarray(0, headerLength).toString(), json);
  assert.deepEqual([...body.subarray(headerLength)], [9, 8, 7]);
  const plain = binaryResponseBody("{}", []);
  assert.equal(plain.headerLength, undefined);
  assert.equal(plain.body.toString(), "{}");
});
