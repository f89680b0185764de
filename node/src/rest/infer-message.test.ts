import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { ModelInferResponse } from "../../../gen/inference/inference/grpc_service.js";
import { emptyContents } from "../contents.js";
import { inferResponseBody, parseInferRequest } from "./infer-message.js";
import { encodeBytesElements } from "./json-tensors.js";

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.message, message);
    return true;
  });
}

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

test("a JSON request becomes a ModelInferRequest with every input raw, for the path's model and version", () => {
  const { request, binaryOutput } = parseInferRequest(
    "scale",
    "2",
    body({
      id: "r1",
      inputs: [{ name: "input", shape: [1, 2], datatype: "FP32", data: [[1.5, 2]] }],
      outputs: [{ name: "output" }],
    }),
    undefined,
  );
  assert.equal(request.modelName, "scale");
  assert.equal(request.modelVersion, "2");
  assert.equal(request.id, "r1");
  assert.deepEqual(request.inputs, [{ name: "input", datatype: "FP32", shape: [1, 2], parameters: {} }]);
  assert.deepEqual(request.rawInputContents, [Buffer.from(Float32Array.from([1.5, 2]).buffer)]);
  assert.deepEqual(request.outputs, [{ name: "output", parameters: {} }]);
  assert.equal(binaryOutput("output"), false);
});

test("binary inputs come from after the JSON header; binary outputs follow binary_data, else binary_data_output", () => {
  const text = encodeBytesElements(["hi", "✓"]);
  const floats = Buffer.from(Float32Array.from([1, 2]).buffer);
  const header = body({
    inputs: [
      { name: "t", shape: [2], datatype: "BYTES", parameters: { binary_data_size: text.length } },
      { name: "j", shape: [1], datatype: "INT32", data: [7] },
      { name: "f", shape: [2], datatype: "FP32", parameters: { binary_data_size: floats.length } },
    ],
    outputs: [
      { name: "a", parameters: { binary_data: false } },
      { name: "b", parameters: { binary_data: true } },
      { name: "c" },
    ],
    parameters: { binary_data_output: true },
  });
  const { request, binaryOutput } = parseInferRequest(
    "m",
    "",
    Buffer.concat([header, text, floats]),
    String(header.length),
  );
  assert.deepEqual(request.rawInputContents, [text, Buffer.from(Int32Array.from([7]).buffer), floats]);
  assert.deepEqual([binaryOutput("a"), binaryOutput("b"), binaryOutput("c")], [false, true, true]);
});

test("requests that are not valid are refused, naming the input where there is one", () => {
  refuses(() => parseInferRequest("m", "", Buffer.from("{"), undefined), /not valid JSON/);
  refuses(() => parseInferRequest("m", "", body([1]), undefined), /must be a JSON object with 'inputs'/);
  refuses(() => parseInferRequest("m", "", body({}), undefined), /'inputs' must be an array/);
  refuses(
    () =>
      parseInferRequest(
        "m",
        "",
        body({ inputs: [{ name: "x", shape: [1], datatype: "FP8", data: [1] }] }),
        undefined,
      ),
    /input 'x': datatype 'FP8' is not an Open Inference Protocol datatype/,
  );
  refuses(
    () =>
      parseInferRequest(
        "m",
        "",
        body({ inputs: [{ name: "x", shape: [-1], datatype: "FP32", data: [1] }] }),
        undefined,
      ),
    /input 'x': shape must be an array of non-negative integers/,
  );
  refuses(
    () =>
      parseInferRequest("m", "", body({ inputs: [{ name: "x", shape: [1], datatype: "FP32" }] }), undefined),
    /input 'x' has no data/,
  );
  refuses(
    () =>
      parseInferRequest(
        "m",
        "",
        body({
          inputs: [
            { name: "x", shape: [1], datatype: "FP32", data: [1], parameters: { binary_data_size: 4 } },
          ],
        }),
        undefined,
      ),
    /input 'x': give either data or parameters.binary_data_size, not both/,
  );
  refuses(
    () =>
      parseInferRequest(
        "m",
        "",
        body({ inputs: [{ name: "x", shape: [1], datatype: "FP32", parameters: { binary_data_size: 4 } }] }),
        undefined,
      ),
    /input 'x' has parameters.binary_data_size but the request has no Inference-Header-Content-Length/,
  );
  refuses(
    () =>
      parseInferRequest(
        "m",
        "",
        body({
          inputs: [{ name: "x", shape: [1], datatype: "FP32", data: [1] }],
          outputs: [{ name: "y", parameters: { classification: 2 } }],
        }),
        undefined,
      ),
    /output 'y': classification is not supported/,
  );
  refuses(
    () =>
      parseInferRequest("m", "", body({ inputs: [], parameters: { binary_data_output: "yes" } }), undefined),
    /binary_data_output must be true or false/,
  );
});

const response = (raw: boolean): ModelInferResponse => {
  const typed = emptyContents();
  typed.int64Contents = [3, -4];
  return {
    modelName: "m",
    modelVersion: "1",
    id: "r",
    parameters: {},
    outputs: [
      { name: "n", datatype: "INT64", shape: [2], parameters: {}, contents: raw ? undefined : typed },
      {
        name: "s",
        datatype: "BYTES",
        shape: [1],
        parameters: {},
        contents: raw ? undefined : { ...emptyContents(), bytesContents: [Buffer.from("é")] },
      },
    ],
    rawOutputContents: raw
      ? [Buffer.from(BigInt64Array.from([3n, -4n]).buffer), encodeBytesElements(["é"])]
      : [],
  };
};

test("the answer is JSON data, or binary after the JSON for the outputs that asked, whichever form the core used", () => {
  for (const raw of [true, false]) {
    const plain = inferResponseBody(response(raw), () => false);
    assert.equal(plain.headerLength, undefined);
    assert.deepEqual(JSON.parse(plain.body.toString()), {
      model_name: "m",
      model_version: "1",
      id: "r",
      outputs: [
        { name: "n", datatype: "INT64", shape: [2], data: [3, -4] },
        { name: "s", datatype: "BYTES", shape: [1], data: ["é"] },
      ],
    });
    const mixed = inferResponseBody(response(raw), (name) => name === "s");
    assert.ok(mixed.headerLength !== undefined);
    const head = JSON.parse(mixed.body.subarray(0, mixed.headerLength).toString()) as { outputs: unknown[] };
    assert.deepEqual(head.outputs[1], {
      name: "s",
      datatype: "BYTES",
      shape: [1],
      parameters: { binary_data_size: 6 },
    });
    assert.deepEqual(mixed.body.subarray(mixed.headerLength), encodeBytesElements(["é"]));
  }
});
