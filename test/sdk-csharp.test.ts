/**
 * The C#/.NET SDK (sdk/csharp, issue #19) against the shared SDK stack (test/lib/sdk-stack.ts):
 * real Envoy, ext-authz, the control plane and reference nodes, called over the REST form of the
 * protocol. Builds the library and its NUnit tests with mono (sdk/csharp/build.sh), runs them with
 * nunit-console and the stack's environment (sdk/csharp/run-tests.sh), and reads NUnit's result
 * XML: every test ran and passed, none skipped or ignored. The suite covers the shared vectors
 * byte for byte (binary and JSON), a pin, the weighted split, each typed exception from a real
 * call, a deadline, cancellation, every datatype through the encoders, and last, a node killed
 * before a call (retried by Envoy) and while it holds one (UnavailableException, never sent twice).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runSuite, startSdkStack, type SdkStack } from "./lib/sdk-stack.js";

/** sdk/csharp/InferenceHub.Client.Tests: 32 pure and loopback-socket, 10 vectors, 6 calls, 7 errors, 2 faults. */
const expectedTests = 57;
const toolsFound = spawnSync("sh", ["-c", "command -v mcs && command -v nunit-console"]).status === 0;
const missing =
  !toolsFound &&
  "mono's mcs and nunit-console are missing: sudo apt-get install mono-complete nunit-console (or run bash sdk/csharp/build.sh as root)";
const required = process.env.INFERENCEHUB_REQUIRE_SDKS === "1";

/** The counts on NUnit 2.6's <test-results> element. */
function nunitCounts(xml: string): Record<string, number> {
  const results = /<test-results\b([^>]*)>/.exec(xml)?.[1] ?? "";
  const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(results)?.[1] ?? NaN);
  const names = ["total", "errors", "failures", "not-run", "inconclusive", "ignored", "skipped", "invalid"];
  return Object.fromEntries(names.map((n) => [n, count(n)]));
}

describe("the C# SDK (sdk/csharp) against the real stack", { skip: !required && missing }, () => {
  let stack: SdkStack;
  let dir: string;

  before(async () => {
    assert.ok(!missing, String(missing));
    dir = await mkdtemp(join(tmpdir(), "sdk-csharp-"));
    stack = await startSdkStack();
  });

  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("build.sh, then nunit-console: every test passes, none skipped or ignored", async () => {
    const build = await runSuite("bash", ["sdk/csharp/build.sh"], {}, 180_000);
    assert.equal(build.code, 0, `build.sh exited ${build.code}:\n${build.output.slice(-6000)}`);

    const xml = join(dir, "TestResult.xml");
    const run = await runSuite("bash", ["sdk/csharp/run-tests.sh", xml], stack.env, 300_000);
    const tail = run.output.slice(-6000);
    assert.equal(run.code, 0, `run-tests.sh exited ${run.code}:\n${tail}`);
    const counts = nunitCounts(await readFile(xml, "utf8"));
    assert.ok(
      (counts.total ?? 0) >= expectedTests,
      `${counts.total} tests ran, ${expectedTests} expected:\n${tail}`,
    );
    assert.deepEqual(
      counts,
      {
        total: counts.total,
        errors: 0,
        failures: 0,
        "not-run": 0,
        inconclusive: 0,
        ignored: 0,
        skipped: 0,
        invalid: 0,
      },
      tail,
    );
  });
});
