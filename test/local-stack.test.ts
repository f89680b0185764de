/**
 * The README's main command as a new user runs it: the stack comes up, the call it prints
 * works (through ext-authz, with the key it prints), Ctrl-C stops every process it started, and
 * a second start after the runner was killed with -9 works. Ports are moved off the defaults so
 * the test can run beside a developer's own stack.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";

const run = promisify(execFile);

interface Stack {
  process: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

describe("npm start (the local stack)", () => {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  let ports: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferencehub-stack-"));
    ports = await freePorts(7);
    const [data, node1, node2, ads, xdsAdmin, envoyAdmin, authz] = ports;
    const yaml = (await readFile(join(repoRoot, "inferencehub.yaml"), "utf8"))
      .replace("port: 8080", `port: ${data}`)
      .replace("127.0.0.1:9001", `127.0.0.1:${node1}`)
      .replace("127.0.0.1:9002", `127.0.0.1:${node2}`)
      .replace("127.0.0.1:19000", `127.0.0.1:${authz}`);
    await writeFile(join(dir, "inferencehub.yaml"), yaml);
    env = {
      ...process.env,
      INFERENCEHUB_CONFIG: join(dir, "inferencehub.yaml"),
      ADS_PORT: String(ads),
      XDS_ADMIN_PORT: String(xdsAdmin),
      ENVOY_ADMIN_PORT: String(envoyAdmin),
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const start = async (): Promise<Stack> => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "scripts/local-stack.ts")], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    createInterface({ input: child.stderr! }).on("line", (l) => output.push(l));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stack not up in 60 s:\n${output.join("\n")}`)),
        60_000,
      );
      createInterface({ input: child.stdout! }).on("line", (line) => {
        output.push(line);
        if (line.includes("Ctrl-C stops everything")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`stack exited (${code}):\n${output.join("\n")}`)));
    });
    return { process: child, output, exited };
  };

  /** Runs the call the banner prints, with the key it prints, as a user would paste them. */
  const printedCallWorks = async (stack: Stack) => {
    const key = stack.output.find((l) => l.trim().startsWith("export INFERENCEHUB_API_KEY="));
    const call = stack.output.find((l) => l.trim().startsWith("npx tsx scripts/infer.ts"));
    assert.ok(key && call, "the banner prints the key and how to call a model");
    const { stdout } = await run("bash", ["-c", `${key.trim()}; ${call.trim()}`], { cwd: repoRoot });
    const result = JSON.parse(stdout) as { model: string; outputs: { output: number[][] } };
    assert.equal(result.model, "mlp");
    assert.equal(result.outputs.output[0]?.length, 3);
    // Without the key, ext-authz refuses the same call.
    await assert.rejects(
      run("bash", ["-c", call.trim()], { cwd: repoRoot, env: { ...process.env, INFERENCEHUB_API_KEY: "" } }),
      /UNAUTHENTICATED/,
    );
  };

  test("it comes up, its printed call works through ext-authz, and Ctrl-C stops it all", async () => {
    const stack = await start();
    try {
      await printedCallWorks(stack);
    } finally {
      stack.process.kill("SIGINT");
    }
    assert.equal(
      await stack.exited,
      0,
      `Ctrl-C ends the stack cleanly:\n${stack.output.slice(-10).join("\n")}`,
    );
    for (const port of ports.slice(0, 4)) {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `port ${port} is closed`);
    }
  });

  test("a second start after the runner was killed with -9 works", async () => {
    const crashed = await start();
    crashed.process.kill("SIGKILL");
    await crashed.exited;
    // Its children still hold the ports; the next start must end them.
    const stack = await start();
    try {
      assert.ok(stack.output.some((l) => l.includes("left over from a previous run")));
      await printedCallWorks(stack);
    } finally {
      stack.process.kill("SIGINT");
    }
    assert.equal(await stack.exited, 0);
  });
});
