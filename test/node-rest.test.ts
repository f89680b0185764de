/**
 * The reference node's v2 REST port (issue #15), as a real process on a real socket: health,
 * metadata, inference with JSON and with Triton's binary tensor extension, version choice as on
 * gRPC, every kind of bad request answered with JSON and the right HTTP status, the limits, a
 * graceful shutdown; and the stock tritonclient.http from PyPI against it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import {
  routedModelHeader,
  routedVersionHeader,
  servedByHeader,
  servedVersionHeader,
} from "@inferencehub/contracts/headers";
import { startInferenceNode, type InferenceNode } from "../node/src/server.js";
import { metricValue, startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { modelsDir, repoRoot, toolsDir } from "../scripts/lib/paths.js";
import {
  MIXED_SAMPLE_INPUTS,
  MLP_SAMPLE_INPUT,
  SCALE_SAMPLE_INPUT,
  SCALE_VERSIONS,
  float16ToFloat32,
  mixedReference,
  mlpReference,
  scaleReference,
  unflatten,
} from "../scripts/lib/test-models.js";
import { assertClose } from "./lib/assertions.js";

interface OutputJson {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}
interface InferJson {
  model_name: string;
  model_version: string;
  id: string;
  outputs: OutputJson[];
}

const json = (body: unknown) => JSON.stringify(body);

/** An FP32 input of rows, in JSON (nested) form. */
const fp32Input = (name: string, rows: readonly (readonly number[])[]) => ({
  name,
  shape: [rows.length, rows[0]?.length ?? 0],
  datatype: "FP32",
  data: rows,
});

const mixedJsonInputs = () => {
  const m = MIXED_SAMPLE_INPUTS;
  return [
    { name: "a", shape: [2, 2], datatype: "FP32", data: m.a },
    { name: "b", shape: [2, 2], datatype: "INT64", data: m.b.flat() },
    { name: "c", shape: [2, 2], datatype: "INT32", data: m.c },
    { name: "flag", shape: [2, 2], datatype: "BOOL", data: m.flag },
    { name: "h", shape: [2, 2], datatype: "FP16", data: m.h },
    { name: "text", shape: [2], datatype: "BYTES", data: m.text },
  ];
};

/** Checks mixed's outputs, read by name from JSON values (binary ones decoded by the caller). */
function assertMixed(values: Record<string, unknown[]>): void {
  const want = mixedReference(MIXED_SAMPLE_INPUTS);
  assertClose(unflatten(values["sum"] as number[], 2), want.sum);
  assert.deepEqual(unflatten(values["b_twice"] as number[], 2), want.b_twice);
  assert.deepEqual(unflatten(values["c_neg"] as number[], 2), want.c_neg);
  assert.deepEqual(unflatten(values["not_flag"] as boolean[], 2), want.not_flag);
  assert.deepEqual(unflatten(values["h_double"] as number[], 2), want.h_double);
  assert.deepEqual(values["text_out"], want.text_out);
}

/** Triton's BYTES binary form: a 4-byte little-endian length before each element. */
function bytesTensor(elements: readonly string[]): Buffer {
  return Buffer.concat(
    elements.flatMap((s) => {
      const b = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}

function decodeBinary(datatype: string, raw: Buffer): unknown[] {
  const copy = new Uint8Array(raw).buffer;
  switch (datatype) {
    case "FP32":
      return [...new Float32Array(copy)];
    case "INT64":
      return [...new BigInt64Array(copy)].map(Number);
    case "INT32":
      return [...new Int32Array(copy)];
    case "BOOL":
      return [...new Uint8Array(copy)].map((v) => v !== 0);
    case "FP16":
      return [...new Uint16Array(copy)].map(float16ToFloat32);
    case "BYTES": {
      const out: string[] = [];
      for (let o = 0; o < raw.length;) {
        const n = raw.readUInt32LE(o);
        out.push(raw.subarray(o + 4, o + 4 + n).toString("utf8"));
        o += 4 + n;
      }
      return out;
    }
    default:
      throw new Error(`no decoder for ${datatype}`);
  }
}

async function errorOf(res: Response, code: number, pattern: RegExp): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, code, `expected ${code}, got ${res.status}: ${text}`);
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = JSON.parse(text) as { error: string };
  assert.equal(typeof body.error, "string");
  assert.match(body.error, pattern);
  return body.error;
}

describe("the reference node's v2 REST port", () => {
  let node: NodeProcess;
  /** --version-from body, a 4 KiB body limit and a 500 ms request timeout. */
  let strict: NodeProcess;
  let base: string;
  let strictBase: string;

  before(async () => {
    [node, strict] = await Promise.all([
      startNode({ name: "rest-1", httpPort: 0 }),
      startNode({
        name: "rest-strict",
        httpPort: 0,
        args: ["--version-from", "body", "--max-message-bytes", "4096", "--http-request-timeout-ms", "500"],
      }),
    ]);
    assert.ok(node.httpPort, "the ready line reports the REST port");
    assert.notEqual(node.httpPort, node.port);
    base = `http://127.0.0.1:${node.httpPort}`;
    strictBase = `http://127.0.0.1:${strict.httpPort}`;
  });
  after(async () => {
    await Promise.all([node?.stop(), strict?.stop()]);
  });

  const infer = (path: string, body: unknown, headers: Record<string, string> = {}, at = base) =>
    fetch(`${at}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : json(body),
    });

  test("live and ready are 200 with an empty body; /v2 is the server metadata, as over gRPC", async () => {
    for (const path of ["/v2/health/live", "/v2/health/ready"]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), "");
      assert.equal(res.headers.get(servedByHeader), "rest-1");
    }
    const res = await fetch(`${base}/v2`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), {
      name: "inferencehub-node",
      version: "0.1.0",
      extensions: ["model_repository", "model_configuration", "statistics"],
    });
  });

  test("model metadata from the ONNX graph, by model and by version; model ready per version", async () => {
    const res = await fetch(`${base}/v2/models/mixed`);
    assert.equal(res.status, 200);
    const meta = (await res.json()) as {
      name: string;
      versions: string[];
      platform: string;
      inputs: unknown[];
    };
    assert.equal(meta.name, "mixed");
    assert.deepEqual(meta.versions, ["1"]);
    assert.equal(meta.platform, "onnxruntime_onnx");
    assert.deepEqual(meta.inputs[5], { name: "text", datatype: "BYTES", shape: [-1] });
    const v2 = (await (await fetch(`${base}/v2/models/scale/versions/2`)).json()) as { versions: string[] };
    assert.deepEqual(v2.versions, SCALE_VERSIONS);

    for (const path of ["/v2/models/scale/ready", "/v2/models/scale/versions/2/ready"]) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(await r.text(), "");
    }
    await errorOf(await fetch(`${base}/v2/models/scale/versions/9/ready`), 404, /version '9' is not served/);
    await errorOf(
      await fetch(`${base}/v2/models/nope/ready`),
      404,
      /model 'nope' is not served by this node/,
    );
    await errorOf(await fetch(`${base}/v2/models/nope`), 404, /model 'nope' is not served by this node/);
    await errorOf(await fetch(`${base}/v2/models/scale/versions/9`), 404, /version '9'/);
  });

  test("infer with JSON: nested and flat data, FP32 outputs equal to the known weights", async () => {
    const counted = async () =>
      metricValue(await node.metrics(), "inferencehub_node_requests_total", { model: "mlp", version: "1" });
    const before = await counted();
    const res = await infer("/v2/models/mlp/infer", {
      id: "req-7",
      inputs: [fp32Input("input", MLP_SAMPLE_INPUT)],
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get(servedByHeader), "rest-1");
    assert.equal(res.headers.get(servedVersionHeader), "1");
    assert.equal(res.headers.get("inference-header-content-length"), null);
    const body = (await res.json()) as InferJson;
    assert.equal(body.model_name, "mlp");
    assert.equal(body.model_version, "1");
    assert.equal(body.id, "req-7");
    const [out] = body.outputs;
    assert.deepEqual(out && { ...out, data: undefined }, {
      name: "output",
      datatype: "FP32",
      shape: [4, 3],
      data: undefined,
    });
    assertClose(unflatten(out?.data as number[], 3), mlpReference(MLP_SAMPLE_INPUT));

    const flat = await infer("/v2/models/mlp/infer", {
      inputs: [{ name: "input", shape: [4, 4], datatype: "FP32", data: MLP_SAMPLE_INPUT.flat() }],
    });
    const flatBody = (await flat.json()) as InferJson;
    assertClose(unflatten(flatBody.outputs[0]?.data as number[], 3), mlpReference(MLP_SAMPLE_INPUT));
    assert.equal(flatBody.id, "");
    assert.equal(await counted(), before + 2, "REST calls count in the node's metrics as ModelInfer does");
  });

  test("infer with JSON on the mixed model: FP32, INT64, INT32, BOOL, FP16 and BYTES in and out", async () => {
    const res = await infer("/v2/models/mixed/infer", { inputs: mixedJsonInputs() });
    assert.equal(res.status, 200);
    const body = (await res.json()) as InferJson;
    assert.deepEqual(
      body.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ["sum", "FP32", [2, 2]],
        ["b_twice", "INT64", [2, 2]],
        ["c_neg", "INT32", [2, 2]],
        ["not_flag", "BOOL", [2, 2]],
        ["h_double", "FP16", [2, 2]],
        ["text_out", "BYTES", [2]],
      ],
    );
    assertMixed(Object.fromEntries(body.outputs.map((o) => [o.name, o.data ?? []])));
  });

  test("infer with binary inputs and binary outputs (Triton's extension), some outputs JSON", async () => {
    const m = MIXED_SAMPLE_INPUTS;
    const tensors: [string, string, number[], Buffer][] = [
      ["a", "FP32", [2, 2], Buffer.from(Float32Array.from(m.a.flat()).buffer)],
      ["b", "INT64", [2, 2], Buffer.from(BigInt64Array.from(m.b.flat().map(BigInt)).buffer)],
      ["c", "INT32", [2, 2], Buffer.from(Int32Array.from(m.c.flat()).buffer)],
      ["flag", "BOOL", [2, 2], Buffer.from(m.flag.flat().map((v) => (v ? 1 : 0)))],
      ["text", "BYTES", [2], bytesTensor(m.text)],
    ];
    const header = Buffer.from(
      json({
        inputs: [
          ...tensors.map(([name, datatype, shape, raw]) => ({
            name,
            datatype,
            shape,
            parameters: { binary_data_size: raw.length },
          })),
          // One input as JSON among the binary ones.
          { name: "h", shape: [2, 2], datatype: "FP16", data: m.h.flat() },
        ],
        outputs: [
          { name: "sum", parameters: { binary_data: true } },
          { name: "b_twice", parameters: { binary_data: true } },
          { name: "c_neg", parameters: { binary_data: false } },
          { name: "not_flag" },
          { name: "h_double", parameters: { binary_data: true } },
          { name: "text_out", parameters: { binary_data: true } },
        ],
      }),
    );
    const res = await fetch(`${base}/v2/models/mixed/infer`, {
      method: "POST",
      headers: {
        "inference-header-content-length": String(header.length),
        "content-type": "application/octet-stream",
      },
      body: Buffer.concat([header, ...tensors.map((t) => t[3])]),
    });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, body.toString());
    const headerLength = Number(res.headers.get("inference-header-content-length"));
    assert.ok(headerLength > 0 && headerLength < body.length);
    const head = JSON.parse(body.subarray(0, headerLength).toString()) as InferJson;
    let offset = headerLength;
    const values: Record<string, unknown[]> = {};
    for (const o of head.outputs) {
      const size = o.parameters?.binary_data_size;
      if (size === undefined) {
        assert.ok(Array.isArray(o.data), `${o.name} is JSON`);
        values[o.name] = o.data ?? [];
        continue;
      }
      assert.equal(o.data, undefined);
      values[o.name] = decodeBinary(o.datatype, body.subarray(offset, offset + size));
      offset += size;
    }
    assert.equal(offset, body.length, "the binary outputs account for every byte after the header");
    assert.deepEqual(
      head.outputs.filter((o) => o.parameters?.binary_data_size !== undefined).map((o) => o.name),
      ["sum", "b_twice", "h_double", "text_out"],
    );
    assertMixed(values);

    // binary_data_output: every output binary unless it says otherwise.
    const all = await infer("/v2/models/scale/versions/1/infer", {
      inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)],
      parameters: { binary_data_output: true },
    });
    const allBody = Buffer.from(await all.arrayBuffer());
    const n = Number(all.headers.get("inference-header-content-length"));
    assertClose(
      unflatten(decodeBinary("FP32", allBody.subarray(n)) as number[], 4),
      scaleReference("1", SCALE_SAMPLE_INPUT),
    );
  });

  test("version: the path's, else the gateway's routed header, else the model's default", async () => {
    const scale = { inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)] };
    const versionOf = async (res: Response) => {
      const body = (await res.json()) as InferJson;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(res.headers.get(servedVersionHeader), body.model_version);
      assertClose(
        unflatten(body.outputs[0]?.data as number[], 4),
        scaleReference(body.model_version, SCALE_SAMPLE_INPUT),
      );
      return body.model_version;
    };
    assert.equal(await versionOf(await infer("/v2/models/scale/versions/2/infer", scale)), "2");
    assert.equal(
      await versionOf(await infer("/v2/models/scale/infer", scale, { [routedVersionHeader]: "1" })),
      "1",
    );
    assert.equal(await versionOf(await infer("/v2/models/scale/infer", scale)), SCALE_VERSIONS.at(-1));
    // The same version in both: answered. Another: refused naming both, as gRPC's INVALID_ARGUMENT.
    assert.equal(
      await versionOf(
        await infer("/v2/models/scale/versions/2/infer", scale, { [routedVersionHeader]: "2" }),
      ),
      "2",
    );
    await errorOf(
      await infer("/v2/models/scale/versions/2/infer", scale, { [routedVersionHeader]: "1" }),
      400,
      /model_version '2' in the request is not version '1', which the gateway routed the call to/,
    );
    // A routed model other than the path's: refused.
    const wrong = await infer("/v2/models/scale/infer", scale, { [routedModelHeader]: "mlp" });
    assert.equal(wrong.headers.get(servedByHeader), "rest-1");
    await errorOf(wrong, 400, /routed for model 'mlp' but its body names 'scale'/);
    await errorOf(
      await fetch(`${base}/v2/models/scale`, { headers: { [routedModelHeader]: "mlp" } }),
      400,
      /routed for model 'mlp'/,
    );
    // --version-from body: the routed header is not read; only the path picks.
    assert.equal(
      await versionOf(
        await infer("/v2/models/scale/infer", scale, { [routedVersionHeader]: "1" }, strictBase),
      ),
      SCALE_VERSIONS.at(-1),
    );
    assert.equal(
      await versionOf(
        await infer("/v2/models/scale/versions/2/infer", scale, { [routedVersionHeader]: "1" }, strictBase),
      ),
      "2",
    );
    await errorOf(await infer("/v2/models/scale/versions/7/infer", scale), 404, /version '7' is not served/);
  });

  test("bad requests are JSON errors with the right status, naming what is wrong; the node keeps serving", async () => {
    const ok = { inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)] };
    await errorOf(await infer("/v2/models/nope/infer", ok), 404, /model 'nope' is not served by this node/);
    await errorOf(
      await infer("/v2/models/scale/infer", { inputs: [fp32Input("pixels", SCALE_SAMPLE_INPUT)] }),
      400,
      /input 'pixels' is not an input of model 'scale'/,
    );
    await errorOf(
      await infer("/v2/models/scale/infer", {
        inputs: [{ name: "input", shape: [2, 4], datatype: "FP64", data: SCALE_SAMPLE_INPUT }],
      }),
      400,
      /input 'input': datatype FP64, the model expects FP32/,
    );
    await errorOf(
      await infer("/v2/models/scale/infer", {
        inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data: [1, 2, 3] }],
      }),
      400,
      /input 'input': shape \[2,4\] needs 8 elements, data has 3/,
    );
    await errorOf(
      await infer("/v2/models/scale/infer", {
        inputs: [{ name: "input", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }],
      }),
      400,
      /input 'input': shape \[1,3\] does not fit the model's \[-1,4\]/,
    );
    await errorOf(
      await infer("/v2/models/scale/infer", {
        inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, 2, "x", 4] }],
      }),
      400,
      /input 'input': element 2 is "x", FP32 needs a number/,
    );
    await errorOf(await infer("/v2/models/scale/infer", '{"inputs": [ {"name": '), 400, /not valid JSON/);
    await errorOf(await infer("/v2/models/scale/infer", "[]"), 400, /JSON object with 'inputs'/);
    await errorOf(await infer("/v2/models/scale/infer", { inputs: [] }), 400, /needs input\(s\) 'input'/);
    await errorOf(
      await fetch(`${base}/v2/models/scale/infer`, {
        method: "POST",
        headers: { "inference-header-content-length": "999" },
        body: json(ok),
      }),
      400,
      /Inference-Header-Content-Length '999' must be a byte count/,
    );
    const get = await fetch(`${base}/v2/models/scale/infer`);
    assert.equal(get.headers.get("allow"), "POST");
    await errorOf(get, 405, /GET is not allowed here; use POST/);
    const post = await fetch(`${base}/v2/health/ready`, { method: "POST" });
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await errorOf(post, 405, /POST is not allowed/);
    await errorOf(await fetch(`${base}/v1/models`), 404, /no such endpoint: GET \/v1\/models/);
    await errorOf(
      await fetch(`${base}/v2/repository/index`, { method: "POST" }),
      501,
      /repository.*not served over REST/,
    );
    await errorOf(
      await fetch(`${base}/v2/models/scale/infer`, {
        method: "POST",
        headers: { "content-encoding": "gzip" },
        body: "x",
      }),
      415,
      /Content-Encoding 'gzip' is not supported/,
    );
    const still = await infer("/v2/models/scale/infer", ok);
    assert.equal(still.status, 200);
    await still.arrayBuffer();
  });

  test("a body over --max-message-bytes is 413, whether its length is declared or it is streamed", async () => {
    const big = json({
      inputs: [{ name: "input", shape: [2000, 4], datatype: "FP32", data: new Array(8000).fill(1) }],
    });
    assert.ok(big.length > 4096);
    await errorOf(
      await infer("/v2/models/scale/infer", big, {}, strictBase),
      413,
      /larger than this node's limit of 4096 bytes/,
    );
    // Chunked, no Content-Length: stopped where it passes the limit.
    const chunks = Array.from({ length: 64 }, () => Buffer.alloc(1024, 0x20));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await fetch(`${strictBase}/v2/models/scale/infer`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    await errorOf(res, 413, /larger than this node's limit/);
    // A declared length over the limit is answered before a byte of the body is sent; with
    // Expect: 100-continue the client is told not to send it, and the connection closes.
    for (const expect of ["", "Expect: 100-continue\r\n"]) {
      const socket = connect(strict.httpPort ?? 0, "127.0.0.1");
      let received = "";
      socket.on("data", (d: Buffer) => {
        received += d.toString();
        if (received.includes('"}')) socket.destroy();
      });
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.write(
        `POST /v2/models/scale/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n${expect}\r\n`,
      );
      await closed;
      assert.match(received, /^HTTP\/1\.1 413 /, expect);
      assert.doesNotMatch(received, /100 Continue/);
      assert.match(received, /"error":"the request body is larger than this node's limit of 4096 bytes/);
    }
    // Under the limit, the same node answers.
    const small = await infer(
      "/v2/models/scale/infer",
      { inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)] },
      {},
      strictBase,
    );
    assert.equal(small.status, 200);
    await small.arrayBuffer();
  });

  test("HTTP that does not parse is a JSON 400; HEAD is answered where GET is", async () => {
    const socket = connect(node.httpPort ?? 0, "127.0.0.1");
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
    await closed;
    assert.match(received, /^HTTP\/1\.1 400 /);
    assert.match(received, /\{"error":"the request is not valid HTTP\/1\.1"\}$/);
    assert.match(received, new RegExp(`${servedByHeader}: rest-1\r\n`, "i"));
    const head = await fetch(`${base}/v2/models/scale/ready`, { method: "HEAD" });
    assert.equal(head.status, 200);
  });

  test("a body that does not arrive in time is 408, and the connection closes", async () => {
    const socket = connect(strict.httpPort ?? 0, "127.0.0.1");
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write('POST /v2/models/scale/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inputs":');
    await new Promise((resolve) => socket.once("close", resolve));
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.match(received, /content-type: application\/json/i);
    assert.match(received, /\{"error":"the request did not arrive within 500 ms"\}$/);
  });
});

describe("the REST port shares the node's queue", () => {
  let node: NodeProcess;
  before(async () => {
    node = await startNode({
      name: "rest-busy",
      httpPort: 0,
      models: ["scale"],
      args: ["--max-concurrent", "1", "--max-queue", "1", "--infer-delay-ms", "1500"],
    });
  });
  after(async () => {
    await node?.stop();
  });

  test("past --max-queue a call is 429 at once; a client that leaves the queue is counted as CANCELLED", async () => {
    const base = `http://127.0.0.1:${node.httpPort}`;
    const labels = { model: "scale", version: "3" };
    const metric = async (name: string, extra: Record<string, string> = {}) =>
      metricValue(await node.metrics(), name, { ...labels, ...extra });
    /** Waits on the node's own gauges, not on a fixed time. */
    const until = async (what: string, ok: () => Promise<boolean>) => {
      const deadline = Date.now() + 10_000;
      while (!(await ok())) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        await new Promise((r) => setImmediate(r));
      }
    };
    const call = (signal?: AbortSignal) =>
      fetch(`${base}/v2/models/scale/infer`, {
        method: "POST",
        body: json({ inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)] }),
        ...(signal ? { signal } : {}),
      });
    const running = call();
    await until("the first call to run", async () => (await metric("inferencehub_node_inflight")) === 1);
    const abort = new AbortController();
    const queued = call(abort.signal);
    await until(
      "the second call to queue",
      async () => (await metric("inferencehub_node_queue_depth")) === 1,
    );
    await errorOf(await call(), 429, /queue|busy|capacity/i);
    abort.abort();
    await assert.rejects(queued, { name: "AbortError" });
    await until(
      "the abandoned call to be counted",
      async () => (await metric("inferencehub_node_errors_total", { code: "CANCELLED" })) === 1,
    );
    assert.equal(await metric("inferencehub_node_queue_depth"), 0);
    const first = await running;
    assert.equal(first.status, 200);
    await first.arrayBuffer();
  });
});

describe("the REST port on shutdown", () => {
  let node: InferenceNode;

  before(async () => {
    node = await startInferenceNode({
      name: "rest-drain",
      port: 0,
      httpPort: 0,
      modelRoot: modelsDir,
      models: ["scale"],
      log: pino({ level: "silent" }),
      drainDelayMs: 200,
      inferDelayMs: 600,
    });
  });
  after(async () => {
    await node?.shutdown();
  });

  test("ready turns 503 at once, an in-flight inference still finishes, then the port closes", async () => {
    const base = `http://127.0.0.1:${node.httpPort}`;
    const inflight = fetch(`${base}/v2/models/scale/infer`, {
      method: "POST",
      body: json({ inputs: [fp32Input("input", SCALE_SAMPLE_INPUT)] }),
    });
    // Wait until the node has the call in hand (its inflight gauge), not for a fixed time.
    const running = async () => (await node.metrics.inflight.get()).values.some((v) => v.value > 0);
    while (!(await running())) await new Promise((r) => setImmediate(r));
    const stopped = node.shutdown();
    await errorOf(await fetch(`${base}/v2/health/ready`), 503, /shutting down/);
    const live = await fetch(`${base}/v2/health/live`);
    assert.equal(live.status, 200);
    await live.arrayBuffer();
    const res = await inflight;
    assert.equal(res.status, 200);
    const body = (await res.json()) as InferJson;
    assertClose(unflatten(body.outputs[0]?.data as number[], 4), scaleReference("3", SCALE_SAMPLE_INPUT));
    await stopped;
    await assert.rejects(fetch(`${base}/v2/health/live`), "the port is closed after shutdown");
  });
});

describe("the stock tritonclient.http (PyPI) against the REST port", () => {
  const python = join(toolsDir, "tritonclient-venv", "bin", "python");
  const script = join(repoRoot, "test", "tritonclient-http", "calls.py");
  let node: NodeProcess;
  let results: Record<string, unknown>;

  before(async () => {
    assert.ok(existsSync(python), `${python} is missing: run bash scripts/setup.sh`);
    node = await startNode({ name: "rest-triton", httpPort: 0 });
    const given = json({ mixed: MIXED_SAMPLE_INPUTS, scale: SCALE_SAMPLE_INPUT });
    try {
      const { stdout } = await promisify(execFile)(python, [script, `127.0.0.1:${node.httpPort}`, given], {
        timeout: 60_000,
      });
      results = JSON.parse(stdout) as Record<string, unknown>;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? String(err);
      assert.fail(
        `${script} failed (tritonclient[http] missing from ${python}? run bash scripts/setup.sh):\n${stderr.slice(-2000)}`,
      );
    }
  });
  after(async () => {
    await node?.stop();
  });

  test("is_server_live, is_server_ready, get_server_metadata, is_model_ready", () => {
    assert.equal(results["live"], true);
    assert.equal(results["ready"], true);
    assert.deepEqual((results["server_metadata"] as { name: string }).name, "inferencehub-node");
    assert.equal(results["model_ready"], true);
    assert.equal(results["model_ready_v2"], true);
    assert.equal(results["model_ready_unknown"], false);
  });

  test("get_model_metadata, and an unknown model as the client's exception with status 404", () => {
    const meta = results["model_metadata"] as { name: string; inputs: { name: string; datatype: string }[] };
    assert.equal(meta.name, "mixed");
    assert.deepEqual(
      meta.inputs.map((i) => `${i.name}:${i.datatype}`),
      ["a:FP32", "b:INT64", "c:INT32", "flag:BOOL", "h:FP16", "text:BYTES"],
    );
    assert.deepEqual((results["model_metadata_v2"] as { versions: string[] }).versions, SCALE_VERSIONS);
    assert.deepEqual(results["unknown_model"], {
      error: "404",
      message: "model 'no-such-model' is not served by this node",
    });
    const bad = results["bad_input"] as { error: string; message: string };
    assert.equal(bad.error, "400");
    assert.match(bad.message, /input 'nope' is not an input of model 'scale'/);
  });

  for (const [name, binary] of [
    ["mixed_binary_in_binary_out", true],
    ["mixed_json_in_json_out", false],
    ["mixed_json_in_binary_out", true],
    ["mixed_binary_in_default_out", true],
  ] as const) {
    test(`infer: ${name.replace(/_/g, " ")}, every datatype equal to the reference`, () => {
      const r = results[name] as {
        id: string;
        model_version: string;
        binary: Record<string, boolean>;
        outputs: Record<string, unknown[]>;
      };
      assert.ok(r.outputs, JSON.stringify(r));
      assert.equal(r.id, "req-1");
      assert.equal(r.model_version, "1");
      assert.ok(
        Object.values(r.binary).every((b) => b === binary),
        JSON.stringify(r.binary),
      );
      assertMixed(
        Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, (v as unknown[]).flat()])),
      );
    });
  }

  test("infer: model_version picks the version; none gives the default", () => {
    const v2 = results["scale_v2"] as { version: string; output: number[][] };
    assert.equal(v2.version, "2");
    assertClose(v2.output, scaleReference("2", SCALE_SAMPLE_INPUT));
    const d = results["scale_default"] as { version: string; output: number[][] };
    assert.equal(d.version, SCALE_VERSIONS.at(-1));
    assertClose(d.output, scaleReference(d.version, SCALE_SAMPLE_INPUT));
  });
});
