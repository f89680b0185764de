import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { parseAuthorization } from "./credentials.js";

const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

const good: { values: string[]; want: ReturnType<typeof parseAuthorization> }[] = [
  { values: ["Bearer ihk_abc-DEF_123"], want: { kind: "api-key", key: "ihk_abc-DEF_123" } },
  { values: ["bearer ihk_x"], want: { kind: "api-key", key: "ihk_x" } },
  { values: ["BEARER   k=="], want: { kind: "api-key", key: "k==" } },
  { values: [`Bearer ${jwt}`], want: { kind: "jwt", token: jwt } },
  { values: [" Bearer k "], want: { kind: "api-key", key: "k" } },
];

for (const { values, want } of good) {
  test(`parseAuthorization accepts ${JSON.stringify(values)}`, () => {
    assert.deepEqual(parseAuthorization(values), want);
  });
}

const bad: { values: string[]; message: RegExp }[] = [
  { values: [], message: /^no credentials: send one header 'authorization: Bearer/ },
  { values: ["Bearer a", "Bearer b"], message: /^2 authorization headers/ },
  { values: ["Bearer garbage", `Bearer ${jwt}`], message: /^2 authorization headers/ },
  { values: ["Bearer a,Bearer b"], message: /not a bearer token/ },
  { values: ["Bearer a, b"], message: /not a bearer token/ },
  { values: ["Basic dXNlcjpwYXNz"], message: /not a bearer token/ },
  { values: ["Bearer"], message: /not a bearer token/ },
  { values: ["Bearer "], message: /not a bearer token/ },
  { values: ["ihk_abc"], message: /not a bearer token/ },
  { values: ["Bearer a=b"], message: /not a bearer token/ },
  { values: ["Bearer a\tb"], message: /not a bearer token/ },
];

for (const { values, message } of bad) {
  test(`parseAuthorization refuses ${JSON.stringify(values)} with UNAUTHENTICATED`, () => {
    assert.throws(
      () => parseAuthorization(values),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, status.UNAUTHENTICATED);
        assert.match(err.message, message);
        // The message never repeats what the client sent as a credential.
        for (const v of values) if (v.length > 8) assert.ok(!err.message.includes(v.slice(7)));
        return true;
      },
    );
  });
}
