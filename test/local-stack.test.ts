/**
 * The README's main command as a new user runs it: the stack comes up, the call it prints
 * works (through ext-authz, with the key it prints), Ctrl-C stops every process it started, and
 * a second start after the runner was killed with -9 works. A component that crashes is started
 * again. Ports are moved off the defaults so the test can run beside a developer's own stack.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { createInferClient } from "../scripts/lib/infer-client.js";
import { outputLines } from "../scripts/lib/output-lines.js";
import { repoRoot } from "../scripts/lib/paths.js";
import { freePorts } from "../scripts/lib/ports.js";
import { etcdUnavailableReason } from "../scripts/lib/etcd-process.js";
import { Client } from "../sdk/typescript/src/index.js";
import { eventually, grpcCall } from "./lib/assertions.js";

const run = promisify(execFile);

interface Stack {
  process: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  /** Resolves with the first output line from `from` on (seen or to come) that matches. */
  waitForLine(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
}

describe("npm start (the local stack)", () => {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  let ports: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferencehub-stack-"));
    ports = await freePorts(11);
    const [data, node1, node2, ads, xdsAdmin, envoyAdmin, authz, rest1, rest2, ads2, xdsAdmin2] = ports;
    const yaml = (await readFile(join(repoRoot, "inferencehub.yaml"), "utf8"))
      .replace("port: 8080", `port: ${data}`)
      .replace("127.0.0.1:9001", `127.0.0.1:${node1}`)
      .replace("127.0.0.1:9002", `127.0.0.1:${node2}`)
      .replace("restPort: 8001", `restPort: ${rest1}`)
      .replace("restPort: 8002", `restPort: ${rest2}`)
      .replace("127.0.0.1:19000", `127.0.0.1:${authz}`)
      .replace(
        'controlPlane: { address: "127.0.0.1:18000" }',
        `controlPlane: { address: "127.0.0.1:${ads}" }`,
      );
    await writeFile(join(dir, "inferencehub.yaml"), yaml);
    env = {
      ...process.env,
      INFERENCEHUB_CONFIG: join(dir, "inferencehub.yaml"),
      ADS_PORT: String(ads),
      XDS_ADMIN_PORT: String(xdsAdmin),
      ENVOY_ADMIN_PORT: String(envoyAdmin),
      ADS_PORT_2: String(ads2),
      XDS_ADMIN_PORT_2: String(xdsAdmin2),
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const start = async (args: string[] = []): Promise<Stack> => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "scripts/local-stack.ts"), ...args],
      {
        cwd: repoRoot,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    // Every line kept: the tests read the banner and count lines from marks.
    const lines = outputLines("the local stack", Number.MAX_SAFE_INTEGER);
    const { logs: output, record } = lines;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    createInterface({ input: child.stderr! }).on("line", record);
    const waitForLine = (pattern: RegExp, from = 0, timeoutMs = 60_000) =>
      lines.waitForLine(pattern, timeoutMs, from);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stack not up in 60 s:\n${output.join("\n")}`)),
        60_000,
      );
      createInterface({ input: child.stdout! }).on("line", (line) => {
        record(line);
        if (line.includes("Ctrl-C stops everything")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`stack exited (${code}):\n${output.join("\n")}`)));
    });
    return { process: child, output, exited, waitForLine };
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
    // The REST call it prints (curl, two lines), as pasted: the JSON answer of a version of scale.
    const at = stack.output.findIndex((l) => l.trim().startsWith("curl "));
    assert.ok(at >= 0, "the banner prints a REST call");
    assert.match(stack.output[at] ?? "", /\\$/, "the curl call goes on on the next line");
    const curl = `${stack.output[at]?.trim()}\n${stack.output[at + 1]?.trim()}`;
    const rest = await run("bash", ["-c", `${key.trim()}; ${curl} --fail-with-body --silent`], {
      cwd: repoRoot,
    });
    const answer = JSON.parse(rest.stdout) as { model_name: string; model_version: string };
    assert.equal(answer.model_name, "scale");
    assert.ok(["1", "2"].includes(answer.model_version), rest.stdout);
    // The SDK with the printed key (Envoy verifies it: native mode): the models the tenant may call.
    const sdk = new Client(`127.0.0.1:${ports[0]}`, {
      apiKey: key.trim().slice(key.trim().indexOf("=") + 1),
    });
    try {
      const models = await sdk.models();
      for (const name of ["mlp", "scale"])
        assert.ok(
          models.some((m) => m.name === name && m.state === "READY"),
          name,
        );
      // And over REST, the same list.
      const rest = await fetch(`http://127.0.0.1:${ports[0]}/v2/repository/index`, {
        method: "POST",
        headers: { authorization: `Bearer ${key.trim().slice(key.trim().indexOf("=") + 1)}` },
      });
      assert.equal(rest.status, 200);
      assert.deepEqual(
        ((await rest.json()) as { name: string }[]).map((m) => m.name),
        models.map((m) => m.name),
      );
    } finally {
      sdk.close();
    }
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

  test("Envoy verifies the printed key itself; with auth.rateLimitService the stack runs Redis and envoyproxy/ratelimit, and the tenant's limit holds", async () => {
    // The same file with a limit for the tenant and the rate limit service on a free port.
    const [limitsPort] = await freePorts(1);
    const limited = join(dir, "limited.yaml");
    const yaml = (await readFile(env.INFERENCEHUB_CONFIG!, "utf8"))
      .replace("  apiKeys:", `  rateLimitService: { address: "127.0.0.1:${limitsPort}" }\n  apiKeys:`)
      .replace(
        '      models: ["*"]',
        '      models: ["*"]\n      rateLimit: { callsPerSecond: 0.001, burst: 4 }',
      );
    assert.match(yaml, /rateLimitService/);
    assert.match(yaml, /rateLimit: \{ callsPerSecond/);
    await writeFile(limited, yaml);
    const saved = env;
    env = { ...env, INFERENCEHUB_CONFIG: limited };
    // 4 calls an hour (the service's window): no run may cross the hour.
    const left = 3_600_000 - (Date.now() % 3_600_000);
    if (left < 60_000) await new Promise((r) => setTimeout(r, left + 1_000));
    const stack = await start();
    try {
      assert.ok(
        stack.output.some((l) => /rate limit service started \(pid \d+\)/.test(l)),
        stack.output.join("\n"),
      );
      const status = (await (await fetch(`http://127.0.0.1:${env.XDS_ADMIN_PORT}/status`)).json()) as {
        auth?: { mode: string; rateLimits: string; verifiedByEnvoy: string[]; keys: number };
      };
      assert.deepEqual(status.auth, {
        mode: "native",
        rateLimits: "global",
        verifiedByEnvoy: ["api-keys"],
        keys: 1,
      });
      // hubctl status says it too, as the banner has an operator run it.
      const operator = stack.output.find((l) => l.trim().startsWith("export INFERENCEHUB_ADMIN_TOKEN="));
      assert.ok(operator);
      const { stdout: hubctl } = await run("bash", ["-c", `${operator.trim()}; hubctl/bin/hubctl status`], {
        cwd: repoRoot,
      });
      assert.match(
        hubctl,
        /auth: native \(Envoy verifies: api-keys; 1 signed key\(s\)\); rate limits: global \(the rate limit service, shared by every Envoy\)/,
      );
      const key = stack.output.find((l) => l.trim().startsWith("export INFERENCEHUB_API_KEY="));
      const call = stack.output.find((l) => l.trim().startsWith("npx tsx scripts/infer.ts"));
      assert.ok(key && call);
      assert.match(key, /=ey[\w-]+\.[\w-]+\.[\w-]+$/, "a gateway-signed key");
      const once = () => run("bash", ["-c", `${key.trim()}; ${call.trim()}`], { cwd: repoRoot });
      for (let i = 0; i < 4; i++) await once();
      await assert.rejects(once(), /RESOURCE_EXHAUSTED.*tenant 'local' is over its rate limit/s);
      // An edit of the limit reaches the service through the control plane (8 an hour now) without
      // a restart: the next call that succeeds is the event, within seconds.
      await writeFile(limited, yaml.replace("callsPerSecond: 0.001", "callsPerSecond: 0.002"));
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await once();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      // (The service counts refused calls too, so how many more pass depends on those refused while
      // it reloaded: that the limit moved is what this shows.)
    } finally {
      stack.process.kill("SIGINT");
      env = saved;
    }
    assert.equal(await stack.exited, 0, stack.output.slice(-10).join("\n"));
    await assert.rejects(fetch(`http://127.0.0.1:${limitsPort}/`), "the rate limit service is stopped");
  });

  test("--ha: 3 etcd members and 2 control planes; the printed call works, a hubctl edit reaches both replicas, one killed with -9 costs no call", async (t) => {
    if (etcdUnavailableReason() && process.env.INFERENCEHUB_REQUIRE_ETCD !== "1") {
      t.skip(etcdUnavailableReason()!);
      return;
    }
    const stack = await start(["--ha"]);
    const admins = [env.XDS_ADMIN_PORT, env.XDS_ADMIN_PORT_2];
    const statusOf = async (port: string | undefined) =>
      (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
        configStore: { kind: string };
        configVersion: string;
        clients: { nodeId: string }[];
      };
    try {
      assert.ok(
        stack.output.some((l) => /2 control plane replicas .* on 3 etcd members/.test(l)),
        stack.output.join("\n"),
      );
      await printedCallWorks(stack);
      const operator = stack.output.find((l) => l.trim().startsWith("export INFERENCEHUB_ADMIN_TOKEN="));
      assert.ok(operator);
      const { stdout } = await run(
        "bash",
        ["-c", `${operator.trim()}; hubctl/bin/hubctl weights scale 1=0 2=100 3=0`],
        { cwd: repoRoot },
      );
      const version = /config version ([0-9]+)/.exec(stdout)?.[1];
      assert.ok(version, stdout);
      // The other replica follows through etcd.
      await eventually(async () => {
        const all = await Promise.all(admins.map(statusOf));
        return all.every((s) => s.configStore.kind === "etcd" && s.configVersion === version);
      }, "both replicas at the edit's version");
      // The replica Envoy streams from, killed: calls go on through the other, then it comes back.
      const holder = (await statusOf(admins[0])).clients.some((c) => c.nodeId === "local-gateway") ? 1 : 2;
      const started = stack.output.find((l) =>
        new RegExp(`control plane ${holder} started \\(pid \\d+\\)`).test(l),
      );
      const pid = Number(/\(pid (\d+)\)/.exec(started ?? "")?.[1]);
      assert.ok(pid > 0, stack.output.join("\n"));
      const mark = stack.output.length;
      process.kill(pid, "SIGKILL");
      await printedCallWorks(stack);
      await stack.waitForLine(new RegExp(`control plane ${holder} restarted \\(pid \\d+\\)`), mark);
      await eventually(
        async () => (await statusOf(admins[holder - 1])).configVersion === version,
        "the restarted replica reads the edit from etcd",
      );
    } finally {
      stack.process.kill("SIGINT");
    }
    assert.equal(await stack.exited, 0, stack.output.slice(-10).join("\n"));
    for (const port of admins)
      await assert.rejects(fetch(`http://127.0.0.1:${port}/status`), `port ${port} is closed`);
  });

  test("every node requires this run's repository token, kept in a 0600 file while the stack runs (issue #10 finding 1)", async () => {
    const stack = await start();
    const tokenFile = join(repoRoot, ".cache", `local-stack-${env.ADS_PORT}`, "repository-token");
    try {
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
      const token = (await readFile(tokenFile, "utf8")).trim();
      assert.ok(token.length >= 32, "a random token");
      for (const port of [ports[1], ports[2]]) {
        const client = createInferClient(`127.0.0.1:${port}`);
        try {
          const operator = new Metadata();
          operator.set("x-inferencehub-repository-token", token);
          const index = await grpcCall(
            client.raw,
            "repositoryIndex",
            { repositoryName: "", ready: true },
            operator,
          );
          assert.ok(index.models.length > 0);
          await assert.rejects(
            grpcCall(client.raw, "repositoryIndex", { repositoryName: "", ready: true }),
            (err: ServiceError) => err.code === status.PERMISSION_DENIED,
          );
        } finally {
          client.close();
        }
      }
    } finally {
      stack.process.kill("SIGINT");
    }
    assert.equal(await stack.exited, 0);
    assert.ok(!existsSync(tokenFile), "the token goes with the run");
  });

  test("a component that crashes is started again: ext-authz killed with -9 comes back and calls work again (issue #10 finding 5)", async () => {
    const stack = await start();
    try {
      const started = await stack.waitForLine(/ext-authz started \(pid \d+\)/);
      const pid = Number(/\(pid (\d+)\)/.exec(started)?.[1]);
      await printedCallWorks(stack);
      const mark = stack.output.length;
      process.kill(pid, "SIGKILL");
      await stack.waitForLine(
        new RegExp(`ext-authz \\(pid ${pid}\\) was killed by SIGKILL after .*; restarting in 500 ms`),
        mark,
      );
      const back = await stack.waitForLine(/ext-authz restarted \(pid \d+\), restart 1/, mark);
      assert.notEqual(Number(/\(pid (\d+)\)/.exec(back)?.[1]), pid);
      // Envoy opens a new connection to ext-authz on the next check; until then a call may fail.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await printedCallWorks(stack);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
    } finally {
      stack.process.kill("SIGINT");
    }
    assert.equal(
      await stack.exited,
      0,
      `Ctrl-C ends the stack cleanly:\n${stack.output.slice(-10).join("\n")}`,
    );
    const stopping = stack.output.findIndex((l) => l.includes("stopping"));
    assert.ok(stopping >= 0);
    assert.deepEqual(
      stack.output.slice(stopping).filter((l) => /restart/.test(l)),
      [],
      "Ctrl-C restarts nothing",
    );
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
