/**
 * The import rules of #14 fire: ESLint's no-restricted-imports on xds-server/src (another stage
 * folder only through its index.js, no scripts/ from source), on the other services (no xds-server,
 * the contracts package only through its exports), on contracts/ (nothing else of the repository),
 * and on tests and benches (stage indexes only); and the cycle check of `npm run
 * check` (dependency-cruiser's no-circular, .dependency-cruiser.mjs) on a fixture with a cycle.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ESLint } from "eslint";
import { repoRoot } from "./lib/paths.js";

const run = promisify(execFile);

const eslint = new ESLint({ cwd: repoRoot, overrideConfigFile: join(repoRoot, "eslint.config.js") });

/** The rule ids ESLint reports for `code` as if it were the file at `filePath` (none need exist). */
async function lintAt(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, filePath) });
  assert.ok(result, "ESLint returned no result");
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

test("a deep import into another stage folder is reported; its index import is clean", async () => {
  const deep = await lintAt(
    "xds-server/src/server/deliberate-deep-import.ts",
    'import { SnapshotCache } from "../cache/snapshot-cache.js";\nexport const cache = SnapshotCache;\n',
  );
  assert.equal(deep.length, 1, deep.join("\n"));
  assert.match(deep[0]!, /^no-restricted-imports: .*through its index\.js/);

  const typeOnly = await lintAt(
    "xds-server/src/server/deliberate-deep-import.ts",
    'import type { Snapshot } from "../snapshot/snapshot.js";\nexport type S = Snapshot;\n',
  );
  assert.equal(typeOnly.length, 1, typeOnly.join("\n"));
  assert.match(typeOnly[0]!, /^no-restricted-imports: /);

  const nested = await lintAt(
    "xds-server/src/translate/filters/deliberate-deep-import.ts",
    'import { buildIR } from "../../ir/build.js";\nexport const build = buildIR;\n',
  );
  assert.equal(nested.length, 1, nested.join("\n"));

  const fromMain = await lintAt(
    "xds-server/src/deliberate-deep-import.ts",
    'import { startControlPlane } from "./runner/control-plane.js";\nexport const start = startControlPlane;\n',
  );
  assert.equal(fromMain.length, 1, fromMain.join("\n"));

  assert.deepEqual(
    await lintAt(
      "xds-server/src/server/deliberate-index-import.ts",
      'import { SnapshotCache } from "../cache/index.js";\nexport const cache = SnapshotCache;\n',
    ),
    [],
  );
  // Inside one's own folder any file will do, from a subfolder too.
  assert.deepEqual(
    await lintAt(
      "xds-server/src/translate/filters/deliberate-own-import.ts",
      'import { ingressListenerName } from "../names.js";\nexport const name = ingressListenerName;\n',
    ),
    [],
  );
});

test("xds-server source may not import scripts/; its tests and testing/ harnesses may", async () => {
  const code = 'import { repoRoot } from "../../../scripts/lib/paths.js";\nexport const root = repoRoot;\n';
  const source = await lintAt("xds-server/src/admin/deliberate-scripts-import.ts", code);
  assert.equal(source.length, 1, source.join("\n"));
  assert.match(source[0]!, /^no-restricted-imports: .*must not import scripts\//);

  assert.deepEqual(await lintAt("xds-server/src/admin/deliberate-scripts-import.test.ts", code), []);
  assert.deepEqual(
    await lintAt(
      "xds-server/src/translate/testing/deliberate-scripts-import.ts",
      'import { ensureEnvoy } from "../../../../scripts/lib/envoy.js";\nexport const envoy = ensureEnvoy;\n',
    ),
    [],
  );
  // A test still imports other stage folders through their index.
  const deepFromTest = await lintAt(
    "xds-server/src/admin/deliberate-deep-import.test.ts",
    'import { ConfigFile } from "../source/config-file.js";\nexport const file = ConfigFile;\n',
  );
  assert.equal(deepFromTest.length, 1, deepFromTest.join("\n"));
});

test("ext-authz, hubctl and the node share only the contracts package with xds-server", async () => {
  const deep = await lintAt(
    "ext-authz/src/deliberate-deep-import.ts",
    'import { parseConfig } from "../../xds-server/src/config/index.js";\nexport const parse = parseConfig;\n',
  );
  assert.equal(deep.length, 1, deep.join("\n"));
  assert.match(deep[0]!, /^no-restricted-imports: .*@inferencehub\/contracts/);
  const fromHubctl = await lintAt(
    "hubctl/src/deliberate-deep-import.ts",
    'import { applyEdit } from "../../xds-server/src/admin/index.js";\nexport const edit = applyEdit;\n',
  );
  assert.equal(fromHubctl.length, 1, fromHubctl.join("\n"));
  // The package by path instead of by its exports.
  const byPath = await lintAt(
    "node/src/deliberate-deep-import.ts",
    'import { modelHeader } from "../../contracts/src/headers.js";\nexport const header = modelHeader;\n',
  );
  assert.equal(byPath.length, 1, byPath.join("\n"));
  assert.match(byPath[0]!, /^no-restricted-imports: .*exports/);
  assert.deepEqual(
    await lintAt(
      "node/src/deliberate-contracts-import.ts",
      'import { modelHeader } from "@inferencehub/contracts/headers";\nexport const header = modelHeader;\n',
    ),
    [],
  );
});

test("contracts imports nothing else of the repository; tests reach xds-server through stage indexes", async () => {
  const up = await lintAt(
    "contracts/src/deliberate-import.ts",
    'import { translate } from "../../xds-server/src/translate/index.js";\nexport const t = translate;\n',
  );
  assert.equal(up.length, 1, up.join("\n"));
  assert.match(up[0]!, /^no-restricted-imports: .*contracts\/ imports nothing/);

  const deepFromTest = await lintAt(
    "test/deliberate-deep-import.test.ts",
    'import { buildSnapshots } from "../xds-server/src/runner/control-plane.js";\nexport const b = buildSnapshots;\n',
  );
  assert.equal(deepFromTest.length, 1, deepFromTest.join("\n"));
  assert.deepEqual(
    await lintAt(
      "bench/lib/deliberate-harness-import.ts",
      'import { startTestAds } from "../../xds-server/src/server/testing/index.js";\nexport const s = startTestAds;\n',
    ),
    [],
  );
});

/** Runs the cycle check with the repository's config on `dir` (a folder with a tsconfig.json). */
async function cruise(dir: string): Promise<{ code: number; output: string }> {
  const bin = join(repoRoot, "node_modules/.bin/depcruise");
  try {
    const { stdout, stderr } = await run(
      bin,
      ["--config", join(repoRoot, ".dependency-cruiser.mjs"), "src"],
      {
        cwd: dir,
      },
    );
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

async function fixture(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "import-cycle-"));
  await mkdir(join(dir, "src"));
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
  );
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, "src", name), text);
  return dir;
}

test("the cycle check fails on an import cycle, type-only imports included, and passes without one", async (t) => {
  const cyclic = await fixture({
    "a.ts": 'import type { B } from "./b.js";\nexport interface A { b?: B }\n',
    "b.ts": 'import type { A } from "./a.js";\nexport interface B { a?: A }\n',
  });
  const acyclic = await fixture({
    "a.ts": 'import type { B } from "./b.js";\nexport interface A { b?: B }\n',
    "b.ts": "export interface B { n: number }\n",
  });
  t.after(() => Promise.all([cyclic, acyclic].map((d) => rm(d, { recursive: true, force: true }))));

  const bad = await cruise(cyclic);
  assert.notEqual(bad.code, 0, bad.output);
  assert.match(bad.output, /no-circular/);
  assert.match(bad.output, /src\/a\.ts/);
  assert.match(bad.output, /src\/b\.ts/);

  const good = await cruise(acyclic);
  assert.equal(good.code, 0, good.output);
});
