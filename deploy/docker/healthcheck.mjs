// Container health check for the InferenceHub images, with no dependency beyond Node itself:
//   node healthcheck.mjs http://127.0.0.1:18080/healthz   exit 0 when the answer is 2xx
//   node healthcheck.mjs grpc://127.0.0.1:9001[/service]  exit 0 when grpc.health.v1.Health/Check
//                                                          answers SERVING (service "" by default)
// Anything else (refused, timeout, NOT_SERVING, a gRPC error) exits 1 with one line on stderr.
// The gRPC call is made by hand over cleartext HTTP/2: the request is a HealthCheckRequest whose
// only field (1, service) is a string, and the answer's only field (1, status) is an enum where
// 1 = SERVING. https://github.com/grpc/grpc/blob/master/doc/health-checking.md
import { Buffer } from "node:buffer";
import { request } from "node:http";
import { connect } from "node:http2";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { URL } from "node:url";

const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 2000);

function fail(message) {
  process.stderr.write(`unhealthy: ${message}\n`);
  process.exit(1);
}

function checkHttp(url) {
  const req = request(url, { method: "GET", timeout: timeoutMs }, (res) => {
    res.resume();
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) process.exit(0);
    fail(`${url} answered HTTP ${status}`);
  });
  req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
  req.on("error", (err) => fail(`${url}: ${err.message}`));
  req.end();
}

/** A gRPC message: 1 byte compressed flag, 4 bytes big-endian length, then the protobuf bytes. */
function healthCheckRequest(service) {
  const name = Buffer.from(service, "utf8");
  if (name.length > 127) fail("service name too long for this probe");
  const body = name.length > 0 ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** The status field of a HealthCheckResponse; 0 (UNKNOWN) when absent, as proto3 leaves it out. */
function servingStatus(message) {
  if (message.length === 0) return 0;
  return message[0] === 0x08 && message.length >= 2 ? message[1] : undefined;
}

function checkGrpc(url) {
  const target = new URL(url);
  const service = decodeURIComponent(target.pathname.replace(/^\//, ""));
  const session = connect(`http://${target.host}`);
  const timer = setTimeout(() => fail(`${target.host}: no answer in ${timeoutMs} ms`), timeoutMs);
  session.on("error", (err) => fail(`${target.host}: ${err.message}`));
  const stream = session.request({
    ":method": "POST",
    ":path": "/grpc.health.v1.Health/Check",
    "content-type": "application/grpc",
    te: "trailers",
  });
  const chunks = [];
  let grpcStatus;
  let grpcMessage = "";
  const readStatus = (headers) => {
    if (headers["grpc-status"] !== undefined) {
      grpcStatus = String(headers["grpc-status"]);
      grpcMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    }
  };
  stream.on("response", readStatus);
  stream.on("trailers", readStatus);
  stream.on("data", (chunk) => chunks.push(chunk));
  stream.on("error", (err) => fail(`${target.host}: ${err.message}`));
  stream.on("end", () => {
    clearTimeout(timer);
    session.close();
    if (grpcStatus !== "0")
      fail(`${target.host}: gRPC status ${grpcStatus ?? "missing"} ${grpcMessage}`.trim());
    const data = Buffer.concat(chunks);
    const status = data.length >= 5 ? servingStatus(data.subarray(5, 5 + data.readUInt32BE(1))) : undefined;
    if (status !== 1) fail(`${target.host}: health status ${status ?? "unreadable"} (1 = SERVING)`);
    process.exit(0);
  });
  stream.end(healthCheckRequest(service));
}

const url = process.argv[2];
if (!url) fail("usage: node healthcheck.mjs http://host:port/path | grpc://host:port[/service]");
else if (url.startsWith("grpc://")) checkGrpc(url);
else if (url.startsWith("http://")) checkHttp(url);
else fail(`unsupported URL ${url}`);
