/**
 * The Python SDK (sdk/python, issue #19) against the shared SDK stack (test/lib/sdk-stack.ts):
 * real Envoy, ext-authz, the control plane and reference nodes. Runs the package's pytest suite
 * (sdk/python/tests) from its venv (.tools/sdk-python-venv, made by sdk/python/dev-setup.sh from
 * scripts/setup.sh) with the stack's environment, and reads pytest's JUnit report: every test ran
 * and passed, none skipped. The suite covers the shared vectors byte for byte (raw and typed), a
 * pin, the weighted split, streams, each typed error from a real call, AsyncClient, every datatype
 * through the encoder, and last, a node killed before a call (retried by Envoy) and while it holds
 * one (UNAVAILABLE, never sent twice).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toolsDir } from "../scripts/lib/paths.js";
import { runSuite, startSdkStack, type SdkStack } from "./lib/sdk-stack.js";

const python = join(toolsDir, "sdk-python-venv", "bin", "python");
/** sdk/python/tests: 31 pure, 9 calls, 7 errors, 3 async, 1 proxyless, 2 faults. */
const expectedTests = 53;
const missing = !existsSync(python) && `${python} is missing: run bash scripts/setup.sh`;
const required = process.env.INFERENCEHUB_REQUIRE_SDKS === "1";

/** The first <testsuite> element's counts. */
function junitCounts(xml: string): Record<"tests" | "failures" | "errors" | "skipped", number> {
  const suite = /<testsuite\b([^>]*)>/.exec(xml)?.[1] ?? "";
  const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
  return {
    tests: count("tests"),
    failures: count("failures"),
    errors: count("errors"),
    skipped: count("skipped"),
  };
}

describe("the Python SDK (sdk/python) against the real stack", { skip: !required && missing }, () => {
  let stack: SdkStack;
  let dir: string;

  before(async () => {
    assert.ok(!missing, String(missing));
    dir = await mkdtemp(join(tmpdir(), "sdk-python-"));
    stack = await startSdkStack();
  });

  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("pytest sdk/python/tests: every test passes, none skipped", async () => {
    const junit = join(dir, "junit.xml");
    const run = await runSuite(
      python,
      ["-m", "pytest", "sdk/python/tests", "-q", "-p", "no:cacheprovider", `--junitxml=${junit}`],
      stack.env,
      300_000,
    );
    const tail = run.output.slice(-6000);
    assert.equal(run.code, 0, `pytest exited ${run.code}:\n${tail}`);
    const counts = junitCounts(await readFile(junit, "utf8"));
    assert.ok(
      counts.tests >= expectedTests,
      `${counts.tests} tests ran, ${expectedTests} expected:\n${tail}`,
    );
    assert.deepEqual(
      { failures: counts.failures, errors: counts.errors, skipped: counts.skipped },
      { failures: 0, errors: 0, skipped: 0 },
      tail,
    );
  });
});
