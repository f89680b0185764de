/**
 * Golden files: testdata/in/<case>.yaml (an inferencehub.yaml) → testdata/out/<case>.ratelimit.yaml.
 * UPDATE_GOLDENS=1 rewrites them and deletes the ones no case produces any more.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { format, resolveConfig } from "prettier";
import { parse } from "yaml";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import type { Config, RateLimitConfig } from "@inferencehub/contracts/config";
import { fixedWindowFor, rateLimitServiceConfig } from "./index.js";
import type { FixedWindowLimit } from "./index.js";

const update = process.env.UPDATE_GOLDENS === "1";
const testdata = fileURLToPath(new URL("./testdata/", import.meta.url));
const inDir = join(testdata, "in");
const outDir = join(testdata, "out");

function loadConfig(file: string): Config {
  const result = parseConfig(readFileSync(join(inDir, file), "utf8"), file);
  if (!result.ok) throw new Error(`${file} is not a valid config:\n${formatErrors(result.errors)}`);
  return result.value;
}

test("rate limit service config goldens", async (t) => {
  const produced = new Set<string>();
  const cases = readdirSync(inDir)
    .filter((file) => file.endsWith(".yaml"))
    .sort();
  for (const file of cases) {
    await t.test(file, async () => {
      const outFile = file.replace(/\.yaml$/, ".ratelimit.yaml");
      produced.add(outFile);
      const path = join(outDir, outFile);
      // Stored as the repository's formatter writes them, so `prettier --check` passes.
      const actual = await format(rateLimitServiceConfig(loadConfig(file)), {
        ...(await resolveConfig(path)),
        filepath: path,
      });
      if (update) {
        if (!existsSync(path) || readFileSync(path, "utf8") !== actual) writeFileSync(path, actual);
        return;
      }
      assert.ok(existsSync(path), `${path} is missing: run with UPDATE_GOLDENS=1`);
      assert.equal(actual, readFileSync(path, "utf8"), `${path} is stale: run with UPDATE_GOLDENS=1`);
    });
  }
  const orphans = readdirSync(outDir).filter((file) => file.endsWith(".yaml") && !produced.has(file));
  if (update) for (const file of orphans) rmSync(join(outDir, file));
  else assert.deepEqual(orphans, [], "goldens without a case: run with UPDATE_GOLDENS=1 to delete them");
});

test("fixedWindowFor: the unit nearest burst/callsPerSecond, the rate rounded up", () => {
  const cases: [RateLimitConfig, FixedWindowLimit][] = [
    // The refill time is a unit: the window holds exactly `burst`.
    [
      { callsPerSecond: 3, burst: 3 },
      { unit: "second", requestsPerUnit: 3 },
    ],
    [
      { callsPerSecond: 0.05, burst: 3 },
      { unit: "minute", requestsPerUnit: 3 },
    ],
    [
      { callsPerSecond: 1, burst: 3_600 },
      { unit: "hour", requestsPerUnit: 3_600 },
    ],
    // Between units: the nearer one on a log scale (2 s is nearer 1 s than 60 s; the
    // boundary is their geometric mean, 7.75 s).
    [
      { callsPerSecond: 50, burst: 100 },
      { unit: "second", requestsPerUnit: 50 },
    ],

    [
      { callsPerSecond: 1, burst: 7 },
      { unit: "second", requestsPerUnit: 1 },
    ],
    [
      { callsPerSecond: 1, burst: 8 },
      { unit: "minute", requestsPerUnit: 60 },
    ],
    [
      { callsPerSecond: 0.001, burst: 1 },
      { unit: "hour", requestsPerUnit: 4 },
    ],
    // A rate that is not a whole number per unit is rounded up, float noise aside.
    [
      { callsPerSecond: 2.5, burst: 3 },
      { unit: "second", requestsPerUnit: 3 },
    ],
    [
      { callsPerSecond: 0.1, burst: 6 },
      { unit: "minute", requestsPerUnit: 6 },
    ],
    // Under one call per unit: the next longer unit that holds one.
    [
      { callsPerSecond: 0.5, burst: 1 },
      { unit: "minute", requestsPerUnit: 30 },
    ],
    // Shorter than a second, or longer than a year: the shortest or longest unit.
    [
      { callsPerSecond: 1_000_000, burst: 1 },
      { unit: "second", requestsPerUnit: 1_000_000 },
    ],
    [
      { callsPerSecond: 0.001, burst: 1_000_000 },
      { unit: "year", requestsPerUnit: 31_536 },
    ],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(fixedWindowFor(input), expected, JSON.stringify(input));
  }
  assert.throws(() => fixedWindowFor({ callsPerSecond: 0, burst: 1 }), /must be > 0/);
});

test("rateLimitServiceConfig: a descriptor per limited tenant, in file order, its models' under it, and valid YAML", () => {
  interface Descriptor {
    key: string;
    value: string;
    rate_limit?: { unit: string; requests_per_unit: number };
    descriptors?: Descriptor[];
  }
  const out = parse(rateLimitServiceConfig(loadConfig("tenants.yaml"))) as {
    domain: string;
    descriptors: Descriptor[];
  };
  assert.equal(out.domain, "inferencehub");
  const flat = (ds: Descriptor[], under = ""): string[] =>
    ds.flatMap((d) => {
      const at = `${under}${d.key}=${d.value}`;
      const limit = d.rate_limit ? ` ${d.rate_limit.requests_per_unit}/${d.rate_limit.unit}` : "";
      return [`${at}${limit}`, ...flat(d.descriptors ?? [], `${at} `)];
    });
  assert.deepEqual(flat(out.descriptors), [
    "tenant=acme 50/second",
    "tenant=acme model=mlp 5/second",
    // A tenant limited on one model only: no limit of its own.
    "tenant=focus",
    "tenant=focus model=mlp 1/second",
    "tenant=batch 3/minute",
    "tenant=trial 3/second",
    "tenant=slow 4/hour",
  ]);
});
