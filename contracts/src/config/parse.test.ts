import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultFleetSettings, defaultListener, defaultSettings } from "./defaults.js";
import { formatErrors } from "./errors.js";
import { formatConfig } from "./format.js";
import { parseConfig } from "./parse.js";
import type { Config } from "./types.js";

const minimal = `
nodes:
  - { name: node-1, address: "127.0.0.1:9001" }
models:
  - name: scale
    versions:
      - { version: "1", nodes: [node-1] }
`;

function parsed(text: string): Config {
  const result = parseConfig(text);
  if (!result.ok) assert.fail(`expected a valid config, got:\n${formatErrors(result.errors)}`);
  return result.value;
}

/** `path: message` for each error, without positions: what the tables below state. */
function problems(text: string): string[] {
  const result = parseConfig(text);
  if (result.ok) assert.fail("expected errors, the config is valid");
  return result.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
}

test("a minimal file gets every default", () => {
  const config = parsed(minimal);
  assert.deepEqual(config.listener, defaultListener);
  assert.deepEqual(config.defaults, defaultSettings);
  assert.deepEqual(config.pools, ["default"]);
  assert.deepEqual(config.nodes, [
    {
      name: "node-1",
      address: "127.0.0.1:9001",
      host: "127.0.0.1",
      port: 9001,
      pool: "default",
      drain: false,
      protocol: "grpc",
      versionFrom: "header",
      versionPorts: [],
      labels: {},
    },
  ]);
  assert.deepEqual(config.fleet, defaultFleetSettings);
  const [model] = config.models;
  assert.ok(model);
  assert.deepEqual(model.versions, [{ version: "1", weight: 100, nodes: ["node-1"], serverVersion: "1" }]);
  assert.equal(model.shadow, undefined);
  assert.equal(model.timeoutMs, defaultSettings.timeoutMs);
});

const goodCases: { name: string; yaml: string; check: (config: Config) => void }[] = [
  {
    name: "per-model overrides merge field by field over defaults",
    yaml: `
defaults: { timeout: 20s, retry: { attempts: 3, perTryTimeout: 5s } }
nodes: [{ name: n1, address: "10.0.0.1:9000" }]
models:
  - name: m
    versions: [{ version: v1, nodes: [n1] }]
    timeout: 1.5s
    retry: { on: [unavailable] }
    outlierDetection: { interval: 250ms }
`,
    check: (c) => {
      const m = c.models[0];
      assert.equal(c.defaults.timeoutMs, 20_000);
      assert.equal(m?.timeoutMs, 1_500);
      assert.deepEqual(m?.retry, { attempts: 3, perTryTimeoutMs: 5_000, on: ["unavailable"], hedge: false });
      assert.equal(m?.outlierDetection.intervalMs, 250);
      assert.equal(
        m?.outlierDetection.baseEjectionTimeMs,
        defaultSettings.outlierDetection.baseEjectionTimeMs,
      );
    },
  },
  {
    name: "an expected latency sets the per-try timeout unless one is written beside it",
    yaml: `
defaults: { timeout: 20s, retry: { perTryTimeout: 5s } }
nodes: [{ name: n1, address: "10.0.0.1:9000" }]
models:
  - { name: a, versions: [{ version: v1, nodes: [n1] }], expectedLatency: 30ms, retry: { hedge: true } }
  - { name: b, versions: [{ version: v1, nodes: [n1] }], expectedLatency: 30ms, retry: { perTryTimeout: 1s } }
  - { name: c, versions: [{ version: v1, nodes: [n1] }], expectedLatency: 5ms }
  - { name: d, versions: [{ version: v1, nodes: [n1] }], expectedLatency: 10s, timeout: 15s }
  - { name: e, versions: [{ version: v1, nodes: [n1] }] }
`,
    check: (c) => {
      const [a, b, cc, d, e] = c.models;
      assert.deepEqual([a?.expectedLatencyMs, a?.retry.perTryTimeoutMs, a?.retry.hedge], [30, 120, true]);
      assert.equal(b?.retry.perTryTimeoutMs, 1_000, "written beside it: kept");
      assert.equal(cc?.retry.perTryTimeoutMs, 50, "never under 50 ms");
      assert.equal(d?.retry.perTryTimeoutMs, 15_000, "never over the call's timeout");
      assert.deepEqual(
        [e?.expectedLatencyMs, e?.retry.perTryTimeoutMs, e?.retry.hedge],
        [undefined, 5_000, false],
      );
    },
  },
  {
    name: "a version the nodes know by another name, or as their default model",
    yaml: `
nodes: [{ name: n1, address: "10.0.0.1:9000" }]
models:
  - name: m
    versions:
      - { version: "1", serverVersion: "", weight: 50, nodes: [n1] }
      - { version: "2", serverVersion: 7, weight: 50, nodes: [n1] }
`,
    check: (c) => {
      assert.deepEqual(
        c.models[0]?.versions.map((v) => [v.version, v.serverVersion]),
        [
          ["1", ""],
          ["2", "7"],
        ],
      );
    },
  },
  {
    name: "pools default to the order of first appearance",
    yaml: `
nodes:
  - { name: a, address: "127.0.0.1:1", pool: cpu }
  - { name: b, address: "127.0.0.1:2", pool: gpu }
  - { name: c, address: "127.0.0.1:3", pool: cpu }
`,
    check: (c) => assert.deepEqual(c.pools, ["cpu", "gpu"]),
  },
  {
    name: "explicit pools keep their order, unused ones included",
    yaml: `
pools: [gpu, tpu, cpu]
nodes: [{ name: a, address: "127.0.0.1:1", pool: cpu }]
`,
    check: (c) => assert.deepEqual(c.pools, ["gpu", "tpu", "cpu"]),
  },
  {
    name: "integer versions are names; IPv6 addresses lose their brackets",
    yaml: `
nodes: [{ name: a, address: "[::1]:9001", drain: true }]
models:
  - name: m
    versions:
      - { version: 1, weight: 100, nodes: [a] }
      - { version: 2, weight: 0, nodes: [a] }
    shadow: { version: 2, percent: 5 }
`,
    check: (c) => {
      assert.deepEqual(
        c.models[0]?.versions.map((v) => v.version),
        ["1", "2"],
      );
      assert.deepEqual(c.models[0]?.shadow, { version: "2", percent: 5 });
      assert.equal(c.nodes[0]?.host, "::1");
      assert.equal(c.nodes[0]?.drain, true);
    },
  },
  {
    name: "listener limits and durations in every unit",
    yaml: `
listener: { port: 9000, address: "127.0.0.1", idleTimeout: 1h, streamIdleTimeout: 2m, requestHeadersTimeout: 500ms, accessLog: true }
`,
    check: (c) => {
      assert.equal(c.listener.port, 9000);
      assert.equal(c.listener.idleTimeoutMs, 3_600_000);
      assert.equal(c.listener.streamIdleTimeoutMs, 120_000);
      assert.equal(c.listener.requestHeadersTimeoutMs, 500);
      assert.equal(c.listener.accessLog, true);
    },
  },
  {
    name: "auth: defaults, grants with and without versions, rate limits",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - { name: scale, versions: [{ version: 1, weight: 50, nodes: [n1] }, { version: 2, weight: 50, nodes: [n1] }] }
  - { name: mlp, versions: [{ version: v1, nodes: [n1] }] }
auth:
  extAuthz: { address: "ext-authz:19000" }
  keysFile: keys.yaml
  jwt: { jwksUrl: "https://idp.example/jwks.json", issuer: "https://idp.example", audience: inferencehub }
  tenants:
    - { name: acme, models: [scale, { name: mlp, versions: [v1] }], rateLimit: { callsPerSecond: 2.5 } }
    - { name: ops, models: ["*"], rateLimit: { callsPerSecond: 100, burst: 500 }, repository: true }
`,
    check: (c) => {
      assert.equal(c.auth?.mode, "native");
      assert.equal(c.auth?.apiKeys, undefined);
      assert.equal(c.auth?.rateLimitService, undefined);
      assert.deepEqual(c.auth?.extAuthz, {
        address: "ext-authz:19000",
        host: "ext-authz",
        port: 19000,
        timeoutMs: 250,
        failOpen: false,
      });
      assert.equal(c.auth?.keysFile, "keys.yaml");
      assert.deepEqual(c.auth?.jwt, {
        jwksUrl: "https://idp.example/jwks.json",
        issuer: "https://idp.example",
        audience: "inferencehub",
        tenantClaim: "tenant",
        clockSkewMs: 5_000,
        jwksCacheMs: 600_000,
      });
      assert.deepEqual(c.auth?.tenants, [
        {
          name: "acme",
          models: [{ model: "scale" }, { model: "mlp", versions: ["v1"] }],
          rateLimit: { callsPerSecond: 2.5, burst: 3 },
          repository: false,
        },
        {
          name: "ops",
          models: [{ model: "*" }],
          rateLimit: { callsPerSecond: 100, burst: 500 },
          repository: true,
        },
      ]);
    },
  },
  {
    name: "auth: an IPv6 ext-authz address, JWT only, fail-open and integer versions",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: 7, nodes: [n1] }] }]
auth:
  extAuthz: { address: "[::1]:19000", timeout: 1s, failOpen: true }
  jwt: { jwksFile: jwks.json, issuer: i, audience: a, tenantClaim: org, clockSkew: 1m, jwksCacheTtl: 1h }
  tenants: [{ name: t, models: [{ name: m, versions: [7] }] }]
`,
    check: (c) => {
      assert.deepEqual(c.auth?.extAuthz, {
        address: "[::1]:19000",
        host: "::1",
        port: 19000,
        timeoutMs: 1_000,
        failOpen: true,
      });
      assert.equal(c.auth?.keysFile, undefined);
      assert.equal(c.auth?.jwt?.tenantClaim, "org");
      assert.deepEqual(c.auth?.tenants[0]?.models, [{ model: "m", versions: ["7"] }]);
    },
  },
  {
    name: "auth: native mode with gateway-signed API keys and a shared rate limit service",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: 1, nodes: [n1] }] }]
auth:
  mode: native
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  apiKeys: { jwksFile: gateway-keys.jwks.json }
  rateLimitService: { address: "ratelimit:8081" }
  tenants:
    - name: t
      models: [{ name: m, rateLimit: { callsPerSecond: 0.5 } }]
      rateLimit: { callsPerSecond: 5 }
`,
    check: (c) => {
      assert.deepEqual(c.auth?.tenants[0]?.models, [
        { model: "m", rateLimit: { callsPerSecond: 0.5, burst: 1 } },
      ]);
      assert.deepEqual(c.auth?.apiKeys, { jwksFile: "gateway-keys.jwks.json", issuer: "inferencehub-keys" });
      assert.deepEqual(c.auth?.rateLimitService, {
        address: "ratelimit:8081",
        host: "ratelimit",
        port: 8081,
        timeoutMs: 100,
        failOpen: false,
      });
    },
  },
  {
    name: "a file with no nodes and no models is a gateway that serves nothing",
    yaml: "listener: { port: 8080 }\n",
    check: (c) => assert.deepEqual([c.nodes, c.models, c.pools], [[], [], []]),
  },
];

for (const { name, yaml, check } of goodCases) {
  test(`valid: ${name}`, () => check(parsed(yaml)));
}

const badCases: { name: string; yaml: string; errors: string[] }[] = [
  {
    name: "weights out of range and not adding up",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - name: m
    versions:
      - { version: "1", weight: 90, nodes: [n1] }
      - { version: "2", weight: 150, nodes: [n1] }
  - name: k
    versions:
      - { version: "1", weight: 60, nodes: [n1] }
      - { version: "2", weight: 30, nodes: [n1] }
`,
    errors: [
      "models[0].versions[1].weight: must be an integer from 0 to 100",
      "models[1].versions: weights add up to 90, must be exactly 100 (1: 60, 2: 30)",
    ],
  },
  {
    name: "a weight left out next to another version",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - name: m
    versions:
      - { version: "1", weight: 100, nodes: [n1] }
      - { version: "2", nodes: [n1] }
`,
    errors: ["models[0].versions[1].weight: is required when a model has more than one version"],
  },
  {
    name: "unknown nodes, duplicate models and versions",
    yaml: `
nodes: [{ name: node-1, address: "127.0.0.1:1" }, { name: node-2, address: "127.0.0.1:2" }]
models:
  - name: scale
    versions: [{ version: "1", nodes: [node-1, node-9] }]
  - name: scale
    versions:
      - { version: "1", weight: 50, nodes: [node-1] }
      - { version: "1", weight: 50, nodes: [node-2, node-2] }
`,
    errors: [
      "models[0].versions[0].nodes[1]: unknown node 'node-9' (nodes: node-1, node-2)",
      "models[1].name: duplicate model 'scale' (also models[0])",
      "models[1].versions[1].version: duplicate version '1' (also models[1].versions[0])",
      "models[1].versions[1].nodes[1]: duplicate node 'node-2' (also models[1].versions[1].nodes[0])",
    ],
  },
  {
    name: "durations",
    yaml: `
defaults: { timeout: 10 seconds, connectTimeout: 0s, retry: { perTryTimeout: 5 } }
`,
    errors: [
      "defaults.timeout: '10 seconds' is not a duration (use e.g. 250ms, 10s, 1m)",
      "defaults.connectTimeout: '0s' must be greater than 0",
      "defaults.retry.perTryTimeout: 5 is not a duration (use e.g. 250ms, 10s, 1m)",
    ],
  },
  {
    name: "names and versions",
    yaml: `
nodes: [{ name: Node_1, address: "127.0.0.1:1" }, { name: n2, address: "127.0.0.1:2" }]
models:
  - name: "-scale"
    versions: [{ version: "1.0", nodes: [n2] }]
`,
    errors: [
      "nodes[0].name: 'Node_1' is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit (at most 63)",
      "models[0].name: '-scale' is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit (at most 63)",
      "models[0].versions[0].version: '1.0' is not a valid version: use letters, digits and '-' (no dots: they would split Envoy stat names; at most 63)",
    ],
  },
  {
    name: "shadow versions",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models:
  - name: a
    versions: [{ version: "1", weight: 90, nodes: [n1] }, { version: "2", weight: 10, nodes: [n1] }]
    shadow: { version: "2", percent: 5 }
  - name: b
    versions: [{ version: "1", nodes: [n1] }]
    shadow: { version: "3", percent: 101 }
`,
    errors: [
      "models[0].shadow.version: version '2' takes 10% of live calls; a shadow version must have weight 0 (it would see those calls twice)",
      "models[1].shadow.version: unknown version '3' of model 'b' (versions: 1)",
      "models[1].shadow.percent: must be an integer from 0 to 100",
    ],
  },
  {
    name: "addresses",
    yaml: `
nodes:
  - { name: a, address: "localhost:9001" }
  - { name: b, address: "127.0.0.1:99999" }
  - { name: c, address: "300.0.0.1:9001" }
  - { name: d, address: "::1:9001" }
  - { name: e, address: "127.0.0.1:9001" }
  - { name: f, address: "127.0.0.1:9001" }
`,
    errors: [
      "nodes[0].address: 'localhost:9001' is not an IP:port address (e.g. 127.0.0.1:9001 or [::1]:9001; Envoy's EDS and grpc-js take IP addresses, not host names)",
      "nodes[1].address: port 99999 is not from 1 to 65535",
      "nodes[2].address: '300.0.0.1' is not an IP address (IPv6 goes in brackets)",
      "nodes[3].address: '::1:9001' is not an IP:port address (e.g. 127.0.0.1:9001 or [::1]:9001; Envoy's EDS and grpc-js take IP addresses, not host names)",
      "nodes[5].address: duplicate address '127.0.0.1:9001' (also nodes[4])",
    ],
  },
  {
    name: "pools",
    yaml: `
pools: [gpu, gpu]
nodes:
  - { name: a, address: "127.0.0.1:1", pool: tpu }
  - { name: b, address: "127.0.0.1:2" }
`,
    errors: [
      "pools[1]: duplicate pool 'gpu' (also pools[0])",
      "nodes[0].pool: unknown pool 'tpu' (pools: gpu)",
      "nodes[1]: names no pool and 'default' is not in pools (pools: gpu)",
    ],
  },
  {
    name: "unknown, missing and mistyped fields",
    yaml: `
listner: { port: 1 }
nodes: [{ name: a }]
models:
  - name: m
    versions: { version: "1" }
    retry: { attempts: 0, on: [unavailable, unavailable, sometimes] }
`,
    errors: [
      "listner: unknown field (expected one of: listener, pools, defaults, nodes, models, auth, controlPlane, fleet)",
      "nodes[0].address: is required",
      "models[0].versions: must be a list",
      "models[0].retry.attempts: must be an integer from 1 to 10",
      "models[0].retry.on: lists 'unavailable' twice",
      "models[0].retry.on[2]: 'sometimes' is not one of: connect-failure, refused-stream, reset-before-request, reset, 5xx, gateway-error, retriable-4xx, envoy-ratelimited, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable",
    ],
  },
  {
    name: "auth: references, duplicates, identity sources and addresses",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: scale, versions: [{ version: "1", nodes: [n1] }] }]
auth:
  extAuthz: { address: "300.1.1.1:19000" }
  jwt: { jwksFile: a.json, jwksUrl: "https://x", issuer: i, audience: a }
  tenants:
    - { name: acme, models: [scale, resnet, { name: scale, versions: ["1", "9", "1"] }] }
    - { name: acme, models: ["*"] }
`,
    errors: [
      "auth.extAuthz.address: '300.1.1.1' is not an IP address (IPv6 goes in brackets)",
      "auth.jwt: sets both jwksFile and jwksUrl: keep one",
      "auth.tenants[0].models[1]: unknown model 'resnet' (models: scale)",
      "auth.tenants[0].models[2]: duplicate model 'scale' (also auth.tenants[0].models[0])",
      "auth.tenants[0].models[2].versions[1]: unknown version '9' of model 'scale' (versions: 1)",
      "auth.tenants[0].models[2].versions[2]: duplicate version '1' (also auth.tenants[0].models[2].versions[0])",
      "auth.tenants[1].name: duplicate tenant 'acme' (also auth.tenants[0])",
    ],
  },
  {
    name: "auth: mode, signed keys without a keys file, a rate limit service in ext-authz mode",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: "1", nodes: [n1] }] }]
auth:
  mode: envoy
  extAuthz: { address: "127.0.0.1:19000" }
  jwt: { jwksFile: a.json, issuer: i, audience: a }
  apiKeys: { jwksFile: "" }
  rateLimitService: { address: "ratelimit", timeout: 0s }
  tenants: [{ name: t, models: [m] }]
`,
    errors: [
      "auth.mode: 'envoy' is not one of: native, ext-authz",
      "auth.apiKeys: needs keysFile: a signed key works only while the keys file lists its id and hash (that is how it is revoked)",
      "auth.apiKeys.jwksFile: '' must not be empty",
      "auth.rateLimitService.address: 'ratelimit' is not a host:port address (e.g. 127.0.0.1:8081 or ratelimit:8081)",
      "auth.rateLimitService.timeout: '0s' must be greater than 0",
    ],
  },
  {
    name: "auth: a grant that adds nothing; a model's limit in ext-authz mode",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: "1", nodes: [n1] }] }]
auth:
  mode: ext-authz
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  tenants: [{ name: t, models: [{ name: m }, { name: m, rateLimit: { callsPerSecond: 1 } }] }]
`,
    errors: [
      "auth.tenants[0].models[0]: says nothing a plain 'm' would not: give versions, a rateLimit or both",
      "auth.tenants[0].models[1]: duplicate model 'm' (also auth.tenants[0].models[0])",
      "auth.tenants[0].models[1].rateLimit: a tenant's limit on one model is Envoy's, in native mode only: with mode: ext-authz, limit the tenant as a whole",
    ],
  },
  {
    name: "auth: a rate limit service is for native mode",
    yaml: `
nodes: [{ name: n1, address: "127.0.0.1:1" }]
models: [{ name: m, versions: [{ version: "1", nodes: [n1] }] }]
auth:
  mode: ext-authz
  extAuthz: { address: "127.0.0.1:19000" }
  keysFile: keys.yaml
  rateLimitService: { address: "127.0.0.1:8081" }
  tenants: [{ name: t, models: [m] }]
`,
    errors: [
      "auth.rateLimitService: is used by Envoy in native mode only: with mode: ext-authz, ext-authz limits each tenant per replica",
    ],
  },
  {
    name: "auth: structure",
    yaml: `
auth:
  extAuthz: { address: "ext authz", timeout: 0ms }
  jwt: { issuer: i, audience: a }
  tenants:
    - { name: Acme, models: [], rateLimit: { callsPerSecond: 0, burst: 0 } }
    - { name: b, models: ["m*", 3, { name: "*", versions: [] }] }
`,
    errors: [
      "auth.extAuthz.address: 'ext authz' is not a host:port address (e.g. 127.0.0.1:19000, [::1]:19000 or ext-authz:19000)",
      "auth.extAuthz.timeout: '0ms' must be greater than 0",
      "auth.jwt: needs jwksFile or jwksUrl to verify tokens with",
      "auth.tenants[0].name: 'Acme' is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit (at most 63)",
      "auth.tenants[0].models: must not be empty",
      "auth.tenants[0].rateLimit.callsPerSecond: must be a number from 0.001 to 1000000",
      "auth.tenants[0].rateLimit.burst: must be an integer from 1 to 1000000",
      "auth.tenants[1].models[0]: 'm*' is not a model name or '*'",
      "auth.tenants[1].models[1]: 3 must be a model name, '*', or { name, versions, rateLimit }",
      "auth.tenants[1].models[2].name: '*' is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit (at most 63)",
      "auth.tenants[1].models[2].versions: must not be empty",
    ],
  },
  {
    name: "auth: no identity source, a bad port and an empty tenant list",
    yaml: `
auth: { extAuthz: { address: "127.0.0.1:70000" }, tenants: [] }
`,
    errors: [
      "auth: names no identity source: set keysFile, jwt or both (without one, every call is UNAUTHENTICATED)",
      "auth.extAuthz.address: port 70000 is not from 1 to 65535",
    ],
  },
  {
    name: "not a mapping",
    yaml: "- nodes\n",
    errors: ["must be a mapping (key: value)"],
  },
  {
    name: "an empty file (an editor mid-save) is refused",
    yaml: "",
    errors: ["the file is empty: expected a mapping with nodes and models"],
  },
];

for (const { name, yaml, errors } of badCases) {
  test(`invalid: ${name}`, () => assert.deepEqual(problems(yaml), errors));
}

test("YAML syntax errors carry the line and column", () => {
  const result = parseConfig("nodes:\n  - { name: a\nmodels: []\n", "broken.yaml");
  assert.equal(result.ok, false);
  if (result.ok) return;
  const [first] = result.errors;
  assert.equal(first?.source, "broken.yaml");
  assert.equal(first?.line, 3);
  assert.match(formatErrors(result.errors), /^broken\.yaml:3:\d+: /);
});

test("duplicate keys are a syntax error, not a silent override", () => {
  assert.match(problems("nodes: []\nnodes: []\n")[0] ?? "", /unique/);
});

test("semantic errors point at the offending line", () => {
  const text = [
    "nodes: [{ name: a, address: '127.0.0.1:1' }]",
    "models:",
    "  - name: m",
    "    versions:",
    "      - { version: '1', nodes: [b] }",
    "",
  ].join("\n");
  const result = parseConfig(text, "inferencehub.yaml");
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(
    formatErrors(result.errors),
    "inferencehub.yaml:5:33: models[0].versions[0].nodes[0]: unknown node 'b' (nodes: a)",
  );
});

test("parse is idempotent on a normalized config", () => {
  const inputs = [minimal, ...goodCases.map((c) => c.yaml)];
  for (const input of inputs) {
    const once = parsed(input);
    const twice = parsed(formatConfig(once));
    assert.deepEqual(twice, once);
    assert.equal(formatConfig(twice), formatConfig(once));
  }
});
