import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { formatErrors, parseConfig, type Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import { compilePolicy, type CallTarget } from "./policy.js";

function config(): Config {
  const result = parseConfig(`
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - name: scale
    versions:
      - { version: "1", weight: 90, nodes: [n1] }
      - { version: "2", weight: 10, nodes: [n1] }
      - { version: "3", weight: 0, nodes: [n1] }
  - { name: mlp, versions: [{ version: "1", nodes: [n1] }] }
auth:
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  tenants:
    - { name: acme, models: [mlp, { name: scale, versions: ["1", "2"] }] }
    - { name: pinned, models: [{ name: scale, versions: ["3"] }] }
    - { name: ops, models: ["*"], repository: true }
`);
  if (!result.ok) assert.fail(formatErrors(result.errors));
  return result.value;
}

const infer = "/inference.GRPCInferenceService/ModelInfer";
const load = "/inference.GRPCInferenceService/RepositoryModelLoad";
const policy = compilePolicy(config());

const cases: { tenant: string; target: CallTarget; denied?: RegExp }[] = [
  { tenant: "acme", target: { path: infer, model: "mlp" } },
  { tenant: "acme", target: { path: infer, model: "mlp", version: "1" } },
  { tenant: "acme", target: { path: infer, model: "scale" } },
  { tenant: "acme", target: { path: infer, model: "scale", version: "2" } },
  {
    tenant: "acme",
    target: { path: infer, model: "scale", version: "3" },
    denied: /^tenant 'acme' may not call version '3' of model 'scale' \(allowed: 1, 2\)$/,
  },
  {
    tenant: "acme",
    target: { path: infer, model: "resnet" },
    denied: /^tenant 'acme' may not call model 'resnet'$/,
  },
  { tenant: "acme", target: { path: infer } },
  { tenant: "acme", target: { path: "/inference.GRPCInferenceService/ServerLive" } },
  {
    tenant: "acme",
    target: { path: load, model: "mlp" },
    denied: /^tenant 'acme' may not call 'RepositoryModelLoad': the model repository is for operators$/,
  },
  {
    tenant: "pinned",
    target: { path: infer, model: "scale" },
    denied:
      /^tenant 'pinned' may call model 'scale' only at version 3: pin one with the inferencehub-model-version header$/,
  },
  { tenant: "pinned", target: { path: infer, model: "scale", version: "3" } },
  { tenant: "ops", target: { path: infer, model: "anything" } },
  { tenant: "ops", target: { path: load, model: "mlp" } },
  { tenant: "ghost", target: { path: infer, model: "mlp" }, denied: /^tenant 'ghost' is not configured/ },
  {
    tenant: "acme",
    target: { path: infer, model: "a\nb".repeat(40) },
    denied: /^tenant 'acme' may not call model 'a\\nba\\nb.*…'$/,
  },
];

for (const { tenant, target, denied } of cases) {
  test(`policy: ${tenant} ${target.path.split("/").pop()} ${target.model ?? "(no model)"}${target.version ? `@${target.version}` : ""} → ${denied ? "PERMISSION_DENIED" : "allowed"}`, () => {
    if (!denied) {
      policy.check(tenant, target);
      return;
    }
    assert.throws(
      () => policy.check(tenant, target),
      (err: unknown) =>
        err instanceof GatewayError && err.code === status.PERMISSION_DENIED && denied.test(err.message),
    );
  });
}

test("policy knows its tenants", () => {
  assert.equal(policy.hasTenant("acme"), true);
  assert.equal(policy.hasTenant("ghost"), false);
});

test("a pinned model: an unpinned call reaches the pin, whatever the weights say", () => {
  const pinned = parseConfig(`
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - name: scale
    pin: "3"
    versions:
      - { version: "1", weight: 100, nodes: [n1] }
      - { version: "3", weight: 0, nodes: [n1] }
auth:
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  tenants:
    - { name: one, models: [{ name: scale, versions: ["1"] }] }
    - { name: three, models: [{ name: scale, versions: ["3"] }] }
`);
  if (!pinned.ok) assert.fail(formatErrors(pinned.errors));
  const p = compilePolicy(pinned.value);
  // Every unpinned call goes to version 3 (the pin), which only `three` may call.
  p.check("three", { path: infer, model: "scale" });
  assert.throws(
    () => p.check("one", { path: infer, model: "scale" }),
    (err: unknown) => err instanceof GatewayError && err.code === status.PERMISSION_DENIED,
  );
});
