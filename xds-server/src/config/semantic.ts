/**
 * The rules a JSON schema cannot state: references between fields, weight sums, duplicates and
 * addresses. They run on the raw document even when the schema found problems, skipping whatever
 * is malformed (the schema reports that), so an operator sees every problem in one pass.
 */
import { isIP } from "node:net";
import { defaultPool } from "./defaults.js";
import { formatPath, quote } from "./errors.js";
import type { PathSegments } from "./errors.js";
import type { Issue } from "./schema.js";

type Raw = Record<string, unknown>;

const isRecord = (value: unknown): value is Raw =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const stringOf = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
/** Versions may be written as integers; they are names all the same. */
const versionOf = (value: unknown): string | undefined =>
  typeof value === "string" ? value : Number.isInteger(value) ? String(value) : undefined;

export function checkSemantics(raw: unknown): Issue[] {
  if (!isRecord(raw)) return [];
  const nodeNames = new Set(
    listOf(raw.nodes).flatMap((node) => stringOf(isRecord(node) ? node.name : undefined) ?? []),
  );
  return [
    ...checkPools(raw),
    ...checkNodes(raw),
    ...checkVersionPorts(raw),
    ...checkListener(raw.listener),
    ...checkModels(raw, nodeNames),
    ...checkAuth(raw),
    ...(isRecord(raw.controlPlane)
      ? checkServiceAddress(raw.controlPlane.address, ["controlPlane", "address"])
      : []),
  ];
}

/** Reports the second and later occurrence of each key, pointing back at the first. */
function duplicates(
  items: readonly { key: string | undefined; at: PathSegments }[],
  what: string,
  keyField?: string,
): Issue[] {
  const first = new Map<string, PathSegments>();
  const issues: Issue[] = [];
  for (const { key, at } of items) {
    if (key === undefined) continue;
    const earlier = first.get(key);
    if (earlier) {
      issues.push({
        segments: keyField ? [...at, keyField] : at,
        message: `duplicate ${what} ${quote(key)} (also ${formatPath(earlier)})`,
      });
    } else first.set(key, at);
  }
  return issues;
}

function checkPools(raw: Raw): Issue[] {
  const pools = listOf(raw.pools).map((pool, i) => ({ key: stringOf(pool), at: ["pools", i] }));
  return duplicates(pools, "pool");
}

function checkNodes(raw: Raw): Issue[] {
  const nodes = listOf(raw.nodes);
  const declaredPools = Array.isArray(raw.pools) ? raw.pools.filter((p) => typeof p === "string") : undefined;
  const issues: Issue[] = [];
  nodes.forEach((node, i) => {
    if (!isRecord(node)) return;
    issues.push(...checkAddress(node.address, ["nodes", i, "address"]));
    const pool = node.pool === undefined ? defaultPool : stringOf(node.pool);
    if (declaredPools && pool !== undefined && !declaredPools.includes(pool)) {
      const listed = `pools: ${[...new Set(declaredPools)].join(", ")}`;
      issues.push(
        node.pool === undefined
          ? {
              segments: ["nodes", i],
              message: `names no pool and ${quote(pool)} is not in pools (${listed})`,
            }
          : { segments: ["nodes", i, "pool"], message: `unknown pool ${quote(pool)} (${listed})` },
      );
    }
  });
  const records = nodes.map((node, i) => ({ node: isRecord(node) ? node : {}, i }));
  issues.push(
    ...duplicates(
      records.map(({ node, i }) => ({ key: stringOf(node.name), at: ["nodes", i] })),
      "node",
      "name",
    ),
    ...duplicates(
      records.map(({ node, i }) => ({ key: canonicalAddress(node.address), at: ["nodes", i] })),
      "address",
      "address",
    ),
  );
  return issues;
}

/**
 * A node's version ports: each names a version that lists the node, once, on a port of its own
 * (not the node's main port, not another version's).
 */
function checkVersionPorts(raw: Raw): Issue[] {
  const versionNodes = new Map<string, string[]>();
  for (const model of listOf(raw.models)) {
    if (!isRecord(model)) continue;
    for (const version of listOf(model.versions)) {
      if (!isRecord(version)) continue;
      versionNodes.set(
        `${stringOf(model.name)}/${versionOf(version.version)}`,
        listOf(version.nodes).flatMap((n) => stringOf(n) ?? []),
      );
    }
  }
  const issues: Issue[] = [];
  listOf(raw.nodes).forEach((node, i) => {
    if (!isRecord(node)) return;
    const name = stringOf(node.name) ?? `#${i}`;
    const mainPort = typeof node.address === "string" ? splitAddress(node.address)?.port : undefined;
    const entries = listOf(node.versionPorts).map((vp, j) => ({
      vp: isRecord(vp) ? vp : {},
      at: ["nodes", i, "versionPorts", j] as PathSegments,
    }));
    for (const { vp, at } of entries) {
      const key = `${stringOf(vp.model)}/${versionOf(vp.version)}`;
      const nodes = versionNodes.get(key);
      if (nodes === undefined) {
        issues.push({ segments: at, message: `names ${key}, which no model version in models is` });
      } else if (!nodes.includes(name)) {
        issues.push({
          segments: at,
          message: `names ${key}, whose nodes (${nodes.join(", ")}) do not include ${quote(name)}`,
        });
      }
      if (vp.port !== undefined && vp.port === mainPort) {
        issues.push({
          segments: [...at, "port"],
          message: `is the node's own port (address); give the version a port of its own`,
        });
      }
    }
    issues.push(
      ...duplicates(
        entries.map(({ vp, at }) => ({ key: `${stringOf(vp.model)}/${versionOf(vp.version)}`, at })),
        "version port",
      ),
      ...duplicates(
        entries.map(({ vp, at }) => ({
          key: Number.isInteger(vp.port) ? String(vp.port) : undefined,
          at: [...at, "port"],
        })),
        "port",
      ),
    );
  });
  return issues;
}

/** "<ip>:<port>" (IPv6 in brackets) split, or undefined when it does not have that shape. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  if (!match) return undefined;
  const host = match[1] ?? match[2] ?? "";
  return { host, port: Number(match[3]) };
}

/** The schema's pattern for node addresses (definitions.node.properties.address). */
const addressShape = /^(\[[0-9A-Fa-f:.]+\]|[0-9.]+):[0-9]{1,5}$/;

/** One spelling per address, so [::1]:9001 and [0:0:0:0:0:0:0:1]:9001 count as the same node. */
function canonicalAddress(value: unknown): string | undefined {
  const parts = typeof value === "string" ? splitAddress(value) : undefined;
  if (!parts) return undefined;
  switch (isIP(parts.host)) {
    case 4:
      return `${parts.host}:${parts.port}`;
    case 6:
      // The WHATWG URL parser writes IPv6 in its shortest form (RFC 5952).
      return `${new URL(`http://[${parts.host}]/`).hostname}:${parts.port}`;
    default:
      return undefined;
  }
}

function checkAddress(value: unknown, at: PathSegments): Issue[] {
  if (typeof value !== "string") return [];
  const parts = addressShape.test(value) ? splitAddress(value) : undefined;
  // A shape the schema pattern rejects is reported there.
  if (!parts) return [];
  const bracketed = value.startsWith("[");
  const family = isIP(parts.host);
  if (family === 0 || (family === 6) !== bracketed) {
    return [{ segments: at, message: `${quote(parts.host)} is not an IP address (IPv6 goes in brackets)` }];
  }
  if (parts.port < 1 || parts.port > 65535) {
    return [{ segments: at, message: `port ${parts.port} is not from 1 to 65535` }];
  }
  return [];
}

function checkListener(listener: unknown): Issue[] {
  if (!isRecord(listener) || typeof listener.address !== "string" || isIP(listener.address)) return [];
  return [{ segments: ["listener", "address"], message: `${quote(listener.address)} is not an IP address` }];
}

function checkModels(raw: Raw, nodeNames: ReadonlySet<string>): Issue[] {
  const models = listOf(raw.models);
  const issues = duplicates(
    models.map((model, i) => ({
      key: isRecord(model) ? stringOf(model.name) : undefined,
      at: ["models", i],
    })),
    "model",
    "name",
  );
  models.forEach((model, i) => {
    if (isRecord(model)) issues.push(...checkModel(model, ["models", i], nodeNames));
  });
  return issues;
}

function checkModel(model: Raw, at: PathSegments, nodeNames: ReadonlySet<string>): Issue[] {
  const versions = listOf(model.versions).map((version, j) => ({
    raw: isRecord(version) ? version : {},
    at: [...at, "versions", j],
  }));
  const issues = duplicates(
    versions.map((v) => ({ key: versionOf(v.raw.version), at: v.at })),
    "version",
    "version",
  );
  issues.push(...checkWeights(versions, at));
  for (const version of versions) issues.push(...checkVersionNodes(version.raw, version.at, nodeNames));
  if (isRecord(model.shadow)) issues.push(...checkShadow(model, versions, at));
  const pin = versionOf(model.pin);
  if (pin !== undefined && !versions.some((v) => versionOf(v.raw.version) === pin)) {
    const known = versions.map((v) => versionOf(v.raw.version)).filter((v) => v !== undefined);
    issues.push({
      segments: [...at, "pin"],
      message: `pins unknown version ${quote(pin)} (versions: ${known.join(", ")})`,
    });
  }
  return issues;
}

interface VersionAt {
  raw: Raw;
  at: PathSegments;
}

/** The weight a version gets: as written, or 100 for the single version of a model. */
function effectiveWeight(version: VersionAt, count: number): number | undefined {
  if (version.raw.weight === undefined) return count === 1 ? 100 : undefined;
  return Number.isInteger(version.raw.weight) ? (version.raw.weight as number) : undefined;
}

function checkWeights(versions: readonly VersionAt[], at: PathSegments): Issue[] {
  if (versions.length === 0) return [];
  const issues: Issue[] = [];
  if (versions.length > 1) {
    for (const version of versions) {
      if (version.raw.weight === undefined) {
        issues.push({
          segments: [...version.at, "weight"],
          message: "is required when a model has more than one version",
        });
      }
    }
  }
  const weights = versions.map((version) => effectiveWeight(version, versions.length));
  if (weights.some((w) => w === undefined || w < 0 || w > 100)) return issues;
  const sum = weights.reduce<number>((total, w) => total + (w ?? 0), 0);
  if (sum !== 100) {
    const parts = versions.map((v, j) => `${versionOf(v.raw.version) ?? `#${j}`}: ${weights[j] ?? 0}`);
    issues.push({
      segments: [...at, "versions"],
      message: `weights add up to ${sum}, must be exactly 100 (${parts.join(", ")})`,
    });
  }
  return issues;
}

function checkVersionNodes(version: Raw, at: PathSegments, nodeNames: ReadonlySet<string>): Issue[] {
  const names = listOf(version.nodes).map((node, k) => ({ key: stringOf(node), at: [...at, "nodes", k] }));
  const known = nodeNames.size > 0 ? `nodes: ${[...nodeNames].join(", ")}` : "no nodes are defined";
  const issues: Issue[] = [];
  for (const { key, at: nodeAt } of names) {
    if (key !== undefined && !nodeNames.has(key)) {
      issues.push({ segments: nodeAt, message: `unknown node ${quote(key)} (${known})` });
    }
  }
  return [...issues, ...duplicates(names, "node")];
}

function checkShadow(model: Raw, versions: readonly VersionAt[], at: PathSegments): Issue[] {
  const shadow = model.shadow as Raw;
  const name = versionOf(shadow.version);
  if (name === undefined) return [];
  const segments = [...at, "shadow", "version"];
  const target = versions.find((v) => versionOf(v.raw.version) === name);
  if (!target) {
    const known = versions.map((v) => versionOf(v.raw.version)).filter((v) => v !== undefined);
    const modelName = stringOf(model.name) ?? "this model";
    return [
      {
        segments,
        message: `unknown version ${quote(name)} of model ${quote(modelName)} (${known.length > 0 ? `versions: ${known.join(", ")}` : "it has no versions"})`,
      },
    ];
  }
  const weight = effectiveWeight(target, versions.length);
  if (weight !== undefined && weight > 0) {
    return [
      {
        segments,
        message: `version ${quote(name)} takes ${weight}% of live calls; a shadow version must have weight 0 (it would see those calls twice)`,
      },
    ];
  }
  return [];
}

function checkAuth(raw: Raw): Issue[] {
  const auth = raw.auth;
  if (!isRecord(auth)) return [];
  const issues: Issue[] = [];
  if (isRecord(auth.extAuthz))
    issues.push(...checkServiceAddress(auth.extAuthz.address, ["auth", "extAuthz", "address"]));
  if (auth.keysFile === undefined && auth.jwt === undefined) {
    issues.push({
      segments: ["auth"],
      message:
        "names no identity source: set keysFile, jwt or both (without one, every call is UNAUTHENTICATED)",
    });
  }
  if (isRecord(auth.jwt)) {
    const { jwksFile, jwksUrl } = auth.jwt;
    if (jwksFile !== undefined && jwksUrl !== undefined) {
      issues.push({ segments: ["auth", "jwt"], message: "sets both jwksFile and jwksUrl: keep one" });
    } else if (jwksFile === undefined && jwksUrl === undefined) {
      issues.push({ segments: ["auth", "jwt"], message: "needs jwksFile or jwksUrl to verify tokens with" });
    }
  }
  const tenants = listOf(auth.tenants).map((tenant, i) => ({
    raw: isRecord(tenant) ? tenant : {},
    at: ["auth", "tenants", i] as PathSegments,
  }));
  issues.push(
    ...duplicates(
      tenants.map((t) => ({ key: stringOf(t.raw.name), at: t.at })),
      "tenant",
      "name",
    ),
  );
  const models = servedModels(raw);
  for (const tenant of tenants) issues.push(...checkGrants(tenant.raw, tenant.at, models));
  return issues;
}

/** Model name → its version names, for the models the file defines. */
function servedModels(raw: Raw): Map<string, string[]> {
  const served = new Map<string, string[]>();
  for (const model of listOf(raw.models)) {
    if (!isRecord(model)) continue;
    const name = stringOf(model.name);
    if (name === undefined) continue;
    const versions = listOf(model.versions).flatMap(
      (v) => versionOf(isRecord(v) ? v.version : undefined) ?? [],
    );
    served.set(name, versions);
  }
  return served;
}

/** The schema's pattern for names (definitions.name). */
const namePattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function checkGrants(tenant: Raw, at: PathSegments, models: ReadonlyMap<string, string[]>): Issue[] {
  const known = models.size > 0 ? `models: ${[...models.keys()].join(", ")}` : "no models are defined";
  const issues: Issue[] = [];
  const grants = listOf(tenant.models).map((grant, j) => ({ grant, at: [...at, "models", j] }));
  for (const { grant, at: grantAt } of grants) {
    const name = typeof grant === "string" ? grant : isRecord(grant) ? stringOf(grant.name) : undefined;
    // "*" grants every model; a malformed name is the schema's to report.
    if (name === undefined || name === "*" || !namePattern.test(name)) continue;
    const versions = models.get(name);
    if (!versions) {
      issues.push({
        segments: typeof grant === "string" ? grantAt : [...grantAt, "name"],
        message: `unknown model ${quote(name)} (${known})`,
      });
      continue;
    }
    if (!isRecord(grant)) continue;
    const wanted = listOf(grant.versions).map((v, k) => ({
      key: versionOf(v),
      at: [...grantAt, "versions", k],
    }));
    for (const { key, at: versionAt } of wanted) {
      if (key !== undefined && !versions.includes(key)) {
        issues.push({
          segments: versionAt,
          message: `unknown version ${quote(key)} of model ${quote(name)} (versions: ${versions.join(", ")})`,
        });
      }
    }
    issues.push(...duplicates(wanted, "version"));
  }
  issues.push(
    ...duplicates(
      grants.map(({ grant, at: grantAt }) => ({
        key: typeof grant === "string" ? grant : isRecord(grant) ? stringOf(grant.name) : undefined,
        at: grantAt,
      })),
      "model",
    ),
  );
  return issues;
}

/** ext-authz's address: an IP (brackets for IPv6) or a DNS name, and a port Envoy can connect to. */
function checkServiceAddress(value: unknown, at: PathSegments): Issue[] {
  if (typeof value !== "string") return [];
  const parts = splitAddress(value);
  // A shape the schema pattern rejects is reported there.
  if (!parts) return [];
  const bracketed = value.startsWith("[");
  const family = isIP(parts.host);
  if ((bracketed && family !== 6) || (family === 0 && /^[0-9.]+$/.test(parts.host))) {
    return [{ segments: at, message: `${quote(parts.host)} is not an IP address (IPv6 goes in brackets)` }];
  }
  if (parts.port < 1 || parts.port > 65535) {
    return [{ segments: at, message: `port ${parts.port} is not from 1 to 65535` }];
  }
  return [];
}
