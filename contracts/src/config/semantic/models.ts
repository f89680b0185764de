/**
 * The models section: versions, their weights and nodes or placement, the shadow version and the
 * pin.
 */
import { defaultPool } from "../defaults.js";
import { quote } from "../errors.js";
import type { PathSegments } from "../errors.js";
import type { Issue } from "../schema.js";
import { duplicates, isRecord, listOf, stringOf, versionOf } from "./shared.js";
import type { Raw } from "./shared.js";

export function checkModels(raw: Raw, nodeNames: ReadonlySet<string>): Issue[] {
  const models = listOf(raw.models);
  const issues = duplicates(
    models.map((model, i) => ({
      key: isRecord(model) ? stringOf(model.name) : undefined,
      at: ["models", i],
    })),
    "model",
    "name",
  );
  const pools = knownPools(raw);
  models.forEach((model, i) => {
    if (isRecord(model)) issues.push(...checkModel(model, ["models", i], nodeNames, pools));
  });
  return issues;
}

/** The pools a placement may name: `pools` as written, else those of the nodes (as normalize derives them). */
function knownPools(raw: Raw): string[] {
  const named = Array.isArray(raw.pools)
    ? raw.pools
    : listOf(raw.nodes).map((node) => (isRecord(node) ? (node.pool ?? defaultPool) : undefined));
  return [...new Set(named.flatMap((pool) => stringOf(pool) ?? []))];
}

function checkModel(
  model: Raw,
  at: PathSegments,
  nodeNames: ReadonlySet<string>,
  pools: readonly string[],
): Issue[] {
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
  listOf(model.versions).forEach((version, j) => {
    if (!isRecord(version)) return;
    const versionAt = [...at, "versions", j];
    issues.push(...checkNodesOrPlacement(version, versionAt));
    issues.push(...checkVersionNodes(version, versionAt, nodeNames));
    if (isRecord(version.placement)) issues.push(...checkPlacement(version.placement, versionAt, pools));
  });
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
  const known = () => (nodeNames.size > 0 ? `nodes: ${[...nodeNames].join(", ")}` : "no nodes are defined");
  const issues: Issue[] = [];
  for (const { key, at: nodeAt } of names) {
    if (key !== undefined && !nodeNames.has(key)) {
      issues.push({ segments: nodeAt, message: `unknown node ${quote(key)} (${known()})` });
    }
  }
  return [...issues, ...duplicates(names, "node")];
}

/** A version lists its nodes or is placed by the control plane: one of the two. */
function checkNodesOrPlacement(version: Raw, at: PathSegments): Issue[] {
  const hasNodes = version.nodes !== undefined;
  const placed = version.placement !== undefined;
  if (hasNodes && placed) return [{ segments: at, message: "write nodes or placement, not both" }];
  if (!hasNodes && !placed) {
    return [
      {
        segments: at,
        message:
          "write nodes (the nodes that serve it) or placement (where the control plane loads it): it has neither",
      },
    ];
  }
  return [];
}

/** pool or pools, not both; each a pool that exists; no pool twice. */
function checkPlacement(placement: Raw, at: PathSegments, pools: readonly string[]): Issue[] {
  const placementAt = [...at, "placement"];
  const issues: Issue[] = [];
  if (placement.pool !== undefined && placement.pools !== undefined) {
    issues.push({ segments: placementAt, message: "write pool or pools, not both" });
  }
  const listed = listOf(placement.pools).map((pool, k) => ({
    key: stringOf(pool),
    at: [...placementAt, "pools", k],
  }));
  const named = [
    ...(placement.pool === undefined
      ? []
      : [{ key: stringOf(placement.pool), at: [...placementAt, "pool"] }]),
    ...listed,
  ];
  const known = pools.length > 0 ? `pools: ${pools.join(", ")}` : "no pools are defined";
  for (const { key, at: poolAt } of named) {
    if (key !== undefined && !pools.includes(key)) {
      issues.push({ segments: poolAt, message: `unknown pool ${quote(key)} (${known})` });
    }
  }
  issues.push(...duplicates(listed, "pool"));
  return issues;
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
