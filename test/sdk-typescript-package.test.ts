/**
 * @inferencehub/client as npm would install it (#19): built (scripts/build-sdk-typescript.ts),
 * packed with `npm pack`, unpacked into a fresh project's node_modules beside grpc-js and
 * @bufbuild/protobuf, then used from plain ESM JavaScript (no tsx, no repository paths) against the
 * SDK stack, and a TypeScript consumer type-checked against the package's declarations.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { buildSdk, packSdk } from "../scripts/build-sdk-typescript.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { startSdkStack, type SdkStack } from "./lib/sdk-stack.js";

const run = promisify(execFile);

const consumerJs = `
import { Client, NotFoundError } from "@inferencehub/client";
const client = new Client(process.env.INFERENCEHUB_TARGET, { apiKey: process.env.INFERENCEHUB_API_KEY, timeoutMs: 10000 });
const input = { data: Float32Array.of(1, 2, 3, 4), shape: [1, 4] };
const r = await client.infer("scale", { input }, { version: "2" });
const missing = await client.infer("scale", { input }, { version: "9" }).catch((e) => e);
const models = await client.models();
console.log(JSON.stringify({
  version: r.modelVersion,
  output: Array.from(r.output("output", "FP32").data),
  notFound: missing instanceof NotFoundError,
  models: models.map((m) => m.name + "/" + m.version),
}));
client.close();
`;

const consumerTs = `
import { Client, type InferResult, type ModelIndexEntry } from "@inferencehub/client";
export async function call(client: Client): Promise<[InferResult, ModelIndexEntry[]]> {
  const r = await client.infer("scale", { input: { data: Float32Array.of(1, 2, 3, 4), shape: [1, 4] } });
  const out: Float32Array = r.output("output", "FP32").data;
  void out;
  return [r, await client.models()];
}
`;

describe("@inferencehub/client as a package (built, packed, installed)", () => {
  let dir: string;
  let app: string;
  let stack: SdkStack;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "sdk-package-"));
    await buildSdk();
    const tarball = packSdk(dir);
    app = join(dir, "app");
    const pkg = join(app, "node_modules", "@inferencehub", "client");
    await mkdir(pkg, { recursive: true });
    await run("tar", ["-xzf", tarball, "--strip-components=1", "-C", pkg]);
    // Its dependencies, as npm would install them (the repository's copies: no registry needed).
    for (const dep of ["@grpc", "@bufbuild", "@types"]) {
      await symlink(join(repoRoot, "node_modules", dep), join(app, "node_modules", dep));
    }
    await writeFile(join(app, "package.json"), JSON.stringify({ type: "module", private: true }));
    stack = await startSdkStack();
  });

  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("plain JavaScript imports it by name and calls the gateway", async () => {
    await writeFile(join(app, "main.mjs"), consumerJs);
    const { stdout } = await run(process.execPath, ["main.mjs"], {
      cwd: app,
      env: { ...process.env, ...stack.env },
    });
    const result = JSON.parse(stdout) as {
      version: string;
      output: number[];
      notFound: boolean;
      models: string[];
    };
    assert.equal(result.version, "2");
    assert.deepEqual(
      result.output.map((x) => Math.round(x * 10) / 10),
      [2.2, 4.2, 6.2, 8.2],
    );
    assert.equal(result.notFound, true, "the package's error classes are the ones it throws");
    assert.ok(result.models.includes("scale/3"), stdout);
  });

  test("its declarations type-check a TypeScript consumer (NodeNext, strict)", async () => {
    await writeFile(join(app, "consumer.ts"), consumerTs);
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          types: ["node"],
        },
        files: ["consumer.ts"],
      }),
    );
    await run(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", app], { cwd: app });
    // And fails where it must: a wrong datatype's array type is an error.
    await writeFile(
      join(app, "consumer.ts"),
      consumerTs.replace("const out: Float32Array", "const out: Int32Array"),
    );
    await assert.rejects(
      run(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", app], { cwd: app }),
      (err: { stdout?: string }) => /consumer\.ts.*TS2322/.test(err.stdout ?? ""),
    );
  });
});
