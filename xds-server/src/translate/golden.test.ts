/**
 * Golden files: testdata/in/<case>.yaml → testdata/out/<case>.<group>.<kind>.yaml (and the IR),
 * testdata/invalid/<case>.yaml → testdata/invalid/<case>.errors.txt.
 * UPDATE_GOLDENS=1 rewrites every golden and deletes the ones no case produces any more.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { format, resolveConfig } from "prettier";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import { goldenOutputs, invalidDir, loadGoldenCases, outDir } from "./testing/index.js";

const update = process.env.UPDATE_GOLDENS === "1";

/** Goldens are stored the way the repository's formatter writes them, so `prettier --check` passes. */
async function formatted(text: string, path: string): Promise<string> {
  return format(text, { ...(await resolveConfig(path)), filepath: path });
}

function compareOrWrite(path: string, actual: string): void {
  if (update) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== actual) writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${path} is missing: run with UPDATE_GOLDENS=1`);
  assert.equal(
    actual,
    readFileSync(path, "utf8"),
    `${path} is stale: run with UPDATE_GOLDENS=1 and review the diff`,
  );
}

/** Files in dir matching `owned` that no case produced: deleted on update, a failure otherwise. */
function checkOrphans(dir: string, owned: (file: string) => boolean, produced: ReadonlySet<string>): void {
  const orphans = readdirSync(dir).filter((file) => owned(file) && !produced.has(file));
  if (update) for (const file of orphans) rmSync(join(dir, file));
  else assert.deepEqual(orphans, [], "goldens without a case: run with UPDATE_GOLDENS=1 to delete them");
}

test("translation goldens", async (t) => {
  const produced = new Set<string>();
  for (const c of loadGoldenCases()) {
    await t.test(c.name, async () => {
      for (const [file, text] of goldenOutputs(c)) {
        produced.add(file);
        const path = join(outDir, file);
        compareOrWrite(path, await formatted(text, path));
      }
    });
  }
  checkOrphans(outDir, (file) => file.endsWith(".yaml"), produced);
});

test("invalid config goldens", async (t) => {
  const produced = new Set<string>();
  const cases = readdirSync(invalidDir)
    .filter((file) => file.endsWith(".yaml"))
    .sort();
  for (const file of cases) {
    await t.test(file, () => {
      const result = parseConfig(readFileSync(join(invalidDir, file), "utf8"), file);
      assert.equal(result.ok, false, `${file} parsed without errors`);
      if (result.ok) return;
      const errorsFile = file.replace(/\.yaml$/, ".errors.txt");
      produced.add(errorsFile);
      compareOrWrite(join(invalidDir, errorsFile), `${formatErrors(result.errors)}\n`);
    });
  }
  checkOrphans(invalidDir, (file) => file.endsWith(".errors.txt"), produced);
});
