import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import {
  defaultAuth,
  defaultExtAuthz,
  defaultJwt,
  defaultPool,
  defaultRateLimitService,
  defaultReplicas,
} from "./defaults.js";
import { formatDuration } from "./duration.js";
import { formatConfig } from "./format.js";
import { parseConfig } from "./parse.js";
import { configSchema } from "./schema.js";

type SchemaNode = { $ref?: string; default?: unknown; properties?: Record<string, SchemaNode> };

function resolve(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const name = node.$ref.replace("#/definitions/", "");
  const target = (configSchema.definitions as Record<string, SchemaNode>)[name];
  assert.ok(target, `unresolved ${node.$ref}`);
  // A `default` next to a $ref annotates the referring property.
  return { ...resolve(target), ...(node.default === undefined ? {} : { default: node.default }) };
}

/** The object an editor would fill in from the schema's `default` annotations. */
function schemaDefaults(node: SchemaNode): unknown {
  const resolved = resolve(node);
  if (resolved.default !== undefined) return resolved.default;
  if (!resolved.properties) return undefined;
  // A setting without a default (expectedLatency) is left out, as the written config leaves it out.
  return Object.fromEntries(
    Object.entries(resolved.properties)
      .map(([key, child]) => [key, schemaDefaults(child)] as const)
      .filter(([, value]) => value !== undefined),
  );
}

test("the schema documents the same defaults the code applies", () => {
  const result = parseConfig("nodes: []\n");
  assert.ok(result.ok);
  const written = parse(formatConfig(result.value)) as Record<string, unknown>;
  const root = configSchema as SchemaNode;
  assert.deepEqual(schemaDefaults(root.properties?.listener ?? {}), written.listener);
  assert.deepEqual(schemaDefaults(root.properties?.defaults ?? {}), written.defaults);
  const node = resolve({ $ref: "#/definitions/node" }).properties ?? {};
  assert.equal(schemaDefaults(node.pool ?? {}), defaultPool);
  assert.equal(schemaDefaults(node.drain ?? {}), false);
  assert.deepEqual(schemaDefaults(node.labels ?? {}), {});
});

test("the schema documents the same fleet and placement defaults the code applies", () => {
  const result = parseConfig("nodes: []\n");
  assert.ok(result.ok);
  const written = parse(formatConfig(result.value)) as Record<string, unknown>;
  const root = configSchema as SchemaNode;
  assert.deepEqual(schemaDefaults(root.properties?.fleet ?? {}), written.fleet);
  const placement = resolve({ $ref: "#/definitions/placement" }).properties ?? {};
  assert.equal(schemaDefaults(placement.replicas ?? {}), defaultReplicas);
  assert.deepEqual(schemaDefaults(placement.labels ?? {}), {});
});

test("the schema documents the same auth defaults the code applies", () => {
  const defs = configSchema.definitions as Record<string, SchemaNode>;
  const service = defs.extAuthzService?.properties ?? {};
  assert.equal(schemaDefaults(service.timeout ?? {}), formatDuration(defaultExtAuthz.timeoutMs));
  assert.equal(schemaDefaults(service.failOpen ?? {}), defaultExtAuthz.failOpen);
  const jwt = defs.jwt?.properties ?? {};
  assert.equal(schemaDefaults(jwt.tenantClaim ?? {}), defaultJwt.tenantClaim);
  assert.equal(schemaDefaults(jwt.clockSkew ?? {}), formatDuration(defaultJwt.clockSkewMs));
  assert.equal(schemaDefaults(jwt.jwksCacheTtl ?? {}), formatDuration(defaultJwt.jwksCacheMs));
  assert.equal(schemaDefaults(defs.tenant?.properties?.repository ?? {}), false);
  const auth = defs.auth?.properties ?? {};
  assert.equal(schemaDefaults(auth.mode ?? {}), defaultAuth.mode);
  assert.equal(schemaDefaults(auth.apiKeys?.properties?.issuer ?? {}), defaultAuth.apiKeysIssuer);
  const limits = auth.rateLimitService?.properties ?? {};
  assert.equal(schemaDefaults(limits.timeout ?? {}), formatDuration(defaultRateLimitService.timeoutMs));
  assert.equal(schemaDefaults(limits.failOpen ?? {}), defaultRateLimitService.failOpen);
});
