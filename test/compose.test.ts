/**
 * Runs what deploy/ builds without a Docker engine (everywhere): each image's file set, laid out
 * from the Dockerfile's COPY instructions, started with its ENTRYPOINT, CMD and ENV until its own
 * HEALTHCHECK passes; and the rate limit service of the profile "ratelimit" with the compose file's
 * settings, fed by the control plane's writer at the compose file's path, checked by the offline
 * image's HEALTHCHECK. test/compose-stack.test.ts runs the images themselves under a real engine;
 * test/deploy.test.ts checks the same files statically.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { pino } from "pino";
import { parse as parseYaml } from "yaml";
import { startBinary, waitUntil } from "../scripts/lib/binary-process.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";
import { ratelimitBinary, ratelimitUnavailableReason } from "../scripts/lib/ratelimit-process.js";
import { redisUnavailableReason, startRedis } from "../scripts/lib/redis-process.js";
import { startControlPlane } from "../xds-server/src/runner/index.js";

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
  "/src/gen/inference": { from: "gen/inference" },
  "/src/node_modules": { from: "node_modules" },
  "/lean/node_modules": { from: "node_modules", without: ["onnxruntime-node", "onnxruntime-common"] },
  "/src/models": { from: "models" },
};
/** The npm workspace packages' scope: node_modules/@inferencehub/* link into the app's own folders. */
const workspaceScope = "@inferencehub";

/**
 * The workspace links as npm ci leaves them in the image: relative (../../contracts), so they reach
 * the image's copy of the package, and a file set that forgets to copy it fails.
 */
function linkWorkspaces(from: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const entry of readdirSync(from)) symlinkSync(readlinkSync(join(from, entry)), join(dest, entry));
}

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

/** The ports the images serve on; the file sets run on free ports in their place. */
const imagePorts = ["18000", "18080", "19000", "19090", "9001", "9101", "8000"];

/**
 * Lays out `target`'s files, starts it, and waits for its HEALTHCHECK. `overrides` replaces build
 * outputs; a COPY source that `keep` refuses is left out (to show a file set that lacks it fails).
 * `whenHealthy` then runs against the started file set, given where each image port landed.
 */
async function runImageFileSet(
  target: string,
  overrides: typeof buildOutputs = {},
  keep: (src: string) => boolean = () => true,
  whenHealthy?: (port: (imagePort: number) => number) => Promise<void>,
): Promise<void> {
  const outputs = { ...buildOutputs, ...overrides };
  const chain = stageChain(dockerfile.stages, target).flatMap((st) => st.instructions);
  const root = await mkdtemp(join(tmpdir(), `inferencehub-image-${target}-`));
  const app = join(root, "app");
  const place = (dest: string): string => (dest.startsWith("/") ? join(root, dest) : join(app, dest));
  const ports = new Map<string, string>();
  const free = await freePorts(imagePorts.length);
  for (const p of imagePorts) ports.set(p, String(free[ports.size]));
  const config = join(root, "etc/inferencehub/inferencehub.yaml");
  const remap = (value: string): string =>
    value
      .replaceAll("/etc/inferencehub/inferencehub.yaml", config)
      .replace(/(^|[^\w/])\/models\b/g, `$1${join(root, "models")}`)
      .replaceAll("0.0.0.0", "127.0.0.1")
      .replace(new RegExp(`\\b(${imagePorts.join("|")})\\b`, "g"), (p) => ports.get(p) ?? p);
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
        for (const src of paths.slice(0, -1).filter(keep)) {
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
                if (output.without?.includes(entry)) continue;
                if (entry === workspaceScope) linkWorkspaces(join(from, entry), join(dest, entry));
                else symlinkSync(join(from, entry), join(dest, entry));
              }
            } else {
              mkdirSync(dirname(dest), { recursive: true });
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
    await whenHealthy?.((p) => {
      const port = ports.get(String(p));
      assert.ok(port, `${target}: image port ${p} is not remapped (add it to imagePorts)`);
      return Number(port);
    });
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

/** Where a target's COPY instructions put files: paths under /app, or absolute ones (/models). */
function copiedPaths(target: string): string[] {
  const paths: string[] = [];
  for (const ins of stageChain(dockerfile.stages, target).flatMap((st) => st.instructions)) {
    if (ins.op !== "COPY") continue;
    const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith("--"));
    const dest = (parts.at(-1) ?? ".").replace(/^\.\//, "").replace(/\/$/, "");
    const sources = parts.slice(0, -1);
    for (const src of sources) {
      // "COPY a b ./" puts each source in the folder; "COPY a ./x" copies a to x.
      paths.push(sources.length > 1 || dest === "." ? basename(src) : dest);
    }
  }
  return paths.sort();
}

describe("image file sets hold only what their service runs", () => {
  const shared = ["contracts", "healthcheck.mjs", "node_modules", "package.json", "tsconfig.json"];
  it("xds-server: the control plane, the generated types and the .proto files its admin API reads", () => {
    assert.deepEqual(copiedPaths("xds-server"), [...shared, "gen", "proto", "xds-server"].sort());
  });
  it("ext-authz: no xds-server, no .proto files; the contracts package holds the config parser", () => {
    assert.deepEqual(copiedPaths("ext-authz"), [...shared, "ext-authz", "gen"].sort());
  });
  it("the node: the protocol's generated types and its models, none of Envoy's", () => {
    assert.deepEqual(copiedPaths("node"), [...shared, "/models", "gen/inference", "node"].sort());
  });
});

describe("image file sets run (no engine: files per the Dockerfile, this machine's Node)", () => {
  it("xds-server starts from its image's files and passes its HEALTHCHECK", () =>
    runImageFileSet("xds-server"));
  it("the node starts from its image's files (with the models), passes its gRPC HEALTHCHECK and serves REST on NODE_HTTP_PORT", () =>
    runImageFileSet("node", {}, undefined, async (port) => {
      // The image's ENV alone (no --http-port in its CMD) opens the REST port the deployments
      // declare as restPort (test/deploy.test.ts checks that they agree).
      const rest = `http://127.0.0.1:${port(8000)}`;
      const ready = await fetch(`${rest}/v2/health/ready`);
      assert.equal(ready.status, 200, `GET /v2/health/ready: ${ready.status}`);
      const infer = await fetch(`${rest}/v2/models/scale/versions/1/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }],
        }),
      });
      const body = (await infer.json()) as { model_version?: string; outputs?: { data: number[] }[] };
      assert.equal(infer.status, 200, JSON.stringify(body));
      assert.equal(body.model_version, "1");
      assert.equal(body.outputs?.[0]?.data.length, 4);
    }));
  it("ext-authz starts from its image's files and passes its HEALTHCHECK", async (t) => {
    if (!existsSync(join(repoRoot, "ext-authz/src/main.ts"))) {
      return t.skip("ext-authz/src/main.ts does not exist yet: its image's file set was not run");
    }
    await runImageFileSet("ext-authz");
  });
  it("a file set without the contracts package fails: the workspace link reaches the image's copy", async () => {
    await assert.rejects(
      runImageFileSet("ext-authz", {}, (path) => path !== "contracts"),
      /exited|never passed/,
    );
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
// The rate limit service (profile "ratelimit") with the compose file's settings: the binary the
// offline image carries (.tools/ratelimit, built by setup), this machine's Redis, the control
// plane's own writer at the path the compose file gives it, and the offline image's HEALTHCHECK.

describe("the rate limit service as the compose file runs it (no engine)", () => {
  it("loads the limits the control plane writes at INFERENCEHUB_RATELIMIT_CONFIG; the offline image's HEALTHCHECK passes, then fails once it stops", async (t) => {
    const unavailable = ratelimitUnavailableReason() ?? redisUnavailableReason();
    if (unavailable) return t.skip(unavailable);
    type Svc = { environment: Record<string, string>; volumes: string[] };
    const compose = parseYaml(text(join(deployDir, "docker-compose.yml")), { merge: true }) as {
      services: Record<string, Svc>;
    };
    const env = { ...compose.services.ratelimit?.environment } as Record<string, string>;
    // Both control plane replicas (xds-server-a, -b) write the same file into the one volume; one
    // stands for both here (test/deploy.test.ts checks they are one definition).
    const configFile = compose.services["xds-server-a"]?.environment.INFERENCEHUB_RATELIMIT_CONFIG ?? "";
    assert.ok(configFile, "xds-server-a: INFERENCEHUB_RATELIMIT_CONFIG");
    // The Dockerfile's HEALTHCHECK, exec form, continuation lines joined.
    const dockerfileText = text(join(deployDir, "offline/Dockerfile.ratelimit")).replace(/\\\n/g, " ");
    const hcLine = /^HEALTHCHECK .*?\bCMD\s+(\[.*\])\s*$/m.exec(dockerfileText)?.[1];
    assert.ok(hcLine, "Dockerfile.ratelimit: no exec-form HEALTHCHECK");
    const [hcProgram = "", ...hcArgs] = jsonArray(hcLine);

    const root = await mkdtemp(join(tmpdir(), "inferencehub-compose-ratelimit-"));
    const redis = await startRedis();
    const [grpcPort, httpPort, debugPort] = (await freePorts(3)) as [number, number, number];
    // Each container's file system a folder of its own; the volume is the service's folder (a
    // real directory, as a mount is: the service reads the tree without following links), linked
    // into the control plane's at the path the compose file mounts it.
    const inRoot = (container: string, path: string): string => join(root, container, path);
    const mountOf = (name: string): string | undefined =>
      compose.services[name]?.volumes
        .map((v) => v.split(":"))
        .find(([source]) => source === "ratelimit-config")?.[1];
    const serviceMount = mountOf("ratelimit");
    assert.ok(serviceMount, "ratelimit: the volume ratelimit-config is not mounted");
    const volume = inRoot("ratelimit", serviceMount);
    mkdirSync(volume, { recursive: true });
    const controlPlaneMount = mountOf("xds-server-a");
    assert.ok(controlPlaneMount, "xds-server-a: the volume ratelimit-config is not mounted");
    mkdirSync(dirname(inRoot("xds-server", controlPlaneMount)), { recursive: true });
    symlinkSync(volume, inRoot("xds-server", controlPlaneMount));
    const proc = startBinary({
      label: "ratelimit (compose settings)",
      command: ratelimitBinary,
      args: [],
      env: {
        ...env,
        RUNTIME_ROOT: inRoot("ratelimit", env.RUNTIME_ROOT ?? ""),
        REDIS_URL: redis.address,
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        HOST: "127.0.0.1",
        PORT: String(httpPort),
        DEBUG_PORT: String(debugPort),
      },
      cwd: root,
    });
    const stops: (() => Promise<void>)[] = [];
    const healthcheck = () =>
      run(hcProgram, hcArgs, { env: { ...process.env, PORT: String(httpPort) }, timeout: 5_000 }).then(
        () => true,
        () => false,
      );
    try {
      await waitUntil(proc, {
        label: "ratelimit",
        what: "its HEALTHCHECK passing",
        timeoutMs: 20_000,
        probe: healthcheck,
      });
      // The control plane, given the compose file's INFERENCEHUB_RATELIMIT_CONFIG (in its own file
      // system), writes the limits of a config with rate-limited tenants (dotfile, then rename).
      const configDir = join(root, "etc");
      mkdirSync(configDir);
      cpSync(
        join(repoRoot, "xds-server/src/ratelimit/testdata/in/tenants.yaml"),
        join(configDir, "inferencehub.yaml"),
      );
      writeFileSync(join(configDir, "keys.yaml"), "keys: []\n");
      const controlPlane = await startControlPlane({
        configPath: join(configDir, "inferencehub.yaml"),
        log: pino({ level: "silent" }),
        adsHost: "127.0.0.1",
        adsPort: 0,
        adminHost: "127.0.0.1",
        adminPort: 0,
        watch: false,
        probe: false,
        rateLimitConfigPath: inRoot("xds-server", configFile),
      });
      stops.push(() => controlPlane.stop());
      await waitUntil(proc, {
        label: "ratelimit",
        what: "serving the control plane's limits",
        timeoutMs: 10_000,
        probe: async () => {
          const res = await fetch(`http://127.0.0.1:${debugPort}/rlconfig`).catch(() => null);
          return res?.ok === true && /inferencehub\.tenant_acme: unit=/.test(await res.text());
        },
      });
      await proc.stop();
      assert.equal(await healthcheck(), false, "the HEALTHCHECK fails once the service is gone");
    } finally {
      for (const stop of stops) await stop();
      await proc.stop();
      await redis.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
