/**
 * deploy/ checked as far as a machine without a container engine or a cluster allows (what stays
 * unchecked is listed in deploy/README.md):
 * - the compose file against the Compose specification's JSON schema, before and after variable
 *   interpolation; its images, ports, addresses, mounts and Prometheus targets against the other files;
 *   closed by default (SECURITY.md): only Envoy's data port published beyond loopback, the nodes and
 *   ext-authz on internal networks shared with their callers only, the repository token required
 *   from the user's environment and no credential written in the file;
 * - every Kubernetes object (the files kustomization.yaml lists, its generated ConfigMaps, and the
 *   output of `kubectl kustomize` where kubectl is installed) against the strict Kubernetes JSON
 *   schemas of two releases, plus probes, security context, selectors and ports; the NetworkPolicies
 *   (default deny, then who may reach each port of each workload, against SECURITY.md's table),
 *   Service types, and the repository token from a Secret for the nodes and ext-authz only;
 * - the Dockerfile with hadolint (parse and lint), its stages, base images, users and COPY sources;
 * - both inferencehub.yaml files with the control plane's own parser, both Envoy bootstraps with
 *   `envoy --mode validate`, and the stats listener and metric names on a real Envoy;
 * - the Grafana dashboard's PromQL with Prometheus' own grammar, and its metric names against what
 *   Envoy, the nodes and the control plane export;
 * - deploy/docker/healthcheck.mjs against a real gRPC health service and an HTTP server.
 * test/compose.test.ts runs things: each image's file set started as the image would start it, and
 * the compose stack itself where a Docker engine is present.
 * Each validator is shown rejecting a broken input. The schemas and tools come from package
 * registries through scripts/fetch-deploy-schemas.sh (run by setup) into .tools/deploy-check/.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Server, ServerCredentials, status as grpcStatus } from "@grpc/grpc-js";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import {
  HealthCheckResponse_ServingStatus,
  HealthService,
  type HealthCheckRequest,
} from "../gen/inference/grpc/health/v1/health.js";
import { ENVOY_VERSION } from "../scripts/lib/envoy.js";
import { startEnvoy, validateBootstrap } from "../scripts/lib/envoy-process.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";
import { RATELIMIT_MODULE } from "../scripts/lib/ratelimit-process.js";

const run = promisify(execFile);
const deployDir = join(repoRoot, "deploy");
const k8sDir = join(deployDir, "k8s");
const checkDir = join(repoRoot, ".tools/deploy-check");
const kubernetesVersions = ["1.33.0", "1.37.0"];
const packageVersion = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }
).version;

/** docs/DESIGN.md, "default ports". The test also checks that docs/DESIGN.md still says so. */
const designPorts = {
  envoyData: 8080,
  envoyAdmin: 9901,
  xdsAds: 18000,
  xdsAdmin: 18080,
  extAuthzGrpc: 19000,
  extAuthzMetrics: 19090,
  firstNode: 9001,
};
/**
 * In deploy/ only (docs/DESIGN.md's row says so): the bootstrap's stats listener, the nodes' metrics
 * port, and the nodes' REST/JSON port (`--http-port`, the image's NODE_HTTP_PORT, the configs'
 * `restPort`; Triton's REST port too).
 */
const envoyStatsPort = 9902;
const nodeMetricsPort = 9101;
const nodeRestPort = 8000;
/**
 * The rate limit service (compose profile "ratelimit", k8s components/ratelimit): gRPC on its
 * default port, which auth.rateLimitService names; HTTP (/healthcheck) moved off its default 8080,
 * Envoy's data port; Redis on its own.
 */
const ratelimitGrpcPort = 8081;
const redisPort = 6379;
const etcdClientPort = 2379;
const etcdPeerPort = 2380;
/** Upstream tags envoyproxy/ratelimit by commit (8 hex digits): the one of the tested module version. */
const ratelimitCommit = /-([0-9a-f]{12})$/.exec(RATELIMIT_MODULE)?.[1]?.slice(0, 8) ?? "";
const ratelimitImage = `envoyproxy/ratelimit:${ratelimitCommit}`;
/** Where the control plane writes the service's limits, in both deployments. */
const ratelimitConfigFile = "/var/lib/inferencehub/ratelimit/ratelimit/config/config.yaml";
/** The settings scripts/lib/ratelimit-process.ts runs the service with (the tested set), by name. */
const ratelimitProcessEnv = (): string[] => {
  const source = text(join(repoRoot, "scripts/lib/ratelimit-process.ts"));
  const block = /env: \{\n([\s\S]*?)\.\.\.options\.env/.exec(source)?.[1] ?? "";
  return [...block.matchAll(/^\s+([A-Z][A-Z_]+):/gm)].map((m) => m[1] ?? "").sort();
};

// ---------------------------------------------------------------------------------------------
// Small helpers for untyped YAML

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  assert.ok(isObj(v), `${what}: expected a mapping, got ${JSON.stringify(v)}`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(v), `${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (path: string): string => readFileSync(path, "utf8");
const rel = (path: string): string => relative(repoRoot, path);

function schemaErrors(validate: ValidateFunction, value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => {
    const unknownField = (e.params as { additionalProperty?: string; unevaluatedProperty?: string }) ?? {};
    const name = unknownField.additionalProperty ?? unknownField.unevaluatedProperty;
    const extra = name !== undefined ? ` '${name}'` : "";
    return `${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
  });
}

function requireCheckTools(): void {
  assert.ok(
    existsSync(join(checkDir, "VERSIONS")),
    `${rel(checkDir)} is missing: run bash scripts/fetch-deploy-schemas.sh (setup does) to fetch the schemas and tools`,
  );
}

/** An image is ours (built from a Dockerfile stage) or an upstream image pinned to a full version or digest. */
function imageProblem(image: string, ourTargets: ReadonlySet<string>): string | undefined {
  const ours = /^inferencehub\/([a-z0-9-]+):(.+)$/.exec(image);
  if (ours) {
    if (!ourTargets.has(ours[1] ?? "")) return `${image}: no stage '${ours[1]}' in deploy/docker/Dockerfile`;
    if (ours[2] !== packageVersion) return `${image}: tag should be the package version ${packageVersion}`;
    return undefined;
  }
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  // envoyproxy/ratelimit publishes commit tags only: the tested commit's.
  if (image.startsWith("envoyproxy/ratelimit:"))
    return image === ratelimitImage ? undefined : `${image}: not the tested version (${ratelimitImage})`;
  const tag = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*:(v?\d+\.\d+\.\d+(?:-[\w.-]+)?)$/.exec(image);
  if (!tag) return `${image}: upstream images must be pinned to a full version tag (x.y.z) or a digest`;
  return undefined;
}

/**
 * Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $$ for a literal $, and the
 * required ${VAR:?message} (set and not empty) and ${VAR?message} (set), which throw as Compose
 * refuses the file.
 */
function interpolate(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (m, name, op, arg) => {
      if (m === "$$") return "$";
      const v = env[name as string];
      if (op === ":-") return v ? v : (arg as string);
      if (op === "-") return v ?? (arg as string);
      if ((op === ":?" && !v) || (op === "?" && v === undefined)) {
        throw new Error(`required variable ${String(name)} is missing a value: ${String(arg)}`);
      }
      return v ?? "";
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (isObj(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

/** The value after a flag in an argument list. */
function flag(args: readonly unknown[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? String(args[i + 1]) : undefined;
}

function ipv4ToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  assert.equal(parts.length, 4, `${ip} is not an IPv4 address`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [base = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4ToInt(base) / size) * size;
  const n = ipv4ToInt(ip);
  return n >= start && n < start + size;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

const dockerfilePath = join(deployDir, "docker/Dockerfile");

interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

/** Stages of a Dockerfile, with line continuations joined (hadolint checks the syntax itself). */
function dockerStages(source: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = source.replace(/\\\n/g, " ").split("\n");
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [op = "", ...rest] = line.split(/\s+/);
    const argText = rest.join(" ");
    const upper = op.toUpperCase();
    if (upper === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText);
      assert.ok(m, `FROM ${argText}: unreadable`);
      const from = (m[1] ?? "").replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? `\${${n}}`);
      stages.push({ name: (m[2] ?? String(stages.length)).toLowerCase(), from, instructions: [] });
    } else if (upper === "ARG" && stages.length === 0) {
      const [name = "", value = ""] = argText.split("=");
      args[name] = value;
    } else {
      stages.at(-1)?.instructions.push({ op: upper, args: argText });
    }
  }
  return { args, stages };
}

/** The chain of stages a target is built from, the target last. */
function stageChain(stages: Stage[], target: string): Stage[] {
  const stage = stages.find((s) => s.name === target);
  assert.ok(stage, `no stage ${target}`);
  const parent = stages.find((s) => s.name === stage.from);
  return parent ? [...stageChain(stages, parent.name), stage] : [stage];
}

const dockerfile = dockerStages(text(dockerfilePath));
/** The final stages: not used as the base of another and not only a COPY --from source. */
const imageTargets = new Set(
  dockerfile.stages
    .filter((s) => !dockerfile.stages.some((o) => o.from === s.name))
    .filter((s) => s.instructions.some((i) => i.op === "ENTRYPOINT"))
    .map((s) => s.name),
);

/** The node image's ENV (all of its stage chain's ENV instructions, `NAME=value` form). */
function nodeImageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stageChain(dockerfile.stages, "node").flatMap((s) => s.instructions)) {
    if (ins.op !== "ENV") continue;
    for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ""] = m[2] ?? "";
  }
  delete env.NODE_ENV;
  return env;
}

/** The node image's EXPOSEd ports, sorted. */
function nodeImageExposed(): number[] {
  return stageChain(dockerfile.stages, "node")
    .flatMap((s) => s.instructions)
    .filter((i) => i.op === "EXPOSE")
    .flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split("/")[0])))
    .sort((a, b) => a - b);
}

async function hadolint(source: string): Promise<{ ok: boolean; output: string }> {
  const bin = join(checkDir, "bin/hadolint");
  return new Promise((resolve) => {
    const child = execFile(bin, ["--no-color", "-"], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, output: `${stdout}${stderr}`.trim() }),
    );
    child.stdin?.end(source);
  });
}

describe("Dockerfile (deploy/docker/Dockerfile)", () => {
  before(requireCheckTools);

  it("parses and passes hadolint with no finding", async () => {
    const result = await hadolint(text(dockerfilePath));
    assert.ok(result.ok, `hadolint:\n${result.output}`);
  });

  it("hadolint rejects a Dockerfile that does not parse, and one that breaks a rule", async () => {
    const broken = await hadolint("FROM node:20.20.2-bookworm-slim\nCOPY\n");
    assert.ok(!broken.ok && /missing|unexpected/i.test(broken.output), broken.output);
    const latest = await hadolint("FROM node:latest\nUSER root\nCMD node\n");
    assert.ok(!latest.ok && /DL3007|DL3002/.test(latest.output), latest.output);
  });

  it("has the three service images, each non-root with a HEALTHCHECK, on pinned base images", () => {
    assert.deepEqual([...imageTargets].sort(), ["ext-authz", "node", "xds-server"]);
    for (const stage of dockerfile.stages) {
      if (dockerfile.stages.some((s) => s.name === stage.from)) continue;
      assert.equal(imageProblem(stage.from, imageTargets), undefined, `stage ${stage.name}`);
    }
    for (const target of imageTargets) {
      const chain = stageChain(dockerfile.stages, target).flatMap((s) => s.instructions);
      const user = chain.filter((i) => i.op === "USER").at(-1)?.args;
      assert.ok(
        user && /^[1-9]\d*(:\d+)?$/.test(user),
        `${target}: USER must be a numeric non-root uid, got ${user}`,
      );
      assert.ok(
        chain.some((i) => i.op === "HEALTHCHECK"),
        `${target}: no HEALTHCHECK`,
      );
      assert.ok(
        !chain.some((i) => i.op === "RUN" && /apt-get|npm (ci|install)/.test(i.args)),
        `${target}: builds at run stage`,
      );
    }
  });

  it("the node image serves gRPC, REST and metrics on the ports it EXPOSEs, REST on the deployments' port", () => {
    const env = nodeImageEnv();
    assert.equal(Number(env.NODE_PORT), designPorts.firstNode, "NODE_PORT");
    assert.equal(Number(env.NODE_HTTP_PORT), nodeRestPort, "NODE_HTTP_PORT (the node's --http-port)");
    assert.equal(Number(env.METRICS_PORT), nodeMetricsPort, "METRICS_PORT");
    assert.equal(env.NODE_HOST, "0.0.0.0", "NODE_HOST");
    assert.deepEqual(
      nodeImageExposed(),
      [env.NODE_PORT, env.NODE_HTTP_PORT, env.METRICS_PORT].map(Number).sort(),
      "EXPOSE lists the ports ENV serves, and only those",
    );
    // node/src/main.ts takes its defaults from these variables (test/compose.test.ts runs it so).
    const main = text(join(repoRoot, "node/src/main.ts"));
    for (const name of Object.keys(env))
      assert.ok(main.includes(`process.env.${name}`), `node/src/main.ts does not read ${name}`);
  });

  it("copies only paths that exist and that .dockerignore lets through", () => {
    const ignore = text(join(repoRoot, ".dockerignore"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const needed of ["node_modules", "gen", "models", ".tools", ".cache", ".git"]) {
      assert.ok(ignore.includes(needed), `.dockerignore should exclude ${needed}`);
    }
    const excluded = (path: string): boolean => {
      let out = false;
      for (const pattern of ignore) {
        const negate = pattern.startsWith("!");
        const p = negate ? pattern.slice(1) : pattern;
        if (!p.includes("*") && (path === p || path.startsWith(`${p}/`))) out = !negate;
      }
      return out;
    };
    for (const stage of dockerfile.stages) {
      for (const ins of stage.instructions) {
        if (ins.op !== "COPY" || /--from=/.test(ins.args)) continue;
        const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith("--"));
        for (const src of parts.slice(0, -1)) {
          assert.ok(existsSync(join(repoRoot, src)), `${stage.name}: COPY ${src}: no such path`);
          assert.ok(!excluded(src), `${stage.name}: COPY ${src}: excluded by .dockerignore`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The compose file

const composePath = join(deployDir, "docker-compose.yml");
const composeRaw = parseYaml(text(composePath), { merge: true }) as unknown;
/** The variables the compose file requires (secrets the user writes into deploy/.env), test values here. */
const composeRequiredEnv = {
  INFERENCEHUB_REPOSITORY_TOKEN: "test-only-repository-token",
  GRAFANA_ADMIN_PASSWORD: "test-only-password",
};
const compose = obj(interpolate(composeRaw, composeRequiredEnv), "compose");
const services = obj(compose.services, "services");
const service = (name: string): Obj => obj(services[name], `services.${name}`);
/** The control plane's replicas (one service each, so each has its own admin port) and etcd's members. */
const xdsServices = ["xds-server-a", "xds-server-b"];
const etcdServices = ["etcd-0", "etcd-1", "etcd-2"];
/** The name both replicas answer to on "backend" (a network alias): Envoy's xds_cluster and Prometheus'. */
const xdsAlias = "xds-server";
const composeConfig = parseYaml(text(join(deployDir, "compose/inferencehub.yaml"))) as {
  listener: { address: string; port: number };
  nodes: { name: string; address: string; restPort?: number }[];
};

let composeValidator: ValidateFunction | undefined;
function composeSchema(): ValidateFunction {
  requireCheckTools();
  if (!composeValidator) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    composeValidator = ajv.compile(JSON.parse(text(join(checkDir, "compose-spec.json"))) as object);
  }
  return composeValidator;
}

/** A service's published ports: host part ("8080-8083", "127.0.0.1:18080") and container port. */
function publishedPorts(svc: Obj): { host: string; container: number }[] {
  return list(svc.ports).map((p) => {
    const parts = String(p).split(":");
    return { host: parts.slice(0, -1).join(":"), container: Number(parts.at(-1)) };
  });
}

/**
 * What may be published besides Envoy's data port: operators' ports, on the host's loopback only
 * (deploy/README.md and SECURITY.md say so). Envoy's admin, ADS, ext-authz and the nodes: never.
 */
const operatorPorts: Record<string, number[]> = {
  ...Object.fromEntries(xdsServices.map((name) => [name, [designPorts.xdsAdmin]])),
  prometheus: [9090],
  grafana: [3000],
};
function composePortProblems(file: Obj): string[] {
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(obj(file.services, "services"))) {
    const ports = publishedPorts(obj(raw, name));
    if (name === "envoy") {
      const other = ports.filter((p) => p.container !== designPorts.envoyData).map((p) => p.container);
      if (other.length > 0)
        problems.push(`envoy publishes ${other.join(",")}; allowed: ${designPorts.envoyData}`);
      continue;
    }
    const allowed = operatorPorts[name] ?? [];
    const extra = ports.filter((p) => !allowed.includes(p.container));
    if (extra.length > 0) {
      problems.push(
        `${name} publishes ${ports.map((p) => p.container).join(",")}; allowed: ${allowed.join(",") || "nothing"}`,
      );
    }
    for (const p of ports.filter((q) => allowed.includes(q.container))) {
      if (!p.host.startsWith("127.0.0.1:"))
        problems.push(`${name}: ${p.container} must bind 127.0.0.1, not every interface`);
    }
  }
  return problems;
}

/** The networks a compose service is attached to (list or mapping form). */
const serviceNetworks = (svc: Obj): string[] =>
  Array.isArray(svc.networks)
    ? svc.networks.map(String)
    : Object.keys(isObj(svc.networks) ? svc.networks : {});

/**
 * Who shares a network with whom. The nodes: on internal networks only, shared with Envoy, the
 * control plane (its health prober) and Prometheus (read-only scrapes) and no one else; ext-authz
 * likewise with Envoy and Prometheus; ADS on no network Grafana or an outside route reaches; every
 * service names its networks (no implicit default network).
 */
function composeNetworkProblems(file: Obj, nodeNames: readonly string[]): string[] {
  const problems: string[] = [];
  const svcs = obj(file.services, "services");
  const nets = obj(file.networks, "networks");
  const internal = (net: string): boolean => isObj(nets[net]) && (nets[net] as Obj).internal === true;
  const on = new Map(Object.entries(svcs).map(([name, raw]) => [name, serviceNetworks(obj(raw, name))]));
  const peers = (name: string): string[] => {
    const mine = on.get(name) ?? [];
    return [...on]
      .filter(([other, n]) => other !== name && n.some((net) => mine.includes(net)))
      .map(([other]) => other)
      .sort();
  };
  for (const [name, n] of on) {
    if (n.length === 0) problems.push(`${name}: names no network (it would join the default one)`);
    for (const net of n) if (!(net in nets)) problems.push(`${name}: network ${net} is not declared`);
    if (publishedPorts(obj(svcs[name], name)).length > 0 && n.every(internal))
      problems.push(`${name}: publishes a port but is on internal networks only`);
  }
  const closed: Record<string, string[]> = {
    ...Object.fromEntries(
      nodeNames.map((node) => [
        node,
        ["envoy", "prometheus", ...xdsServices, ...nodeNames.filter((n) => n !== node)].sort(),
      ]),
    ),
    // The config store: its members and the control plane, nothing else.
    ...Object.fromEntries(
      etcdServices.map((member) => [
        member,
        [...xdsServices, ...etcdServices.filter((m) => m !== member)].sort(),
      ]),
    ),
    "ext-authz": ["envoy", "prometheus"],
    // Profile "ratelimit": the service reached by Envoy only, Redis by the service only.
    ratelimit: ["envoy", "redis"],
    redis: ["ratelimit"],
  };
  for (const [name, expected] of Object.entries(closed)) {
    for (const net of on.get(name) ?? []) {
      if (!internal(net)) problems.push(`${name}: network ${net} is not internal`);
    }
    const actual = peers(name);
    if (actual.join() !== expected.join())
      problems.push(`${name} shares a network with ${actual.join(", ")}; expected ${expected.join(", ")}`);
  }
  const xdsAllowed = new Set(["envoy", "prometheus", ...nodeNames, ...xdsServices, ...etcdServices]);
  for (const xds of xdsServices) {
    const strangers = peers(xds).filter((p) => !xdsAllowed.has(p));
    if (strangers.length > 0)
      problems.push(`${xds} (ADS, status) shares a network with ${strangers.join(", ")}`);
  }
  if (peers("grafana").join() !== "prometheus")
    problems.push(`grafana shares a network with ${peers("grafana").join(", ")}; expected prometheus only`);
  return problems;
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose specification schema, as written and after interpolation", () => {
    assert.deepEqual(schemaErrors(composeSchema(), composeRaw), []);
    assert.deepEqual(schemaErrors(composeSchema(), compose), []);
  });

  it("the schema rejects a broken compose file", () => {
    const broken = structuredClone(compose) as { services: Record<string, Obj> };
    (broken.services.envoy as Obj).ports = "8080:8080";
    (broken.services.envoy as Obj).imagee = "envoyproxy/envoy:v1.40.0";
    const errors = schemaErrors(composeSchema(), broken);
    assert.ok(
      errors.some((e) => e.startsWith("/services/envoy/ports")),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((e) => e.includes("'imagee'")),
      errors.join("\n"),
    );
  });

  it("uses only images built from the Dockerfile or pinned upstream, Envoy at the tested version", () => {
    const problems: string[] = [];
    for (const [name, raw] of Object.entries(services)) {
      const svc = obj(raw, name);
      const image = String(svc.image);
      const problem = imageProblem(image, imageTargets);
      if (problem) problems.push(`${name}: ${problem}`);
      if (svc.build !== undefined) {
        const build = obj(svc.build, `${name}.build`);
        const context = join(deployDir, String(build.context));
        assert.equal(context, repoRoot, `${name}: build context should be the repository root`);
        assert.equal(join(context, String(build.dockerfile)), dockerfilePath);
        assert.equal(
          image,
          `inferencehub/${String(build.target)}:${packageVersion}`,
          `${name}: image vs build target`,
        );
      } else {
        assert.ok(!image.startsWith("inferencehub/"), `${name}: our image without a build section`);
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(service("envoy").image, `envoyproxy/envoy:v${ENVOY_VERSION}`);
    assert.equal(service("ratelimit").image, ratelimitImage, "the rate limit service at the tested commit");
    assert.match(ratelimitCommit, /^[0-9a-f]{8}$/, RATELIMIT_MODULE);
    assert.match(imageProblem("envoyproxy/ratelimit:0123abcd", imageTargets) ?? "", /not the tested version/);
    assert.match(imageProblem("redis:7.4-bookworm", imageTargets) ?? "", /pinned/);
    assert.equal(imageProblem("prom/prometheus:latest", imageTargets)?.includes("pinned"), true);
    assert.equal(imageProblem("grafana/grafana", imageTargets)?.includes("pinned"), true);
    assert.match(imageProblem("inferencehub/gateway:0.1.0", imageTargets) ?? "", /no stage/);
  });

  it("mounts only files that exist and runs our services hardened", () => {
    for (const [name, raw] of Object.entries(services)) {
      const svc = obj(raw, name);
      for (const volume of list(svc.volumes)) {
        const source = String(volume).split(":")[0] ?? "";
        if (source.startsWith("."))
          assert.ok(existsSync(join(deployDir, source)), `${name}: ${source} missing`);
      }
      assert.equal(svc.container_name, undefined, `${name}: container_name would stop scaling`);
      if (String(svc.image).startsWith("inferencehub/") || ["envoy", "ratelimit", "redis"].includes(name)) {
        assert.equal(svc.read_only, true, `${name}: read_only`);
        assert.deepEqual(svc.cap_drop, ["ALL"], `${name}: cap_drop`);
      }
    }
  });

  it("publishes only Envoy's data port on every interface, the operators' ports on 127.0.0.1, no admin", () => {
    const envoyPorts = publishedPorts(service("envoy"));
    assert.deepEqual(
      envoyPorts.map((p) => p.container),
      [designPorts.envoyData],
    );
    assert.match(envoyPorts[0]?.host ?? "", /^8080(-\d+)?$/, "Envoy's host port (range) starts at 8080");
    assert.deepEqual(composePortProblems(compose), []);
    // The checker catches what the issue found: ADS or a node published, an operator port on every interface.
    const broken = structuredClone(compose) as { services: Record<string, Obj> };
    (broken.services["xds-server-a"] as Obj).ports = ["127.0.0.1:18080:18080", "18000:18000"];
    (broken.services["etcd-0"] as Obj).ports = ["127.0.0.1:2379:2379"];
    (broken.services["node-1"] as Obj).ports = ["127.0.0.1:9001:9001"];
    (broken.services.grafana as Obj).ports = ["3000:3000"];
    assert.deepEqual(composePortProblems(broken), [
      "xds-server-a publishes 18080,18000; allowed: 18080",
      "etcd-0 publishes 2379; allowed: nothing",
      "node-1 publishes 9001; allowed: nothing",
      "grafana: 3000 must bind 127.0.0.1, not every interface",
    ]);
    for (const name of xdsServices) {
      const xds = list(service(name).command);
      assert.equal(Number(flag(xds, "--ads-port")), designPorts.xdsAds, name);
      assert.equal(Number(flag(xds, "--admin-port")), designPorts.xdsAdmin, name);
      assert.deepEqual(
        publishedPorts(service(name)).map((p) => p.container),
        [designPorts.xdsAdmin],
        name,
      );
    }
    // Each replica's admin API on a host port of its own: 18080 and 18081 by default.
    assert.deepEqual(
      xdsServices.map((name) => publishedPorts(service(name))[0]?.host),
      ["127.0.0.1:18080", "127.0.0.1:18081"],
    );
    const authz = list(service("ext-authz").command);
    assert.equal(Number(flag(authz, "--port")), designPorts.extAuthzGrpc);
    assert.equal(Number(flag(authz, "--metrics-port")), designPorts.extAuthzMetrics);
    assert.equal(composeConfig.listener.port, designPorts.envoyData);
    assert.equal(composeConfig.listener.address, "0.0.0.0");
  });

  it("keeps the nodes, ADS and ext-authz on internal networks shared with Envoy, the control plane and Prometheus only", () => {
    const nodeNames = composeConfig.nodes.map((n) => n.name);
    assert.deepEqual(composeNetworkProblems(compose, nodeNames), []);
    const backend = obj(obj(compose.networks, "networks").backend, "backend");
    assert.equal(backend.internal, true, "the nodes' network is internal");
    // As the issue found it: one flat network, not internal, that Grafana shares with the nodes.
    const flat = structuredClone(compose) as { services: Record<string, Obj>; networks: Record<string, Obj> };
    delete flat.networks.backend?.internal;
    flat.services.grafana = { ...flat.services.grafana, networks: ["monitoring", "backend"] };
    flat.services["ext-authz"] = { ...flat.services["ext-authz"], networks: ["authz", "edge"] };
    flat.services["etcd-1"] = { ...flat.services["etcd-1"], networks: ["etcd", "backend"] };
    const problems = composeNetworkProblems(flat, nodeNames);
    for (const expected of [
      "node-1: network backend is not internal",
      "node-1 shares a network with envoy, etcd-1, grafana, node-2, prometheus, xds-server-a, xds-server-b; expected envoy, node-2, prometheus, xds-server-a, xds-server-b",
      "ext-authz: network edge is not internal",
      "xds-server-a (ADS, status) shares a network with grafana",
      "xds-server-b (ADS, status) shares a network with grafana",
      "etcd-1 shares a network with envoy, etcd-0, etcd-2, grafana, node-1, node-2, prometheus, xds-server-a, xds-server-b; expected etcd-0, etcd-2, xds-server-a, xds-server-b",
      "grafana shares a network with envoy, etcd-1, node-1, node-2, prometheus, xds-server-a, xds-server-b; expected prometheus only",
    ]) {
      assert.ok(problems.includes(expected), `${expected}\nnot in:\n${problems.join("\n")}`);
    }
  });

  it("nodes, ext-authz and the control plane require the repository token from the environment; no secret is written in the file", () => {
    const rawServices = obj(obj(composeRaw, "compose").services, "services");
    const envOf = (name: string): Obj => {
      const env = obj(rawServices[name], name).environment;
      return isObj(env) ? env : {};
    };
    const tokenVar = "INFERENCEHUB_REPOSITORY_TOKEN";
    const holders = Object.keys(rawServices)
      .filter((name) => tokenVar in envOf(name))
      .sort();
    // The control plane loads placed versions on the nodes (#18): both replicas hold it too.
    assert.deepEqual(
      holders,
      ["ext-authz", "xds-server-a", "xds-server-b", ...composeConfig.nodes.map((n) => n.name)].sort(),
    );
    for (const name of holders) {
      // Required (${VAR:?why}): Compose refuses to start without it; no default, so no shared token.
      assert.match(String(envOf(name)[tokenVar]), /^\$\{INFERENCEHUB_REPOSITORY_TOKEN:\?[^}]+\}$/, name);
    }
    assert.throws(
      () => interpolate(composeRaw, { ...composeRequiredEnv, [tokenVar]: undefined }),
      /required variable INFERENCEHUB_REPOSITORY_TOKEN is missing a value/,
    );
    assert.throws(
      () => interpolate(composeRaw, { ...composeRequiredEnv, [tokenVar]: "" }),
      /INFERENCEHUB_REPOSITORY_TOKEN/,
    );
    // Every credential-like variable is a reference to the user's environment, never a value or a
    // non-empty default written here (the old file had GRAFANA_ADMIN_PASSWORD:-admin).
    const literal = (value: string): boolean => !/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]+|:-)?\}$/.test(value);
    for (const name of Object.keys(rawServices)) {
      for (const [key, value] of Object.entries(envOf(name))) {
        if (/TOKEN|PASSWORD|SECRET|_KEY/.test(key))
          assert.ok(!literal(String(value)), `${name}: ${key} is written in the file (${String(value)})`);
      }
    }
    assert.ok(literal("${GRAFANA_ADMIN_PASSWORD:-admin}") && literal("changeme"));
    assert.ok(!literal("${INFERENCEHUB_ADMIN_TOKEN:-}"));
    // deploy/.env, where the README has the user put them, is git-ignored.
    assert.match(text(join(deployDir, ".gitignore")), /^\.env$/m);
  });

  it("gives every node of compose/inferencehub.yaml its fixed IP and port, outside the dynamic range", () => {
    const network = obj(obj(compose.networks, "networks").backend, "networks.backend");
    const ipam = obj(arr(obj(network.ipam, "ipam").config, "ipam.config")[0], "ipam.config[0]");
    const subnet = String(ipam.subnet);
    const ipRange = String(ipam.ip_range);
    assert.equal(composeConfig.nodes.length >= 2, true, "two or more nodes");
    for (const node of composeConfig.nodes) {
      const svc = service(node.name);
      const [ip = "", port = ""] = node.address.split(":");
      const networks = obj(svc.networks, `${node.name}.networks`);
      assert.equal(obj(networks.backend, "net").ipv4_address, ip, `${node.name}: ipv4_address`);
      assert.ok(
        inCidr(ip, subnet) && !inCidr(ip, ipRange),
        `${node.name}: ${ip} in ${subnet}, not in ${ipRange}`,
      );
      const args = list(svc.command);
      assert.equal(flag(args, "--port"), port, `${node.name}: --port`);
      assert.equal(Number(port) >= designPorts.firstNode, true);
      assert.equal(flag(args, "--name"), node.name);
      assert.equal(flag(args, "--host"), "0.0.0.0");
      assert.equal(Number(flag(args, "--metrics-port")), nodeMetricsPort);
      // REST: the config's restPort is the port the node serves REST on (its --http-port), the
      // deployments' REST port, which is also the image's default (NODE_HTTP_PORT).
      assert.equal(node.restPort, nodeRestPort, `${node.name}: restPort`);
      assert.equal(flag(args, "--http-port"), String(node.restPort), `${node.name}: --http-port = restPort`);
      assert.equal(nodeImageEnv().NODE_HTTP_PORT, String(node.restPort), `${node.name}: NODE_HTTP_PORT`);
      assert.ok(nodeImageExposed().includes(Number(node.restPort)), `${node.name}: restPort not EXPOSEd`);
    }
  });

  it("runs the control plane as two replicas on a three-member etcd, both named by one alias Envoy resolves", () => {
    // The replicas are one definition: equal but for the host port of their admin API.
    const [a, b] = xdsServices.map((name) => {
      const { ports: _ports, ...rest } = service(name);
      return rest;
    });
    assert.deepEqual(a, b, "xds-server-a and -b differ beyond their published port");
    const xds = service("xds-server-a");
    const env = composeEnv(xds);
    const args = list(xds.command).map(String);
    // etcd mode: no --config (the file is only the seed); every member an endpoint.
    assert.equal(flag(args, "--config"), undefined, "--config in etcd mode");
    assert.deepEqual(
      (env.INFERENCEHUB_ETCD_ENDPOINTS ?? "").split(","),
      etcdServices.map((m) => `http://${m}:${etcdClientPort}`),
    );
    // The seed: the routing file in the folder the replicas mount (read-only: edits go to etcd).
    const configMount = list(xds.volumes)
      .map((v) => String(v).split(":"))
      .find(([, target]) => target === "/etc/inferencehub");
    assert.ok(configMount, "the config folder is mounted at /etc/inferencehub");
    assert.equal(configMount[2], "ro", "the config folder is read-only");
    assert.equal(configMount[0], "./compose");
    assert.equal(env.INFERENCEHUB_SEED_CONFIG, "/etc/inferencehub/inferencehub.yaml");
    assert.ok(existsSync(join(deployDir, "compose/inferencehub.yaml")));
    // Both answer to "xds-server" on "backend", the name of Envoy's STRICT_DNS xds_cluster.
    for (const name of xdsServices) {
      const nets = obj(service(name).networks, `${name}.networks`);
      assert.deepEqual(list(obj(nets.backend, "backend").aliases), [xdsAlias], name);
      assert.ok("etcd" in nets, `${name}: not on the network etcd`);
    }
    const bootstrap = parseYaml(text(bootstrapPath)) as {
      static_resources: { clusters: { name: string; type: string; load_assignment: unknown }[] };
    };
    const xdsCluster = bootstrap.static_resources.clusters.find((c) => c.name === "xds_cluster");
    assert.equal(xdsCluster?.type, "STRICT_DNS", "STRICT_DNS: every address of the name is an endpoint");
    assert.match(JSON.stringify(xdsCluster?.load_assignment), new RegExp(`"address":"${xdsAlias}"`));
    assert.ok(!services[xdsAlias], `no service '${xdsAlias}': the alias alone names both`);
    // Envoy starts once both are healthy.
    const envoyDeps = obj(service("envoy").depends_on, "envoy.depends_on");
    assert.deepEqual(Object.keys(envoyDeps).sort(), xdsServices);

    // etcd: a static cluster of three, each member naming itself and listing all, on "etcd" only,
    // nothing published, a volume each.
    const members = etcdServices.map((name) => {
      const svc = service(name);
      const margs = list(svc.command).map(String);
      const menv = composeEnv(svc);
      return { name, svc, margs, menv };
    });
    const initialCluster = etcdServices.map((m) => `${m}=http://${m}:${etcdPeerPort}`).join(",");
    const volumes = new Set<string>();
    for (const { name, svc, margs, menv } of members) {
      assert.equal(margs[0], "etcd", `${name}: runs etcd`);
      assert.equal(flag(margs, "--name"), name);
      assert.equal(flag(margs, "--advertise-client-urls"), `http://${name}:${etcdClientPort}`);
      assert.equal(flag(margs, "--initial-advertise-peer-urls"), `http://${name}:${etcdPeerPort}`);
      assert.equal(menv.ETCD_INITIAL_CLUSTER, initialCluster, `${name}: ETCD_INITIAL_CLUSTER`);
      assert.equal(menv.ETCD_INITIAL_CLUSTER_STATE, "new");
      assert.equal(menv.ETCD_LISTEN_CLIENT_URLS, `http://0.0.0.0:${etcdClientPort}`);
      assert.equal(menv.ETCD_LISTEN_PEER_URLS, `http://0.0.0.0:${etcdPeerPort}`);
      assert.deepEqual(serviceNetworks(svc), ["etcd"], `${name}: networks`);
      assert.deepEqual(publishedPorts(svc), [], `${name}: published`);
      assert.equal(svc.read_only, true, `${name}: read_only`);
      assert.deepEqual(svc.cap_drop, ["ALL"], `${name}: cap_drop`);
      const data = list(svc.volumes)
        .map((v) => String(v).split(":"))
        .find(([, target]) => target === "/var/lib/etcd");
      assert.ok(data, `${name}: no volume at /var/lib/etcd`);
      const [source = ""] = data;
      assert.ok(source in obj(compose.volumes, "volumes"), `${name}: ${source} is not a named volume`);
      volumes.add(source);
      assert.ok((menv.ETCD_DATA_DIR ?? "").startsWith("/var/lib/etcd/"), `${name}: data dir in its volume`);
      const check = list(obj(svc.healthcheck, `${name}.healthcheck`).test).join(" ");
      assert.match(check, /^CMD etcdctl .*endpoint health$/, `${name}: health check`);
      // Upstream's build of the version the project tests (Debian's etcd-server 3.4.23).
      assert.equal(svc.image, "gcr.io/etcd-development/etcd:v3.4.23", name);
    }
    assert.equal(volumes.size, etcdServices.length, "one volume per member");
    assert.equal(obj(obj(compose.networks, "networks").etcd, "etcd").internal, true, "etcd is internal");
  });

  it("docker compose config accepts the stack, with the offline override too", async (t) => {
    const hasCompose = await run("docker", ["compose", "version"]).then(
      () => true,
      () => false,
    );
    if (!hasCompose) return t.skip("no 'docker compose' here: the file was checked against the schema only");
    const env = { ...process.env, ...composeRequiredEnv };
    for (const files of [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.offline.yml"]]) {
      const { stdout } = await run(
        "docker",
        ["compose", ...files.flatMap((f) => ["-f", join(deployDir, f)]), "config", "--format", "json"],
        { env, maxBuffer: 16 << 20 },
      );
      const rendered = obj(JSON.parse(stdout) as unknown, "config");
      const names = Object.keys(obj(rendered.services, "services"));
      for (const name of [...xdsServices, ...etcdServices])
        assert.ok(names.includes(name), `${files}: ${name}`);
      if (files.length === 2) {
        for (const name of etcdServices)
          assert.equal(obj(obj(rendered.services, "services")[name], name).image, "inferencehub/etcd:debian");
      }
    }
  });

  it("docs/DESIGN.md still lists these default ports", () => {
    const design = join(repoRoot, "docs/DESIGN.md");
    assert.ok(existsSync(design), `${design} is missing`);
    const line = text(design)
      .split("\n")
      .find((l) => l.includes("default ports"));
    assert.ok(line, "docs/DESIGN.md: no 'default ports' row");
    // As whole numbers: 18000 does not say 8000.
    for (const port of [...Object.values(designPorts), envoyStatsPort, nodeMetricsPort, nodeRestPort])
      assert.match(line, new RegExp(`(^|\\D)${port}(\\D|$)`), `docs/DESIGN.md lacks ${port}`);
  });
});

// ---------------------------------------------------------------------------------------------
// inferencehub.yaml for compose and Kubernetes, with the control plane's own parser

describe("inferencehub.yaml of the deployments", () => {
  for (const file of ["compose/inferencehub.yaml", "k8s/config/inferencehub.yaml"]) {
    it(`${file} passes parseConfig`, () => {
      const path = join(deployDir, file);
      const parsed = parseConfig(text(path), path);
      assert.ok(parsed.ok, parsed.ok ? "" : formatErrors(parsed.errors));
    });
  }

  it("parseConfig rejects a node given by host name", () => {
    const source = text(join(deployDir, "compose/inferencehub.yaml")).replace(
      "10.213.7.11:9001",
      "node-1:9001",
    );
    const parsed = parseConfig(source, "inferencehub.yaml");
    assert.ok(!parsed.ok);
    assert.match(formatErrors(parsed.errors), /nodes\[0\]\.address/);
  });
});

// ---------------------------------------------------------------------------------------------
// Envoy: the deploy bootstrap, validated and run

const bootstrapPath = join(deployDir, "envoy/envoy.yaml");

describe("Envoy bootstrap (deploy/envoy/envoy.yaml = deploy/k8s/config/envoy.yaml)", () => {
  it("passes envoy --mode validate, for compose and for Kubernetes", async () => {
    await validateBootstrap({ bootstrap: text(bootstrapPath) });
    await validateBootstrap({ bootstrap: text(join(k8sDir, "config/envoy.yaml")) });
  });

  it("envoy --mode validate rejects a broken bootstrap", async () => {
    const broken = text(bootstrapPath).replace("port_value: 9902", "port_value: 99020");
    await assert.rejects(validateBootstrap({ bootstrap: broken }), /validate rejected/);
  });

  it("is the same file for compose and Kubernetes", () => {
    assert.equal(text(join(k8sDir, "config/envoy.yaml")), text(bootstrapPath));
  });

  it("is envoy/bootstrap.yaml plus only the stats listener and its admin cluster", () => {
    const deployed = parseYaml(text(bootstrapPath)) as { static_resources: Obj; admin: unknown };
    const base = parseYaml(text(join(repoRoot, "envoy/bootstrap.yaml"))) as Obj;
    const listeners = arr(deployed.static_resources.listeners, "listeners");
    assert.deepEqual(
      listeners.map((l) => obj(l, "listener").name),
      ["stats"],
    );
    const stripped = structuredClone(deployed);
    delete stripped.static_resources.listeners;
    stripped.static_resources.clusters = arr(stripped.static_resources.clusters, "clusters").filter(
      (c) => obj(c, "cluster").name !== "envoy_admin",
    );
    assert.deepEqual(stripped, base);
    const xds = JSON.stringify(deployed.static_resources.clusters);
    assert.ok(xds.includes('"address":"xds-server","port_value":18000'), "xds_cluster is xds-server:18000");
    assert.deepEqual(deployed.admin, {
      address: { socket_address: { address: "127.0.0.1", port_value: 9901 } },
    });
  });
});

/** Prometheus metric names in Envoy's /stats/prometheus, read off a real Envoy in the test below. */
const envoyMetricNames = new Set<string>();

describe("Envoy's stats listener, on a real Envoy", () => {
  it("serves GET /ready and /stats/prometheus and nothing else of the admin; cluster names keep their '~'", async () => {
    const [adminPort, statsPort] = await freePorts(2);
    const bootstrap = parseYaml(text(bootstrapPath)) as {
      static_resources: { listeners: Obj[]; clusters: Obj[] };
    } & Obj;
    // No control plane here: the ADS config and its cluster go, a model-version cluster comes in.
    delete bootstrap.dynamic_resources;
    const json = JSON.stringify(bootstrap)
      .replace('"port_value":9902', `"port_value":${statsPort}`)
      .replace(
        /"address":"127\.0\.0\.1","port_value":9901/g,
        `"address":"127.0.0.1","port_value":${adminPort}`,
      );
    const patched = JSON.parse(json) as typeof bootstrap;
    patched.static_resources.clusters = patched.static_resources.clusters.filter(
      (c) => c.name !== "xds_cluster",
    );
    patched.static_resources.clusters.push({
      name: "scale~1",
      type: "STATIC",
      connect_timeout: "1s",
      outlier_detection: {},
      load_assignment: {
        cluster_name: "scale~1",
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 1 } } } },
            ],
          },
        ],
      },
    });
    const envoy = await startEnvoy({ bootstrap: patched, name: "deploy-stats", adminPort });
    try {
      const base = `http://127.0.0.1:${statsPort}`;
      const ready = await fetch(`${base}/ready`);
      assert.equal(ready.status, 200);
      assert.equal((await ready.text()).trim(), "LIVE");
      for (const path of ["/config_dump", "/clusters", "/stats", "/ready/x"]) {
        assert.equal((await fetch(`${base}${path}`)).status, 404, path);
      }
      assert.equal((await fetch(`${base}/ready`, { method: "POST" })).status, 404, "POST /ready");
      assert.equal((await fetch(`${base}/quitquitquit`, { method: "POST" })).status, 404);
      const prom = await fetch(`${base}/stats/prometheus`);
      assert.equal(prom.status, 200);
      const body = await prom.text();
      for (const m of body.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) envoyMetricNames.add(m[1] ?? "");
      assert.match(body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="scale~1"\} 0$/m);
      assert.match(
        body,
        /^envoy_cluster_outlier_detection_ejections_active\{envoy_cluster_name="scale~1"\} 0$/m,
      );
      // The /ready calls above went through the envoy_admin cluster: per-code and timing stats exist.
      assert.match(
        body,
        /^envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="envoy_admin"\}/m,
      );
      assert.match(body, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="envoy_admin",le="/m);
    } finally {
      await envoy.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Prometheus and Grafana

const grafanaDir = join(deployDir, "grafana");
const dashboard = JSON.parse(text(join(grafanaDir, "dashboards/inferencehub.json"))) as Obj;
const dashboardPanels = arr(dashboard.panels, "panels").map((p) => obj(p, "panel"));
const dashboardExprs = dashboardPanels.flatMap((p) =>
  list(p.targets).map((t) => String(obj(t, `panel ${String(p.title)} target`).expr)),
);
/** The dashboard's authorization metric: ext-authz/src/metrics.ts defines it (result, tenant). */
const authzMetric = "inferencehub_authz_decisions_total";

/** Metric names the project's own code registers (prom-client `name: "..."`). */
function projectMetricNames(dirs: string[]): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        for (const m of text(path).matchAll(/name:\s*"(inferencehub_[a-z0-9_]+)"/g)) names.add(m[1] ?? "");
      }
    }
  };
  dirs.forEach(walk);
  return names;
}

interface PromqlParser {
  parse(input: string): {
    iterate(spec: {
      enter(node: { type: { isError: boolean; name: string }; from: number; to: number }): void;
    }): void;
  };
}
async function promqlParser(): Promise<PromqlParser> {
  requireCheckTools();
  const path = join(checkDir, "npm/node_modules/@prometheus-io/lezer-promql/dist/index.es.js");
  const mod = (await import(path)) as { parser: PromqlParser };
  return mod.parser;
}
/**
 * Grafana's variables replaced by values Prometheus would see, then Prometheus' own grammar: the
 * syntax errors, and the metric names the expression reads.
 */
async function promql(expr: string): Promise<{ errors: string[]; metrics: string[] }> {
  const parser = await promqlParser();
  const concrete = expr.replaceAll("$__rate_interval", "1m").replaceAll("$cluster", ".+~.+");
  const errors: string[] = [];
  const metrics: string[] = [];
  // A metric name is the Identifier a VectorSelector starts with.
  let selectorFrom = -1;
  parser.parse(concrete).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`error at ${node.from}: ...${concrete.slice(node.from, node.from + 30)}`);
      if (node.type.name === "VectorSelector") selectorFrom = node.from;
      if (node.type.name === "Identifier" && node.from === selectorFrom)
        metrics.push(concrete.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

describe("Grafana and Prometheus", () => {
  it("every panel uses the provisioned datasource", () => {
    const ds = parseYaml(text(join(grafanaDir, "provisioning/datasources/prometheus.yaml"))) as {
      datasources: { uid: string; url: string }[];
    };
    const uid = ds.datasources[0]?.uid;
    assert.equal(ds.datasources[0]?.url, "http://prometheus:9090");
    for (const p of dashboardPanels.filter((p) => p.type !== "row")) {
      assert.equal(obj(p.datasource, `${String(p.title)}.datasource`).uid, uid, String(p.title));
    }
    const provider = parseYaml(text(join(grafanaDir, "provisioning/dashboards/inferencehub.yaml"))) as {
      providers: { options: { path: string } }[];
    };
    const mounts = list(service("grafana").volumes).map(String);
    assert.ok(
      mounts.includes(`./grafana/dashboards:${provider.providers[0]?.options.path}:ro`),
      mounts.join(", "),
    );
  });

  it("every query parses with Prometheus' PromQL grammar; a broken one does not", async () => {
    assert.ok(dashboardExprs.length >= 10);
    for (const expr of dashboardExprs) assert.deepEqual((await promql(expr)).errors, [], expr);
    assert.notDeepEqual(
      (await promql("sum by (model (rate(envoy_cluster_upstream_rq_total[1m]))")).errors,
      [],
    );
    assert.notDeepEqual(
      (await promql('rate(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"x}[1m])')).errors,
      [],
    );
  });

  it("covers requests, errors and latency per model version, ejections, pushes and authz decisions", () => {
    const all = dashboardExprs.join("\n");
    for (const name of [
      "envoy_cluster_upstream_rq_total",
      "envoy_cluster_upstream_rq_xx",
      "envoy_cluster_upstream_rq_time_bucket",
      "envoy_cluster_outlier_detection_ejections_active",
      "inferencehub_xds_pushes_total",
      "inferencehub_node_requests_total",
      authzMetric,
    ]) {
      assert.ok(all.includes(name), `the dashboard does not read ${name}`);
    }
    assert.ok(all.includes('"model", "$1", "envoy_cluster_name"'), "model split from the cluster name");
  });

  it("reads only metrics that exist: Envoy's (seen above) and the project's own", async (t) => {
    if (envoyMetricNames.size === 0) return t.skip("the real-Envoy test above did not run");
    const ours = projectMetricNames(
      ["xds-server/src", "node/src", "ext-authz/src"].map((d) => join(repoRoot, d)),
    );
    const known = (name: string): boolean =>
      envoyMetricNames.has(name) || ours.has(name) || ours.has(name.replace(/_(bucket|sum|count)$/, ""));
    const used = new Set<string>();
    for (const expr of dashboardExprs) for (const name of (await promql(expr)).metrics) used.add(name);
    assert.ok(
      used.has("envoy_cluster_upstream_rq_total") && used.has("inferencehub_node_inflight"),
      [...used].join(),
    );
    assert.deepEqual(
      [...used].filter((n) => !known(n)),
      [],
    );
    const typo = (await promql("sum by (model) (rate(envoy_cluster_upstream_rq_totl[1m]))")).metrics;
    assert.deepEqual(
      typo.filter((n) => !known(n)),
      ["envoy_cluster_upstream_rq_totl"],
    );
  });

  it("prometheus.yml scrapes every service on the port it serves metrics on", () => {
    const prom = parseYaml(text(join(deployDir, "prometheus/prometheus.yml"))) as {
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    const targets = new Map<string, string>();
    for (const job of prom.scrape_configs) {
      for (const s of job.static_configs ?? [])
        for (const target of s.targets) targets.set(target, job.metrics_path ?? "/metrics");
      for (const d of job.dns_sd_configs ?? []) {
        for (const name of d.names) targets.set(`${name}:${d.port}`, job.metrics_path ?? "/metrics");
      }
    }
    const expected = new Map<string, string>([
      [`envoy:${envoyStatsPort}`, "/stats/prometheus"],
      [`${xdsAlias}:${flag(list(service("xds-server-a").command), "--admin-port")}`, "/metrics"],
      [`ext-authz:${flag(list(service("ext-authz").command), "--metrics-port")}`, "/metrics"],
      ...composeConfig.nodes.map(
        (n) =>
          [`${n.name}:${flag(list(service(n.name).command), "--metrics-port")}`, "/metrics"] as [
            string,
            string,
          ],
      ),
    ]);
    assert.deepEqual(new Map([...targets].sort()), new Map([...expected].sort()));
    // A target is a service's name, or a network alias that names every replica of the control plane.
    const aliased = (alias: string): string[] =>
      Object.entries(services)
        .filter(([, raw]) => {
          const nets = obj(raw, "service").networks;
          return isObj(nets) && Object.values(nets).some((n) => isObj(n) && list(n.aliases).includes(alias));
        })
        .map(([name]) => name);
    assert.deepEqual(aliased(xdsAlias), xdsServices, `'${xdsAlias}' names both replicas`);
    for (const host of targets.keys()) {
      const name = host.split(":")[0] ?? "";
      assert.ok(services[name] || aliased(name).length > 0, `${host}: no such service or alias`);
    }
  });

  it("promtool accepts prometheus.yml, and refuses a broken one", async (t) => {
    // Setup fetches promtool where apt is (scripts/fetch-deploy-schemas.sh); one on PATH also does.
    const fetched = join(checkDir, "bin/promtool");
    const promtool = existsSync(fetched) ? fetched : "promtool";
    const found = await run(promtool, ["--version"]).then(
      () => true,
      () => false,
    );
    if (!found) return t.skip("promtool is not here (no apt): prometheus.yml was checked structurally only");
    await run(promtool, ["check", "config", "--syntax-only", join(deployDir, "prometheus/prometheus.yml")]);
    const dir = await mkdtemp(join(tmpdir(), "inferencehub-promtool-"));
    try {
      const broken = join(dir, "prometheus.yml");
      await writeFile(broken, "global:\n  scrape_intervall: 10s\n");
      await assert.rejects(run(promtool, ["check", "config", "--syntax-only", broken]), /scrape_intervall/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Obj;
  data?: Record<string, string>;
}
const kustomization = parseYaml(text(join(k8sDir, "kustomization.yaml"))) as {
  namespace: string;
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
};
/** Opt-in parts (kustomize Components), each a folder under deploy/k8s/components. */
const componentDirs = readdirSync(join(k8sDir, "components")).map((d) => join(k8sDir, "components", d));
interface ComponentPatch {
  path?: string;
  patch?: string;
  target?: { kind: string; name: string };
}
const components = componentDirs.map((dir) => {
  const component = parseYaml(text(join(dir, "kustomization.yaml"))) as {
    kind: string;
    resources: string[];
    patches?: ComponentPatch[];
  };
  assert.equal(component.kind, "Component", dir);
  return { dir, resources: component.resources.map((f) => join(dir, f)), patches: component.patches ?? [] };
});
const componentResources = components.flatMap((c) => c.resources);
const componentPatchFiles = components.flatMap((c) =>
  c.patches.flatMap((p) => (p.path ? [join(c.dir, p.path)] : [])),
);

/**
 * A strategic merge patch as kustomize applies the ones used here: mappings merged key by key,
 * lists of mappings merged by their key (`mountPath` for volumeMounts, `name` otherwise: the
 * patch's items first, in its order, then the base's others), other lists replaced.
 * `kubectl kustomize` below checks that it renders the same.
 */
function strategicMerge(base: unknown, patch: unknown, field = ""): unknown {
  if (isObj(base) && isObj(patch)) {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v, k) : v;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && patch.every(isObj) && base.every(isObj)) {
    const key = field === "volumeMounts" ? "mountPath" : "name";
    return [
      ...patch.map((p) => {
        const b = base.find((q) => q[key] === p[key]);
        return b ? strategicMerge(b, p) : p;
      }),
      ...base.filter((b) => !patch.some((p) => p[key] === b[key])),
    ];
  }
  return patch;
}

/** A component's patches applied to the objects: strategic merge files, and JSON 6902 `add`s. */
function applyComponentPatches(all: K8sObject[]): K8sObject[] {
  let out = all;
  for (const c of components) {
    for (const p of c.patches) {
      if (p.path) {
        const patch = parseYaml(text(join(c.dir, p.path))) as K8sObject;
        const i = out.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
        assert.ok(i >= 0, `${rel(join(c.dir, p.path))}: no ${patch.kind} ${patch.metadata.name} to patch`);
        out = out.map((o, j) => (j === i ? (strategicMerge(o, patch) as K8sObject) : o));
      } else {
        const target = p.target;
        assert.ok(target && p.patch, `${rel(c.dir)}: a patch without target or text`);
        const i = out.findIndex((o) => o.kind === target.kind && o.metadata.name === target.name);
        assert.ok(i >= 0, `${rel(c.dir)}: no ${target.kind} ${target.name} to patch`);
        const patched = structuredClone(out[i]) as K8sObject;
        for (const op of parseYaml(p.patch) as { op: string; path: string; value: unknown }[]) {
          assert.equal(op.op, "add", `${rel(c.dir)}: only JSON 6902 "add" is applied here`);
          const keys = op.path.split("/").slice(1);
          const last = keys.pop() ?? "";
          let at: unknown = patched;
          for (const k of keys) at = Array.isArray(at) ? at[Number(k)] : (at as Obj)[k];
          if (Array.isArray(at)) at.splice(last === "-" ? at.length : Number(last), 0, op.value);
          else (at as Obj)[last] = op.value;
        }
        out = out.map((o, j) => (j === i ? patched : o));
      }
    }
  }
  return out;
}

/**
 * The objects of the base's files, of every component's files (with the components' patches
 * applied), and the generated ConfigMaps (names without kustomize's hash suffix).
 */
function k8sObjects(): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const file of [...kustomization.resources.map((f) => join(k8sDir, f)), ...componentResources]) {
    for (const doc of parseAllDocuments(text(file))) {
      assert.equal(doc.errors.length, 0, `${rel(file)}: ${doc.errors.join("; ")}`);
      const value = doc.toJS() as K8sObject | null;
      if (value) objects.push(value);
    }
  }
  for (const gen of kustomization.configMapGenerator) {
    const data = Object.fromEntries(gen.files.map((f) => [f.split("/").at(-1) ?? f, text(join(k8sDir, f))]));
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: gen.name }, data });
  }
  return applyComponentPatches(objects);
}

const k8sValidators = new Map<string, Ajv2020>();
function k8sErrors(object: unknown, version: string): string[] {
  requireCheckTools();
  const dir = join(checkDir, "kubernetes", `v${version}`);
  let ajv = k8sValidators.get(version);
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(JSON.parse(text(join(dir, "_definitions.json"))) as object);
    k8sValidators.set(version, ajv);
  }
  const o = obj(object, "object");
  const [group, apiVersion] = String(o.apiVersion).includes("/")
    ? String(o.apiVersion).split("/")
    : ["", String(o.apiVersion)];
  const file = [String(o.kind).toLowerCase(), (group ?? "").split(".")[0], apiVersion]
    .filter(Boolean)
    .join("-");
  const path = join(dir, `${file}.json`);
  if (!existsSync(path))
    return [`no schema for ${String(o.apiVersion)} ${String(o.kind)} in Kubernetes ${version}`];
  const schema = JSON.parse(text(path)) as { $id: string };
  const validate = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  return schemaErrors(validate, object);
}

const objects = k8sObjects();
const componentObjectCount = (): number =>
  componentResources.reduce(
    (n, f) => n + parseAllDocuments(text(f)).filter((d) => d.toJS() !== null).length,
    0,
  );
const find = (kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name}`);
  return found;
};
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Obj }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Obj;
  livenessProbe?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
  securityContext?: Obj;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    securityContext?: Obj;
    containers: Container[];
    volumes?: Obj[];
    hostNetwork?: boolean;
  };
}
const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
const podTemplate = (o: K8sObject): PodTemplate => obj(o.spec, o.metadata.name).template as PodTemplate;
/** Whether a selector picks a pod template; the StatefulSet controller adds the pod-name label to each pod. */
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v || k === "statefulset.kubernetes.io/pod-name");

/** A label selector as NetworkPolicy writes it; matchExpressions are not used here (and refused by the check). */
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}
interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: string[];
  ingress?: { from?: PolicyPeer[]; ports?: { port?: number | string }[] }[];
}
const selects = (selector: LabelSelector | undefined, labels: Record<string, string>): boolean =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
const labelText = (selector: LabelSelector | undefined): string =>
  Object.entries(selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",") || "every pod";

/**
 * Who may open a connection to each port of each workload, as the namespace's NetworkPolicies
 * (ingress) allow it: "anywhere", a workload of these manifests by name, or pods by label ("in this
 * namespace" or "in any namespace"). A port no policy isolates reads "anywhere (no policy)".
 */
function ingressTable(all: K8sObject[]): Map<string, Map<number, string[]>> {
  const policies = all
    .filter((o) => o.kind === "NetworkPolicy")
    .map((o) => ({ name: o.metadata.name, spec: o.spec as unknown as PolicySpec }))
    .filter((p) => (p.spec.policyTypes ?? ["Ingress"]).includes("Ingress"));
  const pods = all.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
  const peerText = (peer: PolicyPeer): string[] => {
    if (peer.ipBlock) return [`ipBlock ${peer.ipBlock.cidr}`];
    if (peer.namespaceSelector) {
      const ns = peer.namespaceSelector.matchLabels ? labelText(peer.namespaceSelector) : "any namespace";
      return [`${labelText(peer.podSelector)} in ${ns === "every pod" ? "any namespace" : ns}`];
    }
    const named = pods.filter((w) => selects(peer.podSelector, podTemplate(w).metadata.labels));
    if (named.length > 0 && peer.podSelector?.matchLabels) return named.map((w) => w.metadata.name);
    return [`${labelText(peer.podSelector)} in this namespace`];
  };
  const table = new Map<string, Map<number, string[]>>();
  for (const w of pods) {
    const labels = podTemplate(w).metadata.labels;
    const mine = policies.filter((p) => selects(p.spec.podSelector, labels));
    const ports = new Map<number, string[]>();
    for (const c of podTemplate(w).spec.containers) {
      for (const port of c.ports ?? []) {
        const from = new Set<string>();
        if (mine.length === 0) from.add("anywhere (no policy)");
        for (const p of mine) {
          for (const rule of p.spec.ingress ?? []) {
            const covers =
              !rule.ports?.length ||
              rule.ports.some(
                (rp) => rp.port === undefined || rp.port === port.containerPort || rp.port === port.name,
              );
            if (!covers) continue;
            if (!rule.from?.length) from.add("anywhere");
            for (const peer of rule.from ?? []) for (const t of peerText(peer)) from.add(t);
          }
        }
        ports.set(port.containerPort, [...from].sort());
      }
    }
    table.set(w.metadata.name, ports);
  }
  return table;
}

const scraper = "inferencehub.io/metrics-scraper=true in any namespace";
const operator = "inferencehub.io/operator=true in this namespace";
/** SECURITY.md's table for Kubernetes: every workload port and who may reach it. */
const expectedIngress: Record<string, Record<number, string[]>> = {
  envoy: { [designPorts.envoyData]: ["anywhere"], [envoyStatsPort]: [scraper] },
  "xds-server": {
    [designPorts.xdsAds]: ["envoy"],
    [designPorts.xdsAdmin]: [operator, scraper].sort(),
    [ratelimitGrpcPort]: ["envoy"],
  },
  "ext-authz": { [designPorts.extAuthzGrpc]: ["envoy"], [designPorts.extAuthzMetrics]: [scraper] },
  // components/ratelimit: the rate limit service's gRPC in the xds-server pods (its HTTP port serves
  // the kubelet's probe only), and Redis for that service.
  redis: { [redisPort]: ["xds-server"] },
  // The config store: clients from the control plane and operators (hubctl apply / export), peers
  // from the other members.
  etcd: { [etcdClientPort]: [operator, "xds-server"].sort(), [etcdPeerPort]: ["etcd"] },
  node: {
    [designPorts.firstNode]: ["envoy", "xds-server"],
    [nodeRestPort]: ["envoy"],
    [nodeMetricsPort]: [scraper],
  },
};

function networkPolicyProblems(all: K8sObject[]): string[] {
  const problems: string[] = [];
  const policies = all.filter((o) => o.kind === "NetworkPolicy");
  const denyAll = policies.filter((o) => {
    const spec = o.spec as unknown as PolicySpec;
    return (
      Object.keys(spec.podSelector.matchLabels ?? {}).length === 0 &&
      !spec.podSelector.matchExpressions &&
      (spec.policyTypes ?? []).includes("Ingress") &&
      !(spec.ingress ?? []).length
    );
  });
  if (denyAll.length === 0) problems.push("no default-deny ingress policy (podSelector {}, no ingress rule)");
  for (const p of policies) {
    if (JSON.stringify(p.spec).includes("matchExpressions"))
      problems.push(`NetworkPolicy ${p.metadata.name}: matchExpressions (this check reads matchLabels only)`);
  }
  for (const w of all.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))) {
    const labels = podTemplate(w).metadata.labels;
    const own = policies.filter(
      (p) => !denyAll.includes(p) && selects((p.spec as unknown as PolicySpec).podSelector, labels),
    );
    if (own.length === 0) problems.push(`${w.metadata.name}: no NetworkPolicy of its own`);
  }
  for (const [workload, ports] of ingressTable(all)) {
    const expected = expectedIngress[workload];
    if (!expected) {
      problems.push(`${workload}: not in the expected ingress table (add it, and to SECURITY.md)`);
      continue;
    }
    for (const [port, from] of ports) {
      const want = expected[port] ?? [];
      if (from.join(" | ") !== want.join(" | "))
        problems.push(
          `${workload}:${port} reachable from [${from.join(" | ")}]; expected [${want.join(" | ")}]`,
        );
    }
  }
  return problems;
}

describe("Kubernetes manifests (deploy/k8s)", () => {
  it("the kustomizations list every manifest file, and every file they list exists", () => {
    const manifests = (dir: string): string[] =>
      readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
        .map((f) => join(dir, f))
        .sort();
    assert.deepEqual(kustomization.resources.map((f) => join(k8sDir, f)).sort(), manifests(k8sDir));
    assert.deepEqual(
      [...componentResources, ...componentPatchFiles].sort(),
      componentDirs.flatMap(manifests).sort(),
    );
    for (const gen of kustomization.configMapGenerator) {
      for (const f of gen.files) assert.ok(existsSync(join(k8sDir, f)), f);
    }
  });

  for (const version of kubernetesVersions) {
    it(`every object is valid against the strict Kubernetes ${version} schemas`, () => {
      const problems = objects.flatMap((o) =>
        k8sErrors(o, version).map((e) => `${o.kind}/${o.metadata.name}${e}`),
      );
      assert.deepEqual(problems, []);
    });
  }

  it("the schema rejects a broken Deployment", () => {
    const broken = structuredClone(find("Deployment", "xds-server")) as K8sObject;
    const spec = broken.spec as { replicas: unknown; template: PodTemplate };
    spec.replicas = "two";
    (spec.template.spec.containers[0] as unknown as Obj).imagePullPolice = "Always";
    const errors = k8sErrors(broken, kubernetesVersions.at(-1) ?? "");
    assert.ok(
      errors.some((e) => e.startsWith("/spec/replicas")),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((e) => e.includes("'imagePullPolice'")),
      errors.join("\n"),
    );
    assert.match(k8sErrors({ apiVersion: "apps/v1", kind: "Deploymentt" }, "1.37.0")[0] ?? "", /no schema/);
  });

  it("kubectl kustomize renders it, and the rendered objects are valid and reference what exists", async (t) => {
    const kubectl = await run("kubectl", ["version", "--client"]).then(
      () => true,
      () => false,
    );
    if (!kubectl)
      return t.skip("kubectl is not installed here: the files were validated without kustomize's rendering");
    // The base as shipped, and the base with every component, through an overlay in a temp folder
    // (kustomize takes bases by relative path only).
    const overlay = await mkdtemp(join(tmpdir(), "inferencehub-kustomize-"));
    let stdout = "";
    try {
      const base = relative(overlay, k8sDir);
      await writeFile(
        join(overlay, "kustomization.yaml"),
        `namespace: ${kustomization.namespace}\nresources: [${base}]\n` +
          `components: [${componentDirs.map((d) => relative(overlay, d)).join(", ")}]\n`,
      );
      const plain = await run("kubectl", ["kustomize", k8sDir], { maxBuffer: 16 << 20 });
      assert.equal(parseAllDocuments(plain.stdout).length, objects.length - componentObjectCount());
      stdout = (await run("kubectl", ["kustomize", overlay], { maxBuffer: 16 << 20 })).stdout;
    } finally {
      await rm(overlay, { recursive: true, force: true });
    }
    const rendered = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
    assert.equal(rendered.length, objects.length);
    const version = kubernetesVersions.at(-1) ?? "";
    assert.deepEqual(
      rendered.flatMap((o) => k8sErrors(o, version).map((e) => `${o.kind}/${o.metadata.name}${e}`)),
      [],
    );
    // kustomize's label and namespace transformers leave the policies' selectors as written.
    assert.deepEqual(networkPolicyProblems(rendered), []);
    const configMaps = new Set(rendered.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name));
    for (const o of rendered) {
      if (o.metadata.name !== "inferencehub") {
        assert.equal((o.metadata as Obj).namespace, kustomization.namespace, `${o.kind}/${o.metadata.name}`);
      }
      if (!["Deployment", "StatefulSet"].includes(o.kind)) continue;
      for (const v of podTemplate(o).spec.volumes ?? []) {
        const cm = (v.configMap as { name?: string } | undefined)?.name;
        if (cm) assert.ok(configMaps.has(cm), `${o.metadata.name}: ConfigMap ${cm} not rendered`);
      }
    }
  });

  it("every container runs non-root, read-only, without privileges, with probes and resources", () => {
    for (const w of workloads) {
      const pod = podTemplate(w);
      assert.equal(pod.spec.securityContext?.runAsNonRoot, true, `${w.metadata.name}: runAsNonRoot`);
      assert.equal(typeof pod.spec.securityContext?.runAsUser, "number", `${w.metadata.name}: runAsUser`);
      for (const c of pod.spec.containers) {
        const where = `${w.metadata.name}/${c.name}`;
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.equal(
          c.securityContext?.allowPrivilegeEscalation,
          false,
          `${where}: allowPrivilegeEscalation`,
        );
        assert.deepEqual(
          (c.securityContext?.capabilities as Obj | undefined)?.drop,
          ["ALL"],
          `${where}: drop ALL`,
        );
        assert.ok(c.readinessProbe && c.livenessProbe, `${where}: probes`);
        assert.ok(c.resources?.requests && c.resources.limits, `${where}: resources`);
        assert.equal(imageProblem(c.image, imageTargets), undefined, where);
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          const port = (Object.values(probe ?? {}).find((v) => isObj(v) && "port" in v) as Obj | undefined)
            ?.port;
          const known = (c.ports ?? []).some((p) => p.name === port || p.containerPort === port);
          assert.ok(known, `${where}: probe port ${String(port)} is not a container port`);
        }
      }
    }
  });

  it("the control plane runs 2+ replicas; Envoy and the control plane have PodDisruptionBudgets", () => {
    assert.ok(Number(find("Deployment", "xds-server").spec?.replicas) >= 2);
    for (const name of ["envoy", "xds-server"]) {
      const pdb = find("PodDisruptionBudget", name);
      const selector = obj(obj(pdb.spec, "pdb.spec").selector, "selector").matchLabels as Record<
        string,
        string
      >;
      assert.ok(
        matches(selector, podTemplate(find("Deployment", name)).metadata.labels),
        `${name}: PDB selects nothing`,
      );
    }
    const hpa = find("HorizontalPodAutoscaler", "envoy");
    assert.equal(obj(obj(hpa.spec, "hpa").scaleTargetRef, "ref").name, "envoy");
  });

  it("etcd is a StatefulSet of three members with a headless Service, claims and a PDB; the control plane uses every member and seeds from the ConfigMap", () => {
    const sts = find("StatefulSet", "etcd");
    const spec = obj(sts.spec, "etcd.spec");
    const replicas = Number(spec.replicas);
    assert.equal(replicas, 3, "three members: one may be away while edits commit");
    // Every member at once (each is Ready only once there is a quorum).
    assert.equal(spec.podManagementPolicy, "Parallel");
    // The headless Service that gives each member its DNS name, not-ready members included.
    const svc = find("Service", String(spec.serviceName));
    const svcSpec = obj(svc.spec, "etcd Service");
    assert.equal(svcSpec.clusterIP, "None", "the StatefulSet's Service is headless");
    assert.equal(svcSpec.publishNotReadyAddresses, true, "peers resolve before the cluster is Ready");
    const pod = podTemplate(sts);
    const c = pod.spec.containers[0];
    assert.ok(c);
    const args = c.args ?? [];
    const serviceName = svc.metadata.name;
    const member = (i: number) => `${sts.metadata.name}-${i}`;
    const ids = Array.from({ length: replicas }, (_, i) => i);
    assert.equal(flag(args, "--name"), "$(POD_NAME)");
    assert.deepEqual(c.env?.find((e) => e.name === "POD_NAME")?.valueFrom, {
      fieldRef: { fieldPath: "metadata.name" },
    });
    assert.equal(
      flag(args, "--initial-advertise-peer-urls"),
      `http://$(POD_NAME).${serviceName}:${etcdPeerPort}`,
    );
    assert.equal(
      flag(args, "--advertise-client-urls"),
      `http://$(POD_NAME).${serviceName}:${etcdClientPort}`,
    );
    assert.equal(
      flag(args, "--initial-cluster"),
      ids.map((i) => `${member(i)}=http://${member(i)}.${serviceName}:${etcdPeerPort}`).join(","),
      "--initial-cluster lists every pod by its stable name",
    );
    assert.equal(flag(args, "--initial-cluster-state"), "new");
    const port = (name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
    assert.equal(port("client"), etcdClientPort);
    assert.equal(port("peer"), etcdPeerPort);
    for (const probe of [c.readinessProbe, c.livenessProbe])
      assert.deepEqual(obj(probe?.httpGet, "probe.httpGet"), { path: "/health", port: "client" });
    // Data on a claim per member, mounted above the data dir; the pod's group may write it.
    const claims = list(spec.volumeClaimTemplates).map((t) => obj(t, "claim"));
    assert.equal(claims.length, 1);
    const claim = claims[0] as Obj;
    const claimName = obj(claim.metadata, "claim.metadata").name;
    const mount = c.volumeMounts?.find((m) => m.name === claimName);
    assert.ok(mount, "the claim is mounted");
    assert.ok(String(flag(args, "--data-dir")).startsWith(`${mount.mountPath}/`), "--data-dir on the claim");
    assert.deepEqual(list(obj(claim.spec, "claim.spec").accessModes), ["ReadWriteOnce"]);
    assert.equal(pod.spec.securityContext?.fsGroup, pod.spec.securityContext?.runAsGroup);
    // ETCD_* service variables would be read as etcd's settings.
    assert.equal((pod.spec as Obj).enableServiceLinks, false);
    const pdb = find("PodDisruptionBudget", "etcd");
    const pdbSpec = obj(pdb.spec, "pdb.spec");
    assert.equal(pdbSpec.minAvailable, 2, "a drain keeps the quorum");
    assert.ok(
      matches(obj(pdbSpec.selector, "selector").matchLabels as Record<string, string>, pod.metadata.labels),
    );

    // The control plane: etcd mode (no --config), every member an endpoint, the ConfigMap its seed.
    const xds = find("Deployment", "xds-server");
    const xdsPod = podTemplate(xds);
    const cp = xdsPod.spec.containers.find((x) => x.name === "xds-server");
    assert.ok(cp);
    assert.equal(flag(cp.args ?? [], "--config"), undefined, "--config in etcd mode");
    const env = Object.fromEntries((cp.env ?? []).map((e) => [e.name, e.value]));
    assert.deepEqual(
      (env.INFERENCEHUB_ETCD_ENDPOINTS ?? "").split(","),
      ids.map((i) => `http://${member(i)}.${serviceName}:${etcdClientPort}`),
    );
    const configVolume = (xdsPod.spec.volumes ?? []).find(
      (v) => (v.configMap as { name?: string } | undefined)?.name === "inferencehub-config",
    );
    const configMount = cp.volumeMounts?.find((m) => m.name === configVolume?.name);
    assert.ok(configMount, "the ConfigMap inferencehub-config is mounted");
    assert.equal(env.INFERENCEHUB_SEED_CONFIG, `${configMount.mountPath}/inferencehub.yaml`);
    assert.ok(
      kustomization.configMapGenerator.some(
        (g) => g.name === "inferencehub-config" && g.files.includes("config/inferencehub.yaml"),
      ),
    );
    // Envoy lists every replica: its STRICT_DNS xds_cluster names the headless Service.
    const xdsSvc = find("Service", "xds-server");
    assert.equal(
      obj(xdsSvc.spec, "xds-server Service").clusterIP,
      "None",
      "xds-server's Service is headless",
    );
    const bootstrap = parseYaml(text(join(k8sDir, "config/envoy.yaml"))) as {
      static_resources: { clusters: { name: string; type: string; load_assignment: unknown }[] };
    };
    const xdsCluster = bootstrap.static_resources.clusters.find((x) => x.name === "xds_cluster");
    assert.equal(xdsCluster?.type, "STRICT_DNS");
    assert.match(JSON.stringify(xdsCluster?.load_assignment), /"address":"xds-server","port_value":18000/);
  });

  it("Services select pods and target ports that exist, on the ports of docs/DESIGN.md", () => {
    for (const svc of objects.filter((o) => o.kind === "Service")) {
      const spec = obj(svc.spec, svc.metadata.name) as { selector: Record<string, string>; ports: Obj[] };
      const pods = workloads.filter((w) => matches(spec.selector, podTemplate(w).metadata.labels));
      assert.equal(pods.length, 1, `Service ${svc.metadata.name}: selects ${pods.length} workloads`);
      const containerPorts = podTemplate(pods[0] as K8sObject).spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of spec.ports) {
        assert.ok(
          containerPorts.some((c) => c.name === p.targetPort || c.containerPort === p.targetPort),
          `Service ${svc.metadata.name}: targetPort ${String(p.targetPort)}`,
        );
      }
    }
    const ports = (name: string): number[] =>
      list(obj(find("Service", name).spec, name).ports).map((p) => Number(obj(p, "port").port));
    assert.deepEqual(ports("envoy"), [designPorts.envoyData]);
    assert.deepEqual(ports("xds-server"), [designPorts.xdsAds, designPorts.xdsAdmin]);
    assert.deepEqual(ports("ext-authz"), [designPorts.extAuthzGrpc, designPorts.extAuthzMetrics]);
    assert.deepEqual(ports("ratelimit"), [ratelimitGrpcPort]);
    assert.deepEqual(ports("redis"), [redisPort]);
    const xdsArgs = podTemplate(find("Deployment", "xds-server")).spec.containers[0]?.args ?? [];
    assert.equal(Number(flag(xdsArgs, "--ads-port")), designPorts.xdsAds);
    assert.equal(Number(flag(xdsArgs, "--admin-port")), designPorts.xdsAdmin);
    const envoyPorts = podTemplate(find("Deployment", "envoy")).spec.containers[0]?.ports ?? [];
    assert.ok(
      !envoyPorts.some((p) => p.containerPort === designPorts.envoyAdmin),
      "Envoy's admin is not a pod port",
    );
  });

  it("the config's node addresses are the fixed clusterIPs of per-node Services selecting one pod each", () => {
    const config = parseYaml(text(join(k8sDir, "config/inferencehub.yaml"))) as {
      nodes: { name: string; address: string; restPort?: number }[];
    };
    const sts = find("StatefulSet", "node");
    const replicas = Number(sts.spec?.replicas);
    const container = podTemplate(sts).spec.containers[0];
    const containerPort = (target: unknown): number | undefined =>
      (container?.ports ?? []).find((p) => p.name === target || p.containerPort === target)?.containerPort;
    assert.equal(config.nodes.length, replicas, "one config node per StatefulSet replica");
    for (const node of config.nodes) {
      const svc = find("Service", node.name);
      const spec = obj(svc.spec, node.name) as {
        clusterIP: string;
        selector: Record<string, string>;
        ports: Obj[];
      };
      const [ip = "", port = ""] = node.address.split(":");
      assert.equal(spec.clusterIP, ip, `${node.name}: clusterIP`);
      assert.ok(inCidr(ip, "10.96.0.0/12"), `${node.name}: ${ip} outside kubeadm's default service CIDR`);
      assert.equal(spec.selector["statefulset.kubernetes.io/pod-name"], node.name);
      assert.equal(Number(spec.ports[0]?.port), Number(port));
      // Both of the node's serving ports, each reaching the container port the node serves it on.
      const servicePort = (p: number): Obj | undefined => spec.ports.find((q) => Number(q.port) === p);
      assert.equal(node.restPort, nodeRestPort, `${node.name}: restPort`);
      for (const [what, p] of [
        ["gRPC", Number(port)],
        ["REST", Number(node.restPort)],
      ] as const) {
        const sp = servicePort(p);
        assert.ok(sp, `Service ${node.name}: no port ${p} (${what})`);
        assert.equal(containerPort(sp.targetPort), p, `Service ${node.name}: port ${p} targets another port`);
      }
    }
    const args = container?.args ?? [];
    assert.equal(flag(args, "--name"), "$(POD_NAME)", "the node is named after its pod");
    for (const node of config.nodes) {
      const [, port = ""] = node.address.split(":");
      assert.equal(flag(args, "--port"), port, `${node.name}: the node's --port`);
      assert.equal(flag(args, "--http-port"), String(node.restPort), `${node.name}: the node's --http-port`);
    }
    const mounts = workloads.flatMap((w) => podTemplate(w).spec.volumes ?? []).map((v) => obj(v, "volume"));
    for (const gen of kustomization.configMapGenerator) {
      assert.ok(
        mounts.some((v) => (v.configMap as { name?: string } | undefined)?.name === gen.name),
        `ConfigMap ${gen.name} is mounted nowhere`,
      );
    }
  });

  it("denies ingress by default; each component's own NetworkPolicy opens only what its callers need", () => {
    assert.deepEqual(networkPolicyProblems(objects), []);
    // What the issue found (no policy at all), and a policy that opens ADS to every pod.
    const none = objects.filter((o) => o.kind !== "NetworkPolicy");
    const open = networkPolicyProblems(none);
    assert.ok(
      open.includes("no default-deny ingress policy (podSelector {}, no ingress rule)"),
      open.join("\n"),
    );
    assert.ok(open.includes("node: no NetworkPolicy of its own"), open.join("\n"));
    assert.ok(
      open.includes("xds-server:18000 reachable from [anywhere (no policy)]; expected [envoy]"),
      open.join("\n"),
    );
    const wide = structuredClone(objects);
    const xdsPolicy = wide.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "xds-server");
    assert.ok(xdsPolicy);
    const rules = (xdsPolicy.spec as unknown as PolicySpec).ingress ?? [];
    delete rules[0]?.from;
    assert.deepEqual(networkPolicyProblems(wide), [
      "xds-server:18000 reachable from [anywhere]; expected [envoy]",
    ]);
    // The nodes' REST port: closed to Envoy (its rule gone), or open to more than Envoy.
    const nodeRules = (all: K8sObject[]) => {
      const policy = all.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "inference-node");
      assert.ok(policy);
      return (policy.spec as unknown as PolicySpec).ingress ?? [];
    };
    const restRule = (rules: NonNullable<PolicySpec["ingress"]>) =>
      rules.findIndex((r) => r.ports?.some((p) => p.port === nodeRestPort));
    const closed = structuredClone(objects);
    const closedRules = nodeRules(closed);
    assert.ok(restRule(closedRules) >= 0, "the node policy has a rule for the REST port");
    closedRules.splice(restRule(closedRules), 1);
    assert.deepEqual(networkPolicyProblems(closed), [
      `node:${nodeRestPort} reachable from []; expected [envoy]`,
    ]);
    const opened = structuredClone(objects);
    const openedRules = nodeRules(opened);
    openedRules[restRule(openedRules)]?.from?.push({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "xds-server" } },
    });
    assert.deepEqual(networkPolicyProblems(opened), [
      `node:${nodeRestPort} reachable from [envoy | xds-server]; expected [envoy]`,
    ]);
  });

  it("only Envoy's Service may leave the cluster; no pod uses the host's network or ports", () => {
    for (const svc of objects.filter((o) => o.kind === "Service")) {
      const spec = obj(svc.spec, svc.metadata.name);
      if (svc.metadata.name === "envoy") continue;
      assert.ok(
        spec.type === undefined || spec.type === "ClusterIP",
        `Service ${svc.metadata.name}: type ${String(spec.type)}; only envoy may be LoadBalancer or NodePort`,
      );
      assert.equal(spec.externalIPs, undefined, `Service ${svc.metadata.name}: externalIPs`);
    }
    for (const w of workloads) {
      const pod = podTemplate(w);
      assert.notEqual(pod.spec.hostNetwork, true, `${w.metadata.name}: hostNetwork`);
      for (const c of pod.spec.containers)
        for (const p of c.ports ?? [])
          assert.equal((p as Obj).hostPort, undefined, `${w.metadata.name}: hostPort`);
    }
  });

  it("nodes, ext-authz and the control plane take the repository token from a Secret the manifests do not ship", () => {
    const secretName = "inferencehub-repository-token";
    const tokenSource = (w: K8sObject): unknown[] =>
      podTemplate(w).spec.containers.map(
        (c) => c.env?.find((e) => e.name === "INFERENCEHUB_REPOSITORY_TOKEN")?.valueFrom,
      );
    for (const w of [find("StatefulSet", "node"), find("Deployment", "ext-authz")]) {
      // Required (no `optional: true`): the pods wait for the Secret instead of running without it.
      assert.deepEqual(
        tokenSource(w),
        [{ secretKeyRef: { name: secretName, key: "token" } }],
        w.metadata.name,
      );
    }
    // The control plane loads placed versions with it (#18), and starts without it (optional:
    // placements then fail, shown by hubctl fleet).
    assert.deepEqual(tokenSource(find("Deployment", "xds-server"))[0], {
      secretKeyRef: { name: secretName, key: "token", optional: true },
    });
    // Least privilege: Envoy never sees it.
    assert.ok(
      !JSON.stringify(podTemplate(find("Deployment", "envoy"))).includes(secretName),
      "envoy reads it",
    );
    // No token ships: no Secret object at all (created with kubectl, deploy/README.md), and no
    // credential-like variable with a literal value.
    assert.deepEqual(
      objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name),
      [],
    );
    for (const w of workloads) {
      for (const c of podTemplate(w).spec.containers) {
        for (const e of c.env ?? []) {
          if (/TOKEN|PASSWORD|SECRET|_KEY/.test(e.name))
            assert.equal(e.value, undefined, `${w.metadata.name}/${c.name}: ${e.name} has a literal value`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The rate limit service: compose profile "ratelimit", Kubernetes components/ratelimit

/** A service's environment as a mapping (compose's list form `NAME=value` too). */
function composeEnv(svc: Obj): Record<string, string> {
  if (Array.isArray(svc.environment))
    return Object.fromEntries(
      svc.environment.map((e) => {
        const [k = "", ...v] = String(e).split("=");
        return [k, v.join("=")];
      }),
    );
  return Object.fromEntries(
    Object.entries(isObj(svc.environment) ? svc.environment : {}).map(([k, v]) => [k, String(v)]),
  );
}
/** Where the service reads its limits: RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY. */
const ratelimitConfigDir = (env: Record<string, string | undefined>): string =>
  [env.RUNTIME_ROOT, env.RUNTIME_SUBDIRECTORY, env.RUNTIME_APPDIRECTORY].join("/");
const parentDir = (path: string): string => path.slice(0, path.lastIndexOf("/"));

/**
 * The settings every deployment of the service must agree on, whatever runs it: the tested set of
 * variables (scripts/lib/ratelimit-process.ts), gRPC on the port auth.rateLimitService names, HTTP
 * off Envoy's data port, the debug port on loopback, the folder watched itself with the control
 * plane's dotfiles ignored, Redis where Redis listens.
 */
function ratelimitEnvProblems(
  where: string,
  env: Record<string, string | undefined>,
  redisUrl: string,
): string[] {
  const problems: string[] = [];
  const missing = ratelimitProcessEnv().filter((k) => env[k] === undefined);
  if (missing.length > 0) problems.push(`${where}: sets no ${missing.join(", ")}`);
  const want: Record<string, string> = {
    USE_STATSD: "false",
    DISABLE_STATS: "true",
    REDIS_SOCKET_TYPE: "tcp",
    REDIS_TYPE: "SINGLE",
    REDIS_URL: redisUrl,
    RUNTIME_WATCH_ROOT: "false",
    RUNTIME_IGNOREDOTFILES: "true",
    GRPC_PORT: String(ratelimitGrpcPort),
    DEBUG_HOST: "127.0.0.1",
    LOG_FORMAT: "json",
  };
  for (const [k, v] of Object.entries(want))
    if (env[k] !== v) problems.push(`${where}: ${k}=${String(env[k])}; expected ${v}`);
  const httpPort = Number(env.PORT);
  if (
    !(httpPort > 0) ||
    [designPorts.envoyData, ratelimitGrpcPort, Number(env.DEBUG_PORT)].includes(httpPort)
  )
    problems.push(
      `${where}: PORT=${String(env.PORT)} (HTTP) must be its own port, not ${designPorts.envoyData}`,
    );
  return problems;
}

/** The compose file's profile "ratelimit": the two services, their volume, and what ties them to the control plane. */
function composeRatelimitProblems(file: Obj): string[] {
  const problems: string[] = [];
  const svcs = obj(file.services, "services");
  const get = (name: string): Obj => obj(svcs[name], name);
  for (const name of ["ratelimit", "redis"])
    if (JSON.stringify(get(name).profiles) !== '["ratelimit"]')
      problems.push(`${name}: not in the profile ratelimit alone`);
  const rl = get("ratelimit");
  const redis = get("redis");
  const env = composeEnv(rl);
  problems.push(...ratelimitEnvProblems("ratelimit", env, `redis:${flag(list(redis.command), "--port")}`));
  if (flag(list(redis.command), "--port") !== String(redisPort))
    problems.push(`redis: --port is not ${redisPort}`);
  // Without a config file, Redis' protected mode refuses the service (another container's address).
  if (flag(list(redis.command), "--protected-mode") !== "no")
    problems.push("redis: protected mode refuses clients from other containers (--protected-mode no)");
  // The config file: the control plane writes it into the volume that the service reads, read-only.
  const mounts = (svc: Obj): { source: string; target: string; mode: string }[] =>
    list(svc.volumes).map((v) => {
      const [source = "", target = "", mode = "rw"] = String(v).split(":");
      return { source, target, mode };
    });
  // Every replica writes the same limits (from the same config in etcd) into the one volume.
  const reader = mounts(rl).find((m) => m.target === ratelimitConfigDir(env));
  if (!reader)
    problems.push(
      `ratelimit: nothing mounted at ${ratelimitConfigDir(env)} (RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY)`,
    );
  if (reader?.mode !== "ro") problems.push(`ratelimit: ${reader?.source} is not read-only`);
  let writer: { source: string; target: string; mode: string } | undefined;
  for (const xds of xdsServices) {
    const configFile = composeEnv(get(xds)).INFERENCEHUB_RATELIMIT_CONFIG ?? "";
    if (configFile !== ratelimitConfigFile)
      problems.push(`${xds}: INFERENCEHUB_RATELIMIT_CONFIG=${configFile}; expected ${ratelimitConfigFile}`);
    if (!configFile.endsWith(".yaml"))
      problems.push(`${xds}: ${configFile} is not a .yaml (the service reads *.yaml)`);
    writer = mounts(get(xds)).find((m) => m.target === parentDir(configFile));
    if (!writer) problems.push(`${xds}: nothing mounted at ${parentDir(configFile)}`);
    if (writer && reader && writer.source !== reader.source)
      problems.push(`${xds} writes to ${writer.source}, ratelimit reads ${reader.source}`);
    if (writer?.mode !== "rw") problems.push(`${xds}: ${writer?.source} is not writable`);
  }
  const volume = obj(obj(file.volumes, "volumes")[writer?.source ?? ""] ?? {}, `volumes.${writer?.source}`);
  // A named volume starts root-owned; the control plane runs as uid 1000 (the images' USER).
  if (!/\buid=1000\b/.test(String(obj(volume.driver_opts ?? {}, "driver_opts").o)))
    problems.push(`volume ${writer?.source}: not owned by the control plane's uid 1000`);
  // It waits for Redis (it exits at start when Redis does not answer), which has a health check.
  if (obj(obj(rl.depends_on ?? {}, "depends_on").redis ?? {}, "redis").condition !== "service_healthy")
    problems.push("ratelimit: does not wait for redis to be healthy");
  const check = list(obj(redis.healthcheck ?? {}, "healthcheck").test).join(" ");
  if (!check.includes("redis-cli") || !check.includes("ping")) problems.push(`redis: health check ${check}`);
  return problems;
}

/** components/ratelimit as applied to the xds-server Deployment, in either rendering. */
function k8sRatelimitProblems(all: K8sObject[]): string[] {
  const problems: string[] = [];
  const get = (kind: string, name: string): K8sObject | undefined =>
    all.find((o) => o.kind === kind && o.metadata.name === name);
  const deployment = get("Deployment", "xds-server");
  if (!deployment) return ["no Deployment xds-server"];
  const pod = podTemplate(deployment);
  const cp = pod.spec.containers.find((c) => c.name === "xds-server");
  const rl = pod.spec.containers.find((c) => c.name === "ratelimit");
  if (!cp || !rl) return ["the xds-server pod has no ratelimit container"];
  const env = Object.fromEntries((rl.env ?? []).map((e) => [e.name, e.value]));
  const redisSvc = get("Service", "redis");
  const redisSvcPort = list(obj(redisSvc?.spec ?? {}, "redis").ports)[0] as Obj | undefined;
  problems.push(...ratelimitEnvProblems("xds-server/ratelimit", env, `redis:${String(redisSvcPort?.port)}`));
  if (rl.image !== ratelimitImage) problems.push(`ratelimit: image ${rl.image}; expected ${ratelimitImage}`);
  // The config file, through one emptyDir: written by the control plane, read by the service.
  const configFile = cp.env?.find((e) => e.name === "INFERENCEHUB_RATELIMIT_CONFIG")?.value ?? "";
  if (configFile !== ratelimitConfigFile)
    problems.push(`xds-server: INFERENCEHUB_RATELIMIT_CONFIG=${configFile}; expected ${ratelimitConfigFile}`);
  const writer = (cp.volumeMounts ?? []).find((m) => m.mountPath === parentDir(configFile)) as
    Obj | undefined;
  const reader = (rl.volumeMounts ?? []).find((m) => m.mountPath === ratelimitConfigDir(env)) as
    Obj | undefined;
  if (!writer || !reader || writer.name !== reader.name)
    problems.push(
      `the control plane's ${parentDir(configFile)} and the service's ${ratelimitConfigDir(env)} are not one volume`,
    );
  if (writer?.readOnly === true) problems.push("xds-server: the rate limit config folder is read-only");
  if (reader?.readOnly !== true) problems.push("ratelimit: its config folder is not read-only");
  const volume = (pod.spec.volumes ?? []).find((v) => v.name === writer?.name);
  if (!volume || !isObj(volume.emptyDir))
    problems.push(`volume ${String(writer?.name)}: not an emptyDir of the pod`);
  // Ports: the Service's gRPC reaches GRPC_PORT; readiness is /healthcheck on PORT.
  const containerPort = (c: Container, p: unknown): number | undefined =>
    (c.ports ?? []).find((q) => q.name === p || q.containerPort === p)?.containerPort;
  const svcPort = list(obj(get("Service", "ratelimit")?.spec ?? {}, "ratelimit").ports)[0] as Obj | undefined;
  if (
    Number(svcPort?.port) !== ratelimitGrpcPort ||
    containerPort(rl, svcPort?.targetPort) !== Number(env.GRPC_PORT)
  )
    problems.push(
      `Service ratelimit: ${String(svcPort?.port)} -> ${String(svcPort?.targetPort)} is not GRPC_PORT ${env.GRPC_PORT}`,
    );
  const ready = obj(rl.readinessProbe?.httpGet ?? {}, "readinessProbe.httpGet");
  if (ready.path !== "/healthcheck" || containerPort(rl, ready.port) !== Number(env.PORT))
    problems.push(
      `ratelimit: readiness ${String(ready.path)} on ${String(ready.port)}; expected /healthcheck on PORT ${env.PORT}`,
    );
  const redis = get("Deployment", "redis");
  const redisContainer = redis ? podTemplate(redis).spec.containers[0] : undefined;
  if (!redisContainer || containerPort(redisContainer, redisSvcPort?.targetPort) !== redisPort)
    problems.push(`Service redis does not reach Redis on ${redisPort}`);
  if (redisContainer && flag(redisContainer.args ?? [], "--port") !== String(redisPort))
    problems.push(`redis: --port is not ${redisPort}`);
  if (redisContainer && flag(redisContainer.args ?? [], "--protected-mode") !== "no")
    problems.push("redis: protected mode refuses clients from other pods (--protected-mode no)");
  return problems;
}

describe("the rate limit service (compose profile ratelimit, k8s components/ratelimit)", () => {
  it("compose: redis and ratelimit in the profile, unpublished, on internal networks, sharing the control plane's config volume", () => {
    assert.deepEqual(composeRatelimitProblems(compose), []);
    assert.deepEqual(publishedPorts(service("ratelimit")).concat(publishedPorts(service("redis"))), []);
    const nets = obj(compose.networks, "networks");
    for (const name of ["ratelimit", "redis"])
      for (const net of serviceNetworks(service(name)))
        assert.equal(obj(nets[net], net).internal, true, `${name}: ${net} is internal`);
    // Each check can fail: a moved mount, a writable reader, a different RUNTIME_SUBDIRECTORY,
    // the HTTP port on 8080, no profile, a root-owned volume.
    const broken = (
      edit: (f: { services: Record<string, Obj>; volumes: Record<string, Obj> }) => void,
    ): string[] => {
      const f = structuredClone(compose) as { services: Record<string, Obj>; volumes: Record<string, Obj> };
      edit(f);
      return composeRatelimitProblems(f);
    };
    const envOf = (f: { services: Record<string, Obj> }, name: string) =>
      f.services[name]?.environment as Obj;
    assert.deepEqual(
      broken((f) => {
        envOf(f, "ratelimit").RUNTIME_SUBDIRECTORY = "limits";
      }),
      [
        "ratelimit: nothing mounted at /var/lib/inferencehub/ratelimit/limits/config (RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY)",
        "ratelimit: undefined is not read-only",
      ],
    );
    assert.ok(
      broken((f) => {
        f.services.ratelimit!.volumes = ["ratelimit-config:/var/lib/inferencehub/ratelimit/ratelimit/config"];
      }).includes("ratelimit: ratelimit-config is not read-only"),
    );
    assert.ok(
      broken((f) => {
        envOf(f, "xds-server-b").INFERENCEHUB_RATELIMIT_CONFIG = "/tmp/config.yaml";
      }).includes(
        `xds-server-b: INFERENCEHUB_RATELIMIT_CONFIG=/tmp/config.yaml; expected ${ratelimitConfigFile}`,
      ),
    );
    assert.deepEqual(
      broken((f) => {
        envOf(f, "ratelimit").PORT = "8080";
      }),
      ["ratelimit: PORT=8080 (HTTP) must be its own port, not 8080"],
    );
    assert.deepEqual(
      broken((f) => {
        delete f.services.redis!.profiles;
      }),
      ["redis: not in the profile ratelimit alone"],
    );
    assert.deepEqual(
      broken((f) => {
        delete f.volumes["ratelimit-config"]!.driver_opts;
      }),
      ["volume ratelimit-config: not owned by the control plane's uid 1000"],
    );
    assert.deepEqual(
      broken((f) => {
        delete envOf(f, "ratelimit").RUNTIME_IGNOREDOTFILES;
      }),
      [
        "ratelimit: sets no RUNTIME_IGNOREDOTFILES",
        "ratelimit: RUNTIME_IGNOREDOTFILES=undefined; expected true",
      ],
    );
    assert.deepEqual(
      broken((f) => {
        f.services.redis!.command = ["redis-server", "--port", "6379"];
      }),
      ["redis: protected mode refuses clients from other containers (--protected-mode no)"],
    );
    // Published, or Redis on Envoy's network: the general checks catch both.
    const published = structuredClone(compose) as { services: Record<string, Obj> };
    published.services.ratelimit!.ports = ["8081:8081"];
    assert.deepEqual(composePortProblems(published), ["ratelimit publishes 8081; allowed: nothing"]);
    const shared = structuredClone(compose) as { services: Record<string, Obj> };
    shared.services.redis!.networks = ["redis", "ratelimit"];
    assert.ok(
      composeNetworkProblems(
        shared,
        composeConfig.nodes.map((n) => n.name),
      ).includes("redis shares a network with envoy, ratelimit; expected ratelimit"),
    );
  });

  it("offline: the override and build-images.sh give both services images built from package registries and setup's binary", () => {
    const offline = obj(
      obj(
        parseYaml(text(join(deployDir, "docker-compose.offline.yml")), { merge: true, logLevel: "error" }),
        "offline",
      ).services,
      "services",
    );
    const image = (name: string): string => String(obj(offline[name], name).image);
    assert.equal(image("redis"), "inferencehub/redis:debian");
    assert.equal(image("ratelimit"), `inferencehub/ratelimit:${ratelimitCommit}`);
    for (const name of ["redis", "ratelimit"]) assert.equal(obj(offline[name], name).pull_policy, "never");
    const script = text(join(deployDir, "offline/build-images.sh"));
    assert.match(
      script,
      /^debian_package_image inferencehub\/redis:debian deploy\/offline\/Dockerfile\.redis /m,
    );
    assert.match(script, /ratelimit_image="inferencehub\/ratelimit:\$ratelimit_commit"/);
    assert.match(script, /\.tools\/ratelimit\/bin\/service_cmd/);
    assert.match(script, /die "[^"]*missing: run \\`npm run setup\\` first/);
    // The image runs the command the compose file gives both images, and checks the HTTP port the
    // compose file sets (PORT) for /healthcheck.
    const dockerfile = text(join(deployDir, "offline/Dockerfile.ratelimit"));
    assert.deepEqual(list(service("ratelimit").command), ["/bin/ratelimit"]);
    assert.match(dockerfile, /^COPY ratelimit \/usr\/bin\/ratelimit$/m, "/bin is /usr/bin on bookworm");
    assert.match(
      dockerfile,
      /^HEALTHCHECK [^\n]*\\\n[^\n]*\/dev\/tcp\/127\.0\.0\.1\/\$\{PORT:-8080\}[^\n]*GET \/healthcheck /m,
    );
    // etcd: Debian's package, the image in the override for every member, built by the script;
    // the compose command (`etcd ...`) runs it (no ENTRYPOINT), as a user that owns the data folder.
    for (const name of etcdServices) {
      assert.equal(image(name), "inferencehub/etcd:debian", name);
      assert.equal(obj(offline[name], name).pull_policy, "never");
    }
    assert.match(
      script,
      /^debian_package_image inferencehub\/etcd:debian deploy\/offline\/Dockerfile\.etcd /m,
    );
    const etcdfile = text(join(deployDir, "offline/Dockerfile.etcd"));
    assert.doesNotMatch(etcdfile, /^ENTRYPOINT/m);
    assert.match(etcdfile, /apt-get install [^\n]*\betcd-server etcd-client\b/);
    assert.match(etcdfile, /^USER 65532:65532$/m);
    assert.match(etcdfile, /chown 65532:65532 \/var\/lib\/etcd\b/);
    for (const name of xdsServices) assert.equal(obj(offline[name], name).pull_policy, "never", name);
    // Redis: the compose command runs the image's redis-server (no ENTRYPOINT in the way).
    const redisfile = text(join(deployDir, "offline/Dockerfile.redis"));
    assert.doesNotMatch(redisfile, /^ENTRYPOINT/m);
    assert.equal(list(service("redis").command)[0], "redis-server");
  });

  it("the offline Dockerfiles pass hadolint", async () => {
    requireCheckTools();
    for (const file of ["Dockerfile.redis", "Dockerfile.ratelimit", "Dockerfile.etcd"]) {
      const result = await hadolint(text(join(deployDir, "offline", file)));
      assert.ok(result.ok, `${file}:\n${result.output}`);
    }
  });

  it("Kubernetes: the component puts the service beside the control plane, on one emptyDir, Redis behind its own policy", () => {
    assert.deepEqual(k8sRatelimitProblems(objects), []);
    const rlContainer = (all: K8sObject[]): Container => {
      const c = podTemplate(
        all.find((o) => o.kind === "Deployment" && o.metadata.name === "xds-server")!,
      ).spec.containers.find((x) => x.name === "ratelimit");
      assert.ok(c);
      return c;
    };
    const broken = (edit: (all: K8sObject[]) => void): string[] => {
      const all = structuredClone(objects);
      edit(all);
      return k8sRatelimitProblems(all);
    };
    assert.deepEqual(
      broken((all) => {
        const m = rlContainer(all).volumeMounts?.[0] as Obj;
        m.readOnly = false;
      }),
      ["ratelimit: its config folder is not read-only"],
    );
    assert.deepEqual(
      broken((all) => {
        const e = rlContainer(all).env?.find((x) => x.name === "RUNTIME_APPDIRECTORY");
        e!.value = "limits";
      }),
      [
        "the control plane's /var/lib/inferencehub/ratelimit/ratelimit/config and the service's /var/lib/inferencehub/ratelimit/ratelimit/limits are not one volume",
        "ratelimit: its config folder is not read-only",
      ],
    );
    assert.deepEqual(
      broken((all) => {
        const e = rlContainer(all).env?.find((x) => x.name === "GRPC_PORT");
        e!.value = "9090";
      }),
      [
        "xds-server/ratelimit: GRPC_PORT=9090; expected 8081",
        "Service ratelimit: 8081 -> rl-grpc is not GRPC_PORT 9090",
      ],
    );
    assert.deepEqual(
      broken((all) => {
        const svc = all.find((o) => o.kind === "Service" && o.metadata.name === "redis");
        (list(svc?.spec?.ports)[0] as Obj).port = 6380;
      }),
      ["xds-server/ratelimit: REDIS_URL=redis:6379; expected redis:6380"],
    );
    // Without the component's policy patch, Envoy cannot reach the service; Redis open to all is caught.
    const unpatched = structuredClone(objects);
    const policy = unpatched.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "xds-server");
    ((policy?.spec as unknown as PolicySpec).ingress ?? []).pop();
    assert.deepEqual(networkPolicyProblems(unpatched), [
      `xds-server:${ratelimitGrpcPort} reachable from []; expected [envoy]`,
    ]);
    const open = structuredClone(objects);
    const redisPolicy = open.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "redis");
    delete ((redisPolicy?.spec as unknown as PolicySpec).ingress ?? [])[0]?.from;
    assert.deepEqual(networkPolicyProblems(open), [
      `redis:${redisPort} reachable from [anywhere]; expected [xds-server]`,
    ]);
  });

  it("Kubernetes: kubectl kustomize with the component renders what the static patch gives, and passes the same checks", async (t) => {
    const kubectl = await run("kubectl", ["version", "--client"]).then(
      () => true,
      () => false,
    );
    if (!kubectl)
      return t.skip("kubectl is not installed here: the component's patches were applied by the test only");
    const overlay = await mkdtemp(join(tmpdir(), "inferencehub-kustomize-ratelimit-"));
    let stdout = "";
    try {
      await writeFile(
        join(overlay, "kustomization.yaml"),
        `resources: [${relative(overlay, k8sDir)}]\ncomponents: [${relative(overlay, join(k8sDir, "components/ratelimit"))}]\n`,
      );
      stdout = (await run("kubectl", ["kustomize", overlay], { maxBuffer: 16 << 20 })).stdout;
    } finally {
      await rm(overlay, { recursive: true, force: true });
    }
    const rendered = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
    assert.deepEqual(k8sRatelimitProblems(rendered), []);
    for (const version of kubernetesVersions)
      assert.deepEqual(
        rendered.flatMap((o) => k8sErrors(o, version).map((e) => `${o.kind}/${o.metadata.name}${e}`)),
        [],
      );
    // The test's own patching (which every other check here reads) gives kustomize's pod.
    const pod = (all: K8sObject[]): PodTemplate["spec"] => {
      const d = all.find((o) => o.kind === "Deployment" && o.metadata.name === "xds-server");
      assert.ok(d);
      const spec = structuredClone(podTemplate(d).spec);
      // The ConfigMap's name has kustomize's hash suffix there.
      spec.volumes = (spec.volumes ?? []).filter((v) => !isObj(v.configMap));
      return spec;
    };
    assert.deepEqual(pod(rendered), pod(objects));
    const policy = (all: K8sObject[]) =>
      all.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "xds-server")?.spec;
    assert.deepEqual(policy(rendered), policy(objects));
  });
});

// ---------------------------------------------------------------------------------------------
// The images' health check script

describe("deploy/docker/healthcheck.mjs", () => {
  const script = join(deployDir, "docker/healthcheck.mjs");
  const probe = (url: string) =>
    run(process.execPath, [script, url], { timeout: 10_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? "" }),
    );

  it("passes on SERVING and 2xx, fails on NOT_SERVING, unknown services, errors and closed ports", async () => {
    const server = new Server();
    server.addService(HealthService, {
      check: (
        call: { request: HealthCheckRequest },
        callback: (err: { code: number; details: string } | null, res?: { status: number }) => void,
      ) => {
        const service = call.request.service;
        if (service === "" || service === "up")
          callback(null, { status: HealthCheckResponse_ServingStatus.SERVING });
        else if (service === "down")
          callback(null, { status: HealthCheckResponse_ServingStatus.NOT_SERVING });
        else callback({ code: grpcStatus.NOT_FOUND, details: "unknown service" });
      },
      watch: () => undefined,
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    const http = createServer((req, res) => res.writeHead(req.url === "/healthz" ? 200 : 503).end());
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const httpPort = (http.address() as AddressInfo).port;
    const [closed] = await freePorts(1);
    try {
      // Independent probes, run side by side: each is a Node process.
      const [serving, up, down, unknown, refused, ok, failing, httpRefused] = await Promise.all([
        probe(`grpc://127.0.0.1:${grpcPort}`),
        probe(`grpc://127.0.0.1:${grpcPort}/up`),
        probe(`grpc://127.0.0.1:${grpcPort}/down`),
        probe(`grpc://127.0.0.1:${grpcPort}/nope`),
        probe(`grpc://127.0.0.1:${closed}`),
        probe(`http://127.0.0.1:${httpPort}/healthz`),
        probe(`http://127.0.0.1:${httpPort}/other`),
        probe(`http://127.0.0.1:${closed}/healthz`),
      ]);
      assert.equal(serving.code, 0, serving.stderr);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /health status 2/);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /gRPC status 5 unknown service/);
      assert.equal(refused.code, 1);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(failing.code, 1);
      assert.match(failing.stderr, /HTTP 503/);
      assert.equal(httpRefused.code, 1);
    } finally {
      server.forceShutdown();
      http.close();
    }
  });
});
