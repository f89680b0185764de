import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { httpStatusOf } from "@inferencehub/contracts/errors";
import { matchRoute } from "./routes.js";

test("the v2 REST paths, with the model and version from the path", () => {
  assert.deepEqual(matchRoute("GET", "/v2/health/live"), { ok: true, route: { kind: "live" } });
  assert.deepEqual(matchRoute("GET", "/v2/health/ready"), { ok: true, route: { kind: "ready" } });
  assert.deepEqual(matchRoute("GET", "/v2"), { ok: true, route: { kind: "serverMetadata" } });
  assert.deepEqual(matchRoute("GET", "/v2/models/scale"), {
    ok: true,
    route: { kind: "modelMetadata", model: "scale", version: "" },
  });
  assert.deepEqual(matchRoute("GET", "/v2/models/scale/versions/2?x=1"), {
    ok: true,
    route: { kind: "modelMetadata", model: "scale", version: "2" },
  });
  assert.deepEqual(matchRoute("HEAD", "/v2/models/scale/versions/2/ready"), {
    ok: true,
    route: { kind: "modelReady", model: "scale", version: "2" },
  });
  assert.deepEqual(matchRoute("POST", "/v2/models/mlp/infer"), {
    ok: true,
    route: { kind: "infer", model: "mlp", version: "" },
  });
  assert.deepEqual(matchRoute("POST", "/v2/models/m%2Dx/versions/3/infer"), {
    ok: true,
    route: { kind: "infer", model: "m-x", version: "3" },
  });
});

test("a wrong method is 405 with what is allowed; an unknown path 404", () => {
  assert.deepEqual(matchRoute("GET", "/v2/models/mlp/infer"), { ok: false, status: 405, allow: "POST" });
  assert.deepEqual(matchRoute("POST", "/v2/health/live"), { ok: false, status: 405, allow: "GET, HEAD" });
  assert.deepEqual(matchRoute("DELETE", "/v2/models/mlp"), { ok: false, status: 405, allow: "GET, HEAD" });
  for (const path of [
    "/",
    "/v1/models/mlp",
    "/v2/models",
    "/v2/models/",
    "/v2/models/a/b",
    "/v2/models/%E0%A4%A/ready",
  ])
    assert.deepEqual(matchRoute("GET", path), { ok: false, status: 404 }, path);
});

test("Triton's repository and other extensions are named as not served (501)", () => {
  const r = matchRoute("POST", "/v2/repository/models/mlp/load");
  assert.ok(r.ok && r.route.kind === "unsupported" && /repository/.test(r.route.what));
  const c = matchRoute("GET", "/v2/models/mlp/config");
  assert.ok(c.ok && c.route.kind === "unsupported");
});

test("gRPC statuses map to HTTP as grpc-gateway maps them", () => {
  const table: [number, number][] = [
    [status.OK, 200],
    [status.CANCELLED, 499],
    [status.INVALID_ARGUMENT, 400],
    [status.FAILED_PRECONDITION, 400],
    [status.OUT_OF_RANGE, 400],
    [status.UNAUTHENTICATED, 401],
    [status.PERMISSION_DENIED, 403],
    [status.NOT_FOUND, 404],
    [status.ALREADY_EXISTS, 409],
    [status.ABORTED, 409],
    [status.RESOURCE_EXHAUSTED, 429],
    [status.UNIMPLEMENTED, 501],
    [status.INTERNAL, 500],
    [status.UNKNOWN, 500],
    [status.DATA_LOSS, 500],
    [status.UNAVAILABLE, 503],
    [status.DEADLINE_EXCEEDED, 504],
    [99, 500],
  ];
  for (const [code, http] of table) assert.equal(httpStatusOf(code), http, `gRPC ${code}`);
});
