import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { formatErrors, parseConfig, type Config } from "@inferencehub/contracts/config";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { HealthView } from "../ir/index.js";
import { gatewayIndex } from "./gateway-index.js";

function config(auth: string): Config {
  const parsed = parseConfig(`
nodes:
  - { name: a, address: "10.0.0.1:9000" }
  - { name: b, address: "10.0.0.2:9000", drain: true }
models:
  - name: scale
    versions:
      - { version: "1", weight: 100, nodes: [a] }
      - { version: "2", weight: 0, nodes: [b] }
  - name: mlp
    versions:
      - { version: "1", nodes: [a] }
${auth}
`);
  if (!parsed.ok) assert.fail(formatErrors(parsed.errors));
  return parsed.value;
}

const tenants = `
auth:
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  tenants:
    - { name: all, models: ["*"] }
    - { name: pinned, models: [{ name: scale, versions: ["2"] }] }
    - { name: mlp-only, models: [mlp] }
`;
const healthy: HealthView = () => "HEALTHY";
const list = (cfg: Config, tenant: string | undefined, readyOnly = false, health = healthy) =>
  gatewayIndex(cfg, health, tenant, readyOnly).map((m) => `${m.name}/${m.version}:${m.state}`);

test("no auth at the gateway: every version, READY when a node not drained is up", () => {
  assert.deepEqual(list(config(""), undefined), ["scale/1:READY", "scale/2:UNAVAILABLE", "mlp/1:READY"]);
  assert.deepEqual(list(config(""), undefined, true), ["scale/1:READY", "mlp/1:READY"]);
  const down = gatewayIndex(config(""), (node) => (node === "a" ? "UNHEALTHY" : "HEALTHY"), undefined, false);
  assert.deepEqual(
    down.map((m) => [m.state, m.reason]),
    [
      ["UNAVAILABLE", "no node of this version is up"],
      ["UNAVAILABLE", "no node of this version is up"],
      ["UNAVAILABLE", "no node of this version is up"],
    ],
  );
});

test("with auth: what the tenant's grants allow, versions included; no tenant or an unknown one is refused", () => {
  const cfg = config(tenants);
  assert.deepEqual(list(cfg, "all"), ["scale/1:READY", "scale/2:UNAVAILABLE", "mlp/1:READY"]);
  assert.deepEqual(list(cfg, "pinned"), ["scale/2:UNAVAILABLE"]);
  assert.deepEqual(list(cfg, "mlp-only"), ["mlp/1:READY"]);
  const refused = (tenant: string | undefined, code: number) =>
    assert.throws(
      () => gatewayIndex(cfg, healthy, tenant, false),
      (e: unknown) => e instanceof GatewayError && e.code === code,
    );
  refused(undefined, status.UNAUTHENTICATED);
  refused("nobody", status.PERMISSION_DENIED);
});
