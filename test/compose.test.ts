/**
 * Runs what deploy/ builds, in two ways:
 * - without an engine (everywhere): each image's file set, laid out from the Dockerfile's COPY
 *   instructions, started with its ENTRYPOINT, CMD and ENV until its own HEALTHCHECK passes;
 * - with a Docker engine (and the compose plugin): builds the images, brings deploy/docker-compose.yml
 *   up with testcontainers, calls a model through Envoy's published port and checks that Prometheus
 *   scrapes Envoy, the control plane and the nodes. Where no engine is found (this project's own
 *   test machines) that test is reported as skipped, saying so.
 * test/deploy.test.ts checks the same files statically.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, it, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { DockerComposeEnvironment, Wait, getContainerRuntimeClient } from "testcontainers";
import type { StartedDockerComposeEnvironment } from "testcontainers";
import { assertClose } from "./lib/assertions.js";
import { createInferClient } from "../scripts/lib/infer-client.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";

const run = promisify(execFile);
const deployDir = join(repoRoot, "deploy");
const text = (path: string): string => readFileSync(path, "utf8");

// ---------------------------------------------------------------------------------------------
// The Dockerfile's stages (test/deploy.test.ts lints and checks the Dockerfile itself)

interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

function dockerStages(source: string): Stage[] {
  const stages: Stage[] = [];
  for (const raw of source.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [op = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (op.toUpperCase() === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({
        name: (m?.[2] ?? String(stages.length)).toLowerCase(),
        from: m?.[1] ?? "",
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** The chain of stages a target is built from, the target last. */
function stageChain(stages: Stage[], target: string): Stage[] {
  const stage = stages.find((s) => s.name === target);
  assert.ok(stage, `no stage ${target}`);
  const parent = stages.find((s) => s.name === stage.from);
  return parent ? [...stageChain(stages, parent.name), stage] : [stage];
}

const dockerfile = { stages: dockerStages(text(join(deployDir, "docker/Dockerfile"))) };

// ---------------------------------------------------------------------------------------------
// The images' file sets, run without an engine: each target's COPY instructions laid out in a temp
// folder (the build stage's outputs taken from this checkout), its ENTRYPOINT and CMD started with
// its ENV, until its own HEALTHCHECK passes. This catches a file the image forgets; the base image,
// the build stage's commands and the container runtime stay unchecked.

/** What the build stage produces, as found in a set-up checkout. */
const buildOutputs: Record<string, { from: string; without?: string[] }> = {
  "/src/gen": { from: "gen" },
  "/src/node_modules": { from: "node_modules" },
  "/lean/node_modules": { from: "node_modules", without: ["onnxruntime-node", "onnxruntime-common"] },
  "/src/models": { from: "models" },
};
/** .dockerignore's effect on the copied folders. */
const copyFilter = (src: string): boolean =>
  !src.endsWith(".test.ts") && !src.split("/").includes("testdata");

function jsonArray(args: string): string[] {
  const value = JSON.parse(args) as unknown;
  assert.ok(
    Array.isArray(value) && value.every((v) => typeof v === "string"),
    `not an exec-form array: ${args}`,
  );
  return value as string[];
}

async function runImageFileSet(target: string, overrides: typeof buildOutputs = {}): Promise<void> {
  const outputs = { ...buildOutputs, ...overrides };
  const chain = stageChain(dockerfile.stages, target).flatMap((st) => st.instructions);
  const root = await mkdtemp(join(tmpdir(), `inferencehub-image-${target}-`));
  const app = join(root, "app");
  const place = (dest: string): string => (dest.startsWith("/") ? join(root, dest) : join(app, dest));
  const ports = new Map<string, string>();
  const free = await freePorts(6);
  for (const p of ["18000", "18080", "19000", "19090", "9001", "9101"])
    ports.set(p, String(free[ports.size]));
  const config = join(root, "etc/inferencehub/inferencehub.yaml");
  const remap = (value: string): string =>
    value
      .replaceAll("/etc/inferencehub/inferencehub.yaml", config)
      .replace(/(^|[^\w/])\/models\b/g, `$1${join(root, "models")}`)
      .replaceAll("0.0.0.0", "127.0.0.1")
      .replace(/\b(18000|18080|19000|19090|9001|9101)\b/g, (p) => ports.get(p) ?? p);
  let child: ChildProcess | undefined;
  const output: string[] = [];
  try {
    mkdirSync(app, { recursive: true });
    mkdirSync(dirname(config), { recursive: true });
    // Loopback nodes only: the prober must not reach out from a test. ext-authz needs the auth
    // section (the root file has one), here with a keys file of its own that may be empty.
    writeFileSync(
      config,
      text(join(repoRoot, "inferencehub.yaml"))
        .replace("127.0.0.1:19000", `127.0.0.1:${ports.get("19000")}`)
        .replace(".cache/local-keys.yaml", "keys.yaml"),
    );
    writeFileSync(join(dirname(config), "keys.yaml"), "keys: []\n");
    const env: Record<string, string> = {};
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    let healthcheck: string[] = [];
    for (const ins of chain) {
      if (ins.op === "COPY") {
        const parts = ins.args.split(/\s+/);
        const fromBuild = parts.find((p) => p.startsWith("--from="));
        const paths = parts.filter((p) => !p.startsWith("--"));
        const dest = place(paths.at(-1) ?? ".");
        for (const src of paths.slice(0, -1)) {
          if (fromBuild) {
            const output = outputs[src];
            assert.ok(
              output,
              `${target}: COPY ${fromBuild} ${src}: not a known build output (add it to buildOutputs)`,
            );
            const from = join(repoRoot, output.from);
            if (output.from === "node_modules") {
              mkdirSync(dest, { recursive: true });
              for (const entry of readdirSync(from)) {
                if (!output.without?.includes(entry)) symlinkSync(join(from, entry), join(dest, entry));
              }
            } else {
              cpSync(from, dest, { recursive: true });
            }
          } else {
            const from = join(repoRoot, src);
            const to = paths.length > 2 || dest.endsWith("/") ? join(dest, basename(src)) : dest;
            cpSync(from, to, { recursive: true, filter: copyFilter });
          }
        }
      } else if (ins.op === "ENV") {
        for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ""] = remap(m[2] ?? "");
      } else if (ins.op === "ENTRYPOINT") entrypoint = jsonArray(ins.args);
      else if (ins.op === "CMD") cmd = jsonArray(ins.args);
      else if (ins.op === "HEALTHCHECK") healthcheck = jsonArray(ins.args.replace(/^.*?\bCMD\s+/, ""));
    }
    const [program, ...args] = [...entrypoint, ...cmd].map(remap);
    assert.equal(program, "node", `${target}: the entry point runs node`);
    child = spawn(process.execPath, args, {
      cwd: app,
      env: { ...process.env, ...env, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => output.push(String(d)));
    child.stderr?.on("data", (d: Buffer) => output.push(String(d)));
    const exited = new Promise<number | null>((resolve) => child?.once("exit", resolve));
    const [hcProgram = "", ...hcArgs] = healthcheck.map(remap);
    const hcEnv = { ...process.env, ...env };
    const deadline = Date.now() + 20_000;
    for (;;) {
      const healthy = await run(hcProgram === "node" ? process.execPath : hcProgram, hcArgs, {
        cwd: app,
        env: hcEnv,
        timeout: 5_000,
      }).then(
        () => true,
        () => false,
      );
      if (healthy) break;
      const code = await Promise.race([exited, sleep(250).then(() => "running" as const)]);
      if (code !== "running")
        assert.fail(`${target} exited (${code}) before healthy:\n${output.join("").slice(-2000)}`);
      if (Date.now() > deadline)
        assert.fail(`${target}: HEALTHCHECK never passed:\n${output.join("").slice(-2000)}`);
    }
  } finally {
    if (child && child.exitCode === null) {
      const gone = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(root, { recursive: true, force: true });
  }
}

describe("image file sets run (no engine: files per the Dockerfile, this machine's Node)", () => {
  it("xds-server starts from its image's files and passes its HEALTHCHECK", () =>
    runImageFileSet("xds-server"));
  it("the node starts from its image's files (with the models) and passes its gRPC HEALTHCHECK", () =>
    runImageFileSet("node"));
  it("ext-authz starts from its image's files and passes its HEALTHCHECK", async (t) => {
    if (!existsSync(join(repoRoot, "ext-authz/src/main.ts"))) {
      return t.skip("ext-authz/src/main.ts does not exist yet: its image's file set was not run");
    }
    await runImageFileSet("ext-authz");
  });
  it("a file set missing what the entry point needs fails", async () => {
    // The generated code replaced by something else: the entry point cannot import it.
    await assert.rejects(
      runImageFileSet("xds-server", { "/src/gen": { from: "proto" } }),
      /exited|never passed/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The compose stack, where a Docker engine is present

/** Retries fn until it resolves or the deadline passes; the last error explains a failure. */
async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(1000);
    }
  }
  throw new Error(
    `${what} within ${timeoutMs / 1000} s: ${last instanceof Error ? last.message : String(last)}`,
  );
}

test("the compose stack comes up and serves a model through Envoy", { timeout: 25 * 60_000 }, async (t) => {
  try {
    await getContainerRuntimeClient();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return t.skip(
      `no Docker engine found (${why}): the compose stack was NOT started and nothing ran in a container; ` +
        "test/deploy.test.ts checked the files and the file-set tests above ran the images' contents without an engine",
    );
  }
  await run("docker", ["compose", "version"]).catch((err: unknown) => {
    throw new Error(`a Docker engine is present but 'docker compose' (v2 plugin) is not: ${String(err)}`);
  });

  // The default services: ext-authz has the profile "auth" and needs an auth section (deploy/README.md).
  const [envoyPort, xdsAdminPort, prometheusPort, grafanaPort] = await freePorts(4);
  let environment: StartedDockerComposeEnvironment | undefined;
  try {
    environment = await new DockerComposeEnvironment(deployDir, "docker-compose.yml")
      .withProjectName(`inferencehub-test-${process.pid}`)
      .withBuild()
      .withEnvironment({
        INFERENCEHUB_ENVOY_PORTS: String(envoyPort),
        INFERENCEHUB_XDS_ADMIN_PORT: String(xdsAdminPort),
        INFERENCEHUB_PROMETHEUS_PORT: String(prometheusPort),
        INFERENCEHUB_GRAFANA_PORT: String(grafanaPort),
        // Required by the compose file (deploy/README.md has the user write them into deploy/.env).
        INFERENCEHUB_REPOSITORY_TOKEN: randomBytes(32).toString("hex"),
        GRAFANA_ADMIN_PASSWORD: randomBytes(16).toString("hex"),
      })
      .withWaitStrategy("xds-server-1", Wait.forHealthCheck())
      .withWaitStrategy("node-1-1", Wait.forHealthCheck())
      .withWaitStrategy("node-2-1", Wait.forHealthCheck())
      .withWaitStrategy("envoy-1", Wait.forHealthCheck())
      .withStartupTimeout(5 * 60_000)
      .up();

    const client = createInferClient(`127.0.0.1:${envoyPort}`);
    try {
      const { response, headers } = await eventually("a pinned call to scale v1 through Envoy", 60_000, () =>
        client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), {
          metadata: { "inferencehub-model": "scale", "inferencehub-model-version": "1" },
          deadlineMs: 5_000,
        }),
      );
      assertClose(fp32Output(response), scaleReference("1", SCALE_SAMPLE_INPUT));
      assert.match(headers["x-inferencehub-node"] ?? "", /^node-[12]$/);
    } finally {
      client.close();
    }

    const status = (await (await fetch(`http://127.0.0.1:${xdsAdminPort}/status`)).json()) as {
      clients: unknown[];
    };
    assert.ok(status.clients.length >= 1, "Envoy is listed as a client of the control plane");

    await eventually("Prometheus scraping Envoy, the control plane and both nodes", 90_000, async () => {
      const res = await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/targets?state=active`);
      const body = (await res.json()) as {
        data: { activeTargets: { labels: { job: string }; health: string }[] };
      };
      const up = new Set(body.data.activeTargets.filter((x) => x.health === "up").map((x) => x.labels.job));
      for (const job of ["envoy", "xds-server", "nodes"])
        if (!up.has(job)) throw new Error(`job ${job} not up`);
    });
  } finally {
    await environment?.down({ removeVolumes: true });
  }
});
