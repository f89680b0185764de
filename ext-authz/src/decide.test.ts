import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { formatErrors, parseConfig, type Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import { ModelInferRequest } from "../../gen/inference/inference/grpc_service.js";
import { fp32Request } from "../../scripts/lib/requests.js";
import { createKeyStore, hashApiKey } from "./api-keys.js";
import type { CallAttributes } from "./check-request.js";
import { deniedResponse, okResponse } from "./check-response.js";
import { decide, type DecideContext, type Decision } from "./decide.js";
import { createIdentities } from "./identities.js";
import { compilePolicy } from "./policy.js";
import { createRateLimiter } from "./token-bucket.js";

function config(): Config {
  const result = parseConfig(`
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - { name: scale, versions: [{ version: "1", weight: 50, nodes: [n1] }, { version: "2", weight: 50, nodes: [n1] }] }
  - { name: mlp, versions: [{ version: "1", nodes: [n1] }] }
auth:
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  tenants:
    - { name: acme, models: [scale], rateLimit: { callsPerSecond: 1, burst: 2 } }
    - { name: other, models: ["*"] }
`);
  if (!result.ok) assert.fail(formatErrors(result.errors));
  return result.value;
}

const keys = {
  acme: "ihk_acme",
  other: "ihk_other",
  ghost: "ihk_ghost",
};

function context(now = () => 0): DecideContext {
  const cfg = config();
  const limiter = createRateLimiter({ now });
  limiter.update(cfg.auth?.tenants ?? []);
  return {
    identities: createIdentities({
      keys: createKeyStore([
        { id: "acme-1", tenant: "acme", sha256: hashApiKey(keys.acme) },
        { id: "other-1", tenant: "other", sha256: hashApiKey(keys.other) },
        { id: "ghost-1", tenant: "ghost", sha256: hashApiKey(keys.ghost) },
      ]),
    }),
    policy: compilePolicy(cfg),
    limiter,
  };
}

const infer = "/inference.GRPCInferenceService/ModelInfer";

function call(
  headers: Record<string, string | string[]>,
  body: Uint8Array = new Uint8Array(),
): CallAttributes {
  return {
    path: infer,
    headers: new Map(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
    body,
  };
}

function frame(model: string, version = ""): Uint8Array {
  const message = ModelInferRequest.encode(fp32Request(model, [[1, 2, 3, 4]], { version })).finish();
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out.subarray(0, 64);
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function code(d: Decision): string {
  return d.allowed ? "OK" : (status[d.error.code] ?? String(d.error.code));
}

const cases: {
  name: string;
  call: CallAttributes;
  want: string;
  message?: RegExp;
  check?: (d: Decision) => void;
}[] = [
  {
    name: "allowed by header: tenant and principal set, spoofed gateway headers removed",
    call: call({
      ...bearer(keys.acme),
      "inferencehub-model": "scale",
      "x-inferencehub-tenant": "other",
      "x-inferencehub-anything": "x",
    }),
    want: "OK",
    check: (d) => {
      assert.ok(d.allowed);
      assert.deepEqual(d.set, [
        ["x-inferencehub-tenant", "acme"],
        ["x-inferencehub-principal", "key:acme-1"],
      ]);
      assert.deepEqual(d.remove, ["x-inferencehub-anything"], "never remove a header being set");
      assert.equal(d.modelSource, "header");
    },
  },
  {
    name: "no model header: the body's model and version become the routing headers",
    call: call(bearer(keys.acme), frame("scale", "2")),
    want: "OK",
    check: (d) => {
      assert.ok(d.allowed);
      assert.equal(d.modelSource, "body");
      assert.deepEqual(d.set.slice(2), [
        ["inferencehub-model", "scale"],
        ["inferencehub-model-version", "2"],
      ]);
    },
  },
  {
    name: "the model header Envoy sets when the client sent none ('-') counts as no header",
    call: call({ ...bearer(keys.acme), "inferencehub-model": "-" }, frame("scale")),
    want: "OK",
    check: (d) => {
      assert.ok(d.allowed);
      assert.equal(d.modelSource, "body");
      assert.deepEqual(d.set.slice(2), [["inferencehub-model", "scale"]]);
    },
  },
  {
    name: "the policy applies to the body's model",
    call: call(bearer(keys.acme), frame("mlp")),
    want: "PERMISSION_DENIED",
    message: /^tenant 'acme' may not call model 'mlp'$/,
  },
  {
    name: "a body naming no model is let through without routing headers (Envoy answers INVALID_ARGUMENT)",
    call: call(bearer(keys.acme), Uint8Array.from([1, 0, 0, 0, 0])),
    want: "OK",
    check: (d) => {
      assert.ok(d.allowed);
      assert.equal(d.modelSource, "compressed");
      assert.equal(d.set.length, 2);
    },
  },
  {
    name: "a body model that is not a model name",
    call: call(bearer(keys.other), frame("Scale\r\nx-evil: 1")),
    want: "INVALID_ARGUMENT",
    message: /^model_name 'Scale\\r\\nx-evil: 1' in the request is not a model name$/,
  },
  { name: "no credentials", call: call({ "inferencehub-model": "scale" }), want: "UNAUTHENTICATED" },
  {
    name: "an unknown key",
    call: call({ ...bearer("ihk_nope"), "inferencehub-model": "scale" }),
    want: "UNAUTHENTICATED",
    message: /^the API key is not valid/,
  },
  {
    name: "two authorization values, one of them valid",
    call: call({ authorization: ["Bearer ihk_nope", `Bearer ${keys.acme}`], "inferencehub-model": "scale" }),
    want: "UNAUTHENTICATED",
  },
  {
    name: "a JWT when only keys are configured",
    call: call(bearer("a.b.c")),
    want: "UNAUTHENTICATED",
    message: /^JWTs are not accepted/,
  },
  {
    name: "a key whose tenant the config no longer has",
    call: call({ ...bearer(keys.ghost), "inferencehub-model": "scale" }),
    want: "PERMISSION_DENIED",
    message: /^tenant 'ghost' is not configured/,
  },
  {
    name: "two model headers",
    call: call({ ...bearer(keys.acme), "inferencehub-model": ["scale", "mlp"] }),
    want: "INVALID_ARGUMENT",
    message: /^send one inferencehub-model header, not 2$/,
  },
  // issue #10 finding 3: a tenant allowed only `scale` sent `inferencehub-model: scale` with a body
  // naming `mlp`, and got mlp's metadata.
  {
    name: "a body naming another model than the header",
    call: call({ ...bearer(keys.acme), "inferencehub-model": "scale" }, frame("mlp")),
    want: "INVALID_ARGUMENT",
    message: /^model_name 'mlp' in the request does not match the inferencehub-model header 'scale'$/,
  },
  {
    name: "header and body agree: allowed, no routing header set",
    call: call({ ...bearer(keys.acme), "inferencehub-model": "scale" }, frame("scale")),
    want: "OK",
    check: (d) => assert.ok(d.allowed && d.set.length === 2 && d.modelSource === "header"),
  },
  {
    name: "a body version pins like the version header",
    call: call({ ...bearer(keys.acme), "inferencehub-model": "scale" }, frame("scale", "2")),
    want: "OK",
    check: (d) => {
      assert.ok(d.allowed);
      assert.deepEqual(d.set.slice(2), [["inferencehub-model-version", "2"]]);
    },
  },
  {
    name: "a body version that conflicts with the version header",
    call: call(
      { ...bearer(keys.acme), "inferencehub-model": "scale", "inferencehub-model-version": "1" },
      frame("scale", "2"),
    ),
    want: "INVALID_ARGUMENT",
    message: /^model_version '2' in the request does not match the inferencehub-model-version header '1'$/,
  },
  {
    name: "with a model header, a body the gateway cannot read (compressed) is refused, not trusted",
    call: call({ ...bearer(keys.acme), "inferencehub-model": "scale" }, Uint8Array.from([1, 0, 0, 0, 9])),
    want: "INVALID_ARGUMENT",
    message: /could not read it \(the message is compressed\)/,
  },
  {
    name: "an authenticated call naming no model at all",
    call: call(bearer(keys.acme)),
    want: "OK",
    check: (d) => assert.ok(d.allowed && d.modelSource === "none"),
  },
];

for (const c of cases) {
  test(`decide: ${c.name} → ${c.want}`, async () => {
    const d = await decide(c.call, context());
    assert.equal(code(d), c.want, d.allowed ? "" : d.error.message);
    if (c.message && !d.allowed) assert.match(d.error.message, c.message);
    c.check?.(d);
  });
}

test("decide: the rate limit counts allowed calls only, per tenant, and names the wait", async () => {
  let now = 0;
  const ctx = context(() => now);
  const acme = call({ ...bearer(keys.acme), "inferencehub-model": "scale" });
  const denied = call({ ...bearer(keys.acme), "inferencehub-model": "mlp" });
  assert.equal(code(await decide(denied, ctx)), "PERMISSION_DENIED");
  assert.equal(code(await decide(acme, ctx)), "OK");
  assert.equal(code(await decide(acme, ctx)), "OK");
  const over = await decide(acme, ctx);
  assert.ok(!over.allowed);
  assert.equal(over.error.code, status.RESOURCE_EXHAUSTED);
  assert.equal(over.error.retryAfterMs, 1000);
  assert.match(over.error.message, /^tenant 'acme' is over its rate limit; retry in 1000 ms$/);
  assert.equal(code(await decide(call({ ...bearer(keys.other), "inferencehub-model": "scale" }), ctx)), "OK");
  now = 1000;
  assert.equal(code(await decide(acme, ctx)), "OK");
});

test("decide: the repository token goes only with repository calls the policy allows", async () => {
  const ctx = { ...context(), repositoryToken: "secret" };
  const index = "/inference.GRPCInferenceService/RepositoryIndex";
  const load = "/inference.GRPCInferenceService/RepositoryModelLoad";
  // A repository call naming a model goes to that model's nodes: operators only, with the token.
  const repoCall = (key: string, path = index) => ({
    ...call({ ...bearer(key), "inferencehub-model": "scale" }),
    path,
  });
  const cfg = config();
  const operator = {
    ...cfg,
    auth: { ...cfg.auth!, tenants: cfg.auth!.tenants.map((t) => ({ ...t, repository: t.name === "other" })) },
  };
  const withOperator = { ...ctx, policy: compilePolicy(operator) };
  for (const path of [index, load]) {
    const allowed = await decide(repoCall(keys.other, path), withOperator);
    assert.ok(allowed.allowed, path);
    assert.deepEqual(allowed.set.slice(2), [["x-inferencehub-repository-token", "secret"]]);
    const denied = await decide(repoCall(keys.acme, path), withOperator);
    assert.equal(code(denied), "PERMISSION_DENIED", path);
    assert.match(denied.allowed ? "" : denied.error.message, /the model repository is for operators/);
  }
  // The gateway's own index (no model: the control plane answers) is every tenant's, and no
  // token goes with it; a load naming no model is still the operators'.
  for (const key of [keys.acme, keys.other]) {
    const gatewayIndex = await decide({ ...call(bearer(key)), path: index }, withOperator);
    assert.ok(gatewayIndex.allowed);
    assert.ok(!gatewayIndex.set.some(([name]) => name === "x-inferencehub-repository-token"));
  }
  assert.equal(
    code(await decide({ ...call(bearer(keys.acme)), path: load }, withOperator)),
    "PERMISSION_DENIED",
  );
  const infer = await decide(call({ ...bearer(keys.other), "inferencehub-model": "scale" }), withOperator);
  assert.ok(infer.allowed && !infer.set.some(([name]) => name === "x-inferencehub-repository-token"));
});

test("responses: OK sets and removes headers; denials carry grpc-status, the HTTP status and hints", () => {
  const ok = okResponse([["x-inferencehub-tenant", "acme"]], ["x-inferencehub-foo"]);
  assert.equal(ok.status?.code, 0);
  assert.ok(ok.httpResponse?.$case === "okResponse");
  assert.deepEqual(ok.httpResponse.okResponse.headersToRemove, ["x-inferencehub-foo"]);
  assert.equal(ok.httpResponse.okResponse.headers[0]?.header?.value, "acme");

  const headersOf = (err: GatewayError, grpc = true) => {
    const r = deniedResponse(err, grpc);
    assert.ok(r.httpResponse?.$case === "deniedResponse");
    assert.equal(r.status?.code, err.code);
    assert.equal(r.httpResponse.deniedResponse.body, err.message);
    return [
      r.httpResponse.deniedResponse.status?.code,
      Object.fromEntries(r.httpResponse.deniedResponse.headers.map((h) => [h.header?.key, h.header?.value])),
    ];
  };
  assert.deepEqual(headersOf(new GatewayError(status.UNAUTHENTICATED, "m")), [
    401,
    { "grpc-status": "16", "www-authenticate": "Bearer" },
  ]);
  assert.deepEqual(headersOf(new GatewayError(status.PERMISSION_DENIED, "m")), [403, { "grpc-status": "7" }]);
  assert.deepEqual(headersOf(new GatewayError(status.INVALID_ARGUMENT, "m")), [400, { "grpc-status": "3" }]);
  assert.deepEqual(headersOf(new GatewayError(status.UNAVAILABLE, "m")), [502, { "grpc-status": "14" }]);
  assert.deepEqual(headersOf(new GatewayError(status.RESOURCE_EXHAUSTED, "m", { retryAfterMs: 1500 })), [
    429,
    { "grpc-status": "8", "retry-after": "2", "grpc-retry-pushback-ms": "1500" },
  ]);
  // A REST (or any non-gRPC) request: the HTTP status and HTTP's headers, no gRPC ones.
  assert.deepEqual(headersOf(new GatewayError(status.UNAUTHENTICATED, "m"), false), [
    401,
    { "www-authenticate": "Bearer" },
  ]);
  assert.deepEqual(
    headersOf(new GatewayError(status.RESOURCE_EXHAUSTED, "m", { retryAfterMs: 1500 }), false),
    [429, { "retry-after": "2" }],
  );
});

test("decide: a REST call names its model in the path; the policy answers an unknown model as a forbidden one", async () => {
  const rest = (path: string, key: string, headers: Record<string, string> = {}): CallAttributes => ({
    ...call({ ...bearer(key), "inferencehub-model": "-", "content-type": "application/json", ...headers }),
    path,
  });
  const ok = await decide(rest("/v2/models/scale/versions/2/infer", keys.acme), context());
  assert.ok(ok.allowed, JSON.stringify(ok));
  assert.equal(ok.modelSource, "path");
  // The model header routes it; the version stays in the path.
  assert.deepEqual(ok.set.slice(2), [["inferencehub-model", "scale"]]);

  const forbidden = await decide(rest("/v2/models/mlp/infer", keys.acme), context());
  assert.equal(code(forbidden), "PERMISSION_DENIED");
  const unknown = await decide(rest("/v2/models/resnet-50/infer", keys.acme), context());
  assert.equal(code(unknown), "PERMISSION_DENIED");
  assert.ok(!unknown.allowed && /may not call model 'resnet-50'/.test(unknown.error.message));
  // No credentials: UNAUTHENTICATED whatever the path names.
  assert.equal(
    code(await decide(rest("/v2/models/resnet-50/infer", "ihk_nobody"), context())),
    "UNAUTHENTICATED",
  );
  // Paths without a model: let through once authenticated (Envoy answers them).
  const ready = await decide(rest("/v2/health/ready", keys.acme), context());
  assert.ok(ready.allowed);
  assert.equal(ready.modelSource, "none");
  const badName = await decide(rest("/v2/models/Bad_Name/infer", keys.acme), context());
  assert.ok(badName.allowed);
  assert.equal(badName.modelSource, "none");
});
