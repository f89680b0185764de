// issue #18: RepositoryModelLoad names versions as Triton does, in the `config` parameter's version_policy.
import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { versionPolicyOf } from "./load-parameters.js";

const config = (value: unknown) => ({
  config: { parameterChoice: { $case: "stringParam" as const, stringParam: JSON.stringify(value) } },
});

const refused = (code: status, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof GatewayError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

test("no parameters, or a config without version_policy, loads every version", () => {
  assert.deepEqual(versionPolicyOf({}), { kind: "all" });
  assert.deepEqual(versionPolicyOf(config({ name: "scale", max_batch_size: 0 })), { kind: "all" });
  assert.deepEqual(versionPolicyOf(config({ version_policy: { all: {} } })), { kind: "all" });
});

test("specific (numbers or strings, as protobuf JSON writes int64) and latest", () => {
  assert.deepEqual(versionPolicyOf(config({ version_policy: { specific: { versions: [2, "3", 2] } } })), {
    kind: "specific",
    versions: ["2", "3"],
  });
  assert.deepEqual(versionPolicyOf(config({ version_policy: { latest: { num_versions: 1 } } })), {
    kind: "latest",
    count: 1,
  });
});

test("anything else is refused with a message naming what is wrong", () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ version_policy: { specific: { versions: [] } } }, /non-empty list/],
    [{ version_policy: { specific: { versions: ["../x"] } } }, /is not a version/],
    [{ version_policy: { latest: { num_versions: 0 } } }, /positive integer/],
    [{ version_policy: { newest: {} } }, /unknown policy 'newest'/],
    [{ version_policy: { all: {}, latest: { num_versions: 1 } } }, /exactly one/],
    [[1], /JSON object/],
  ];
  for (const [value, pattern] of bad)
    assert.throws(() => versionPolicyOf(config(value)), refused(status.INVALID_ARGUMENT, pattern));
  assert.throws(
    () => versionPolicyOf({ config: { parameterChoice: { $case: "stringParam", stringParam: "{" } } }),
    refused(status.INVALID_ARGUMENT, /not JSON/),
  );
  assert.throws(
    () => versionPolicyOf({ config: { parameterChoice: { $case: "boolParam", boolParam: true } } }),
    refused(status.INVALID_ARGUMENT, /string_param/),
  );
  assert.throws(() => versionPolicyOf({ other: {} }), refused(status.INVALID_ARGUMENT, /unknown .*'other'/));
  assert.throws(
    () => versionPolicyOf({ "file:1/model.onnx": {} }),
    refused(status.UNIMPLEMENTED, /its own model repository/),
  );
});
