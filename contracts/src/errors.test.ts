import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { Code, codeName, GatewayError, httpStatusOf } from "./errors.js";

test("the codes are gRPC's, number for number", () => {
  for (const [name, code] of Object.entries(Code))
    assert.equal(status[name as keyof typeof status], code, name);
  assert.equal(codeName(Code.NOT_FOUND), "NOT_FOUND");
  assert.equal(codeName(99), "UNKNOWN");
});

test("GatewayError.from keeps a GatewayError, a gRPC error's code and details, and wraps the rest", () => {
  const own = new GatewayError(Code.NOT_FOUND, "no model 'x'");
  assert.equal(GatewayError.from(own), own);

  const grpc = Object.assign(new Error("5 NOT_FOUND: gone"), { code: status.NOT_FOUND, details: "gone" });
  const fromGrpc = GatewayError.from(grpc, Code.INTERNAL);
  assert.equal(fromGrpc.code, Code.NOT_FOUND);
  assert.equal(fromGrpc.message, "gone");
  assert.equal(fromGrpc.cause, grpc);

  const plain = new TypeError("boom");
  const wrapped = GatewayError.from(plain, Code.INTERNAL);
  assert.equal(wrapped.code, Code.INTERNAL);
  assert.equal(wrapped.message, "boom");
  assert.equal(wrapped.cause, plain);
  assert.equal(GatewayError.from("text").code, Code.UNKNOWN);
  // A numeric code that is no gRPC code is not taken for one.
  assert.equal(GatewayError.from({ code: 77, details: "x" }).code, Code.UNKNOWN);
});

test("gRPC codes map to HTTP as grpc-gateway maps them", () => {
  assert.equal(httpStatusOf(Code.INVALID_ARGUMENT), 400);
  assert.equal(httpStatusOf(Code.UNAUTHENTICATED), 401);
  assert.equal(httpStatusOf(Code.PERMISSION_DENIED), 403);
  assert.equal(httpStatusOf(Code.NOT_FOUND), 404);
  assert.equal(httpStatusOf(Code.RESOURCE_EXHAUSTED), 429);
  assert.equal(httpStatusOf(Code.UNAVAILABLE), 503);
  assert.equal(httpStatusOf(Code.DEADLINE_EXCEEDED), 504);
  assert.equal(httpStatusOf(42), 500);
});
