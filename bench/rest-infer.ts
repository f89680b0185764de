/**
 * The v2 REST protocol (KServe v2 HTTP/JSON, and Triton's binary tensor extension) through the
 * gateway against the same calls made directly to the node's REST port, in the same run. One
 * reference node serving `scale` on its gRPC and REST ports, one real Envoy steered by the control
 * plane (ext-authz off), the node declared with `restPort`. Both paths send the same bytes to
 * `POST /v2/models/scale/versions/1/infer` over node:http keep-alive connections (one agent per
 * path, at most as many sockets as calls in flight), in alternating rounds (bench/lib/latency-rounds.ts),
 * for three requests: one row as JSON, many rows as JSON, and the same rows in binary (inputs and
 * outputs). Prints p50, p99 and calls/s of each path and the ratios gateway / direct, once per
 * concurrency.
 *
 *   npx tsx bench/rest-infer.ts      # 4 rounds x 500 calls per path and size, 1 and 8 in flight, 1,024 rows
 *   BENCH_CALLS=2000 BENCH_ROUNDS=6 BENCH_CONCURRENCY=1,8,32 BENCH_ROWS=8192 npx tsx bench/rest-infer.ts
 */
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { scaleReference } from "../scripts/lib/test-models.js";
import type { EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { startGateway } from "../test/lib/gateway-fixture.js";
import { latencyRounds, type Path } from "./lib/latency-rounds.js";
import { machineLine, printTable } from "./lib/xds-bench.js";

const calls = Number(process.env.BENCH_CALLS ?? 500);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? "1,8").split(",").map(Number);
const bigRows = Number(process.env.BENCH_ROWS ?? 1024);

const WIDTH = 4;
const INFER_PATH = "/v2/models/scale/versions/1/infer";
const HEADER_LENGTH = "inference-header-content-length";

interface Size {
  name: string;
  rows: number;
  binary: boolean;
  body: Buffer;
  headers: Record<string, string>;
}

const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => [i, i + 1, i + 2, i + 3].map((x) => x / 8));

function jsonSize(name: string, rows: number): Size {
  const body = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "input", shape: [rows, WIDTH], datatype: "FP32", data: rowsOf(rows).flat() }],
    }),
  );
  return { name, rows, binary: false, body, headers: { "content-type": "application/json" } };
}

function binarySize(name: string, rows: number): Size {
  const raw = Buffer.from(Float32Array.from(rowsOf(rows).flat()).buffer);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: "input",
          shape: [rows, WIDTH],
          datatype: "FP32",
          parameters: { binary_data_size: raw.length },
        },
      ],
      parameters: { binary_data_output: true },
    }),
  );
  return {
    name,
    rows,
    binary: true,
    body: Buffer.concat([head, raw]),
    headers: { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(head.length) },
  };
}

const kib = (n: number) => `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;

function sizes(): Size[] {
  const small = jsonSize("", 1);
  const json = jsonSize("", bigRows);
  const bin = binarySize("", bigRows);
  small.name = `[1,4] JSON (${small.body.length} B)`;
  json.name = `[${bigRows},4] JSON (${kib(json.body.length)})`;
  bin.name = `[${bigRows},4] binary (${kib(bin.body.length)})`;
  return [small, json, bin];
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function post(agent: Agent, port: number, size: Size, sockets?: Set<Socket>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port,
        method: "POST",
        path: INFER_PATH,
        headers: { ...size.headers, "content-length": String(size.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (sockets) req.on("socket", (socket) => sockets.add(socket));
    req.end(size.body);
  });
}

interface JsonAnswer {
  model_version?: string;
  outputs?: { name: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }[];
}

/** The output values, after checking the answer is a version-1 `scale` answer of the right size. */
function outputOf(size: Size, answer: Answer): Float32Array | number[] {
  if (answer.status !== 200)
    throw new Error(`HTTP ${answer.status} for ${size.name}: ${answer.body.toString("utf8", 0, 300)}`);
  const values = size.rows * WIDTH;
  const headLength = size.binary ? Number(answer.headers[HEADER_LENGTH]) : answer.body.length;
  if (!Number.isInteger(headLength)) throw new Error(`${size.name}: no ${HEADER_LENGTH} in the answer`);
  const head = JSON.parse(answer.body.toString("utf8", 0, headLength)) as JsonAnswer;
  if (head.model_version !== "1") throw new Error(`${size.name}: version ${head.model_version} answered`);
  const out = head.outputs?.find((o) => o.name === "output");
  if (!out || out.shape.join(",") !== `${size.rows},${WIDTH}`)
    throw new Error(`${size.name}: output shape ${out?.shape.join(",")}`);
  if (size.binary) {
    if (out.parameters?.binary_data_size !== values * 4 || answer.body.length !== headLength + values * 4)
      throw new Error(`${size.name}: ${answer.body.length - headLength} bytes of binary output`);
    const raw = answer.body.subarray(headLength);
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  }
  if (out.data?.length !== values) throw new Error(`${size.name}: ${out.data?.length} output values`);
  return out.data;
}

/** Checks the values once per path and size, before timing (the timed calls check shapes only). */
function checkValues(size: Size, got: Float32Array | number[]): void {
  const want = scaleReference("1", rowsOf(size.rows)).flat();
  want.forEach((w, i) => {
    if (Math.abs(got[i]! - w) > 1e-5 * Math.max(1, Math.abs(w)))
      throw new Error(`${size.name}: output[${i}] is ${got[i]}, expected ${w}`);
  });
}

/**
 * A path whose calls/s are counted too: the time from a run's first call to its last answer (busy
 * time: latencyRounds runs one path and size at a time), warm-up excluded.
 */
function timedPath(name: string, port: number, concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const sockets = new Set<Socket>();
  const busy = new Map<Size, { inFlight: number; since: number; done: number; ms: number; calls: number }>();
  const path: Path<Size> = {
    name,
    call: async (size) => {
      const b = busy.get(size) ?? { inFlight: 0, since: 0, done: 0, ms: 0, calls: 0 };
      busy.set(size, b);
      if (b.inFlight++ === 0) b.since = performance.now();
      try {
        outputOf(size, await post(agent, port, size, sockets));
      } finally {
        b.done++;
        if (--b.inFlight === 0 && b.done > calls) {
          // The first `calls` calls of each size are latencyRounds' warm-up.
          b.ms += performance.now() - b.since;
        }
        if (b.done > calls) b.calls++;
      }
    },
  };
  return {
    path,
    perSecond: (size: Size) => {
      const b = busy.get(size);
      return b && b.ms > 0 ? (b.calls * 1000) / b.ms : NaN;
    },
    /** Connections the timed calls used (keep-alive: at most the concurrency). */
    connections: () => sockets.size,
    check: async (size: Size) => checkValues(size, outputOf(size, await post(agent, port, size))),
    close: () => agent.destroy(),
  };
}

/** Envoy's connections from clients (the data listener) and to the node's REST port, so far. */
async function envoyConnections(envoy: EnvoyProcess): Promise<{ downstream: number; upstream: number }> {
  const text = await (await envoy.admin("/stats?filter=cx_total")).text();
  const stat = (name: string) =>
    Number(
      text
        .split("\n")
        .find((l) => l.startsWith(`${name}: `))
        ?.slice(name.length + 2),
    );
  return {
    downstream: stat("http.ingress.downstream_cx_total"),
    upstream: stat("cluster.scale~1~rest.upstream_cx_total"),
  };
}

async function main(): Promise<void> {
  const gw = await startGateway({
    nodes: [{ name: "node-1", models: ["scale"], httpPort: 0, args: ["--max-queue", "1024"] }],
    config: (nodes, port) => ({
      listener: { address: "127.0.0.1", port },
      nodes,
      models: [{ name: "scale", versions: [{ version: "1", nodes: ["node-1"] }] }],
    }),
  });
  try {
    const nodePort = gw.nodes.get("node-1")!.httpPort;
    if (nodePort === undefined) throw new Error("the node has no REST port");
    const list = sizes();
    for (const concurrency of concurrencies) {
      const direct = timedPath("direct", nodePort, concurrency);
      const gateway = timedPath("gateway", gw.listenPort, concurrency);
      const before = await envoyConnections(gw.envoys[0]!);
      try {
        for (const size of list) for (const p of [direct, gateway]) await p.check(size);
        const rows = await latencyRounds({
          label: `rest-infer, ${concurrency} in flight`,
          sizes: list,
          paths: [direct.path, gateway.path],
          calls,
          rounds,
          concurrency,
        });
        // latencyRounds gives [size, path, p50, p99, calls] per path, then the ratio row.
        const withRate = rows.map((row, i) => {
          const size = list[Math.floor(i / 3)]!;
          const [d, g] = [direct.perSecond(size), gateway.perSecond(size)];
          const rate = i % 3 === 0 ? d.toFixed(0) : i % 3 === 1 ? g.toFixed(0) : (g / d).toFixed(2);
          return [...row.slice(0, 4), rate, row[4]!];
        });
        printTable(
          `v2 REST infer (scale, version 1), direct to the node and through Envoy, ${concurrency} in flight, keep-alive, ${rounds} rounds x ${calls} calls; ${machineLine()}`,
          ["request", "path", "p50 ms", "p99 ms", "calls/s", "calls"],
          withRate,
        );
        const after = await envoyConnections(gw.envoys[0]!);
        console.log(
          `\nConnections (keep-alive): this process opened ${direct.connections()} to the node and ${gateway.connections()} to Envoy; Envoy counted ${after.downstream - before.downstream} from clients and opened ${after.upstream - before.upstream} to the node's REST port.`,
        );
      } finally {
        direct.close();
        gateway.close();
      }
    }
  } finally {
    await gw.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
