/**
 * The README's main command as a new user runs it: the stack comes up, the call it prints
 * works, and Ctrl-C stops every process it started. Ports are moved off the defaults so the
 * test can run beside a developer's own stack.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";

const run = promisify(execFile);

test("npm start's stack comes up, its printed call works, and Ctrl-C stops it all", async () => {
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-stack-"));
  const [data, node1, node2, ads, xdsAdmin, envoyAdmin] = await freePorts(6);
  const yaml = (await readFile(join(repoRoot, "inferencehub.yaml"), "utf8"))
    .replace("port: 8080", `port: ${data}`)
    .replace("127.0.0.1:9001", `127.0.0.1:${node1}`)
    .replace("127.0.0.1:9002", `127.0.0.1:${node2}`);
  const configPath = join(dir, "inferencehub.yaml");
  await writeFile(configPath, yaml);

  const stack = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "scripts/local-stack.ts")], {
    cwd: repoRoot,
    env: {
      ...process.env,
      INFERENCEHUB_CONFIG: configPath,
      ADS_PORT: String(ads),
      XDS_ADMIN_PORT: String(xdsAdmin),
      ENVOY_ADMIN_PORT: String(envoyAdmin),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => stack.once("exit", (code) => resolve(code)));
  try {
    createInterface({ input: stack.stderr! }).on("line", (l) => output.push(l));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stack not up in 60 s:\n${output.join("\n")}`)),
        60_000,
      );
      createInterface({ input: stack.stdout! }).on("line", (line) => {
        output.push(line);
        if (line.includes("Ctrl-C stops everything")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`stack exited (${code}):\n${output.join("\n")}`)));
    });

    const printed = output.find((l) => l.trim().startsWith("npx tsx scripts/infer.ts"));
    assert.ok(printed, "the banner prints how to call a model");
    const { stdout } = await run("bash", ["-c", printed.trim()], { cwd: repoRoot });
    const result = JSON.parse(stdout) as { model: string; outputs: { output: number[][] } };
    assert.equal(result.model, "mlp");
    assert.equal(result.outputs.output[0]?.length, 3);
  } finally {
    stack.kill("SIGINT");
    const code = await exited;
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, `Ctrl-C ends the stack cleanly:\n${output.slice(-10).join("\n")}`);
  }
  // Every process it started is gone: nothing holds the ports any more.
  for (const port of [data, node1, node2, ads]) {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `port ${port} is closed`);
  }
});
