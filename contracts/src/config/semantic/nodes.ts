/** The nodes section with pools and version ports: pool references, addresses, duplicates. */
import { isIP } from "node:net";
import { defaultPool } from "../defaults.js";
import { formatPath, quote } from "../errors.js";
import type { PathSegments } from "../errors.js";
import type { Issue } from "../schema.js";
import { duplicates, isRecord, listOf, splitAddress, stringOf, versionOf } from "./shared.js";
import type { Raw } from "./shared.js";

export function checkPools(raw: Raw): Issue[] {
  const pools = listOf(raw.pools).map((pool, i) => ({ key: stringOf(pool), at: ["pools", i] }));
  return duplicates(pools, "pool");
}

export function checkNodes(raw: Raw): Issue[] {
  const nodes = listOf(raw.nodes);
  const declaredPools = Array.isArray(raw.pools) ? raw.pools.filter((p) => typeof p === "string") : undefined;
  const issues: Issue[] = [];
  nodes.forEach((node, i) => {
    if (!isRecord(node)) return;
    issues.push(...checkAddress(node.address, ["nodes", i, "address"]));
    const parts = typeof node.address === "string" ? splitAddress(node.address) : undefined;
    if (node.protocol === "rest" && node.restPort !== undefined) {
      issues.push({
        segments: ["nodes", i, "restPort"],
        message: `is for a node that serves gRPC at its address; a REST-only node's address is its REST port: drop restPort`,
      });
    } else if (node.protocol === "rest" && listOf(node.versionPorts).length > 0) {
      issues.push({
        segments: ["nodes", i, "versionPorts"],
        message: `are gRPC ports for proxyless clients; a REST-only node has none`,
      });
    } else if (parts && node.restPort !== undefined && node.restPort === parts.port) {
      issues.push({
        segments: ["nodes", i, "restPort"],
        message: `is the node's gRPC port (address); REST is served on a port of its own`,
      });
    }
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
  issues.push(...restAddressClashes(records));
  return issues;
}

/** A node's REST address is an endpoint of its own: no other node may have it, as gRPC or REST. */
function restAddressClashes(records: readonly { node: Record<string, unknown>; i: number }[]): Issue[] {
  const taken = new Map<string, PathSegments>();
  for (const { node, i } of records) {
    const grpc = canonicalAddress(node.address);
    if (grpc !== undefined && !taken.has(grpc)) taken.set(grpc, ["nodes", i, "address"]);
  }
  const issues: Issue[] = [];
  for (const { node, i } of records) {
    const parts = typeof node.address === "string" ? splitAddress(node.address) : undefined;
    // Its own gRPC port is reported by checkNodes.
    if (!parts || typeof node.restPort !== "number" || node.restPort === parts.port) continue;
    const host = isIP(parts.host) === 6 ? `[${parts.host}]` : parts.host;
    const rest = canonicalAddress(`${host}:${node.restPort}`);
    if (rest === undefined) continue;
    const earlier = taken.get(rest);
    if (earlier) {
      issues.push({
        segments: ["nodes", i, "restPort"],
        message: `makes REST address ${quote(rest)}, which ${formatPath(earlier)} has already`,
      });
    } else taken.set(rest, ["nodes", i, "restPort"]);
  }
  return issues;
}

/**
 * A node's version ports: each names a version that lists the node, once, on a port of its own
 * (not the node's main port, not another version's).
 */
export function checkVersionPorts(raw: Raw): Issue[] {
  // Most configs have none: then the map of every model version is not worth building.
  if (!listOf(raw.nodes).some((node) => isRecord(node) && listOf(node.versionPorts).length > 0)) return [];
  const versionNodes = new Map<string, string[]>();
  const placed = new Map<string, Raw>();
  for (const model of listOf(raw.models)) {
    if (!isRecord(model)) continue;
    for (const version of listOf(model.versions)) {
      if (!isRecord(version)) continue;
      const key = `${stringOf(model.name)}/${versionOf(version.version)}`;
      if (isRecord(version.placement)) placed.set(key, version.placement);
      else
        versionNodes.set(
          key,
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
      const placement = placed.get(key);
      if (placement) {
        // A placed version may be loaded on any node its placement matches.
        if (!placementMatches(placement, node)) {
          issues.push({
            segments: at,
            message: `names ${key}, whose placement (${describePlacement(placement)}) never chooses ${quote(name)}`,
          });
        }
      } else if (nodes === undefined) {
        issues.push({ segments: at, message: `names ${key}, which no model version in models is` });
      } else if (!nodes.includes(name)) {
        issues.push({
          segments: at,
          message: `names ${key}, whose nodes (${nodes.join(", ")}) do not include ${quote(name)}`,
        });
      }
      if (vp.port !== undefined && vp.port === node.restPort) {
        issues.push({
          segments: [...at, "port"],
          message: `is the node's REST port (restPort); give the version a port of its own`,
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

/** Whether the reconciler may choose this node for the placement: one of its pools, every label. */
function placementMatches(placement: Raw, node: Raw): boolean {
  const pool = node.pool === undefined ? defaultPool : stringOf(node.pool);
  const pools = placementPools(placement);
  if (pools.length > 0 && (pool === undefined || !pools.includes(pool))) return false;
  const labels = isRecord(node.labels) ? node.labels : {};
  const wanted = isRecord(placement.labels) ? placement.labels : {};
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

/** `pool: x` or `pools: [...]`; none = every pool. */
const placementPools = (placement: Raw): string[] =>
  placement.pool !== undefined
    ? [stringOf(placement.pool) ?? ""]
    : listOf(placement.pools).flatMap((p) => stringOf(p) ?? []);

function describePlacement(placement: Raw): string {
  const pools = placementPools(placement);
  const labels = Object.entries(isRecord(placement.labels) ? placement.labels : {}).map(
    ([key, value]) => `${key}=${String(value)}`,
  );
  return [
    pools.length > 0 ? `pools: ${pools.join(", ")}` : "every pool",
    ...(labels.length > 0 ? [`labels: ${labels.join(", ")}`] : []),
  ].join("; ");
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
