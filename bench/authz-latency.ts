/**
 * What authorization costs a ModelInfer call: one reference node behind two real Envoys steered by
 * two control planes, one config without `auth` and one with it (ext-authz, an API key, a JWT),
 * called with ghz in interleaved rounds of the same run. Four paths:
 *   no-authz       the model header, no ext_authz filter (the baseline)
 *   key+header     an API key, the model header: ext-authz checks headers only
 *   jwt+header     an ES256 JWT, the model header: one signature verification per call
 *   key+body       an API key, no model header: ext-authz reads the model name from the body's
 *                  first bytes and Envoy chooses the route again
 *
 * Beside the latency, the CPU each call costs: the user + system time (/proc/<pid>/stat) that the
 * Envoy serving the path, ext-authz and the node used over the measured rounds (not the warm-up),
 * divided by the calls of those rounds, in µs. The node's figure is the inference itself (and its
 * gRPC server), the yardstick for the gateway's. Before the rounds, 3 s with no calls give each
 * process's idle CPU (ms per second), to read the per-call figures against.
 *
 *   npx tsx bench/authz-latency.ts            # 4 rounds x 3000 calls, 16 in flight, 1 connection
 *   BENCH_CALLS=10000 BENCH_CONCURRENCY=32 BENCH_ROUNDS=6 npx tsx bench/authz-latency.ts
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { stringify } from "yaml";
import { hashApiKey } from "../ext-authz/src/index.js";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { startExtAuthzProcess, type ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePorts } from "../scripts/lib/ports.js";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { addCpu, cpuDelta, cpuSnapshot, usPerCall, type CpuSnapshot } from "./lib/cpu-per-call.js";
import { ensureGhz, runGhz, type GhzResult } from "./lib/ghz.js";

const calls = Number(process.env.BENCH_CALLS ?? 3000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const idleMs = 3000;

const data = {
  model_name: "mlp",
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }],
};
const apiKey = "ihk_bench-key";
const issuer = "https://idp.bench";
const audience = "inferencehub";

const signed = (ms: number) => `${ms >= 0 ? "+" : ""}${ms.toFixed(3)}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function config(nodeAddress: string, listenPort: number, extAuthzPort?: number): string {
  return stringify({
    listener: { address: "127.0.0.1", port: listenPort },
    nodes: [{ name: "bench-node", address: nodeAddress }],
    models: [{ name: "mlp", versions: [{ version: "1", nodes: ["bench-node"] }] }],
    ...(extAuthzPort === undefined
      ? {}
      : {
          auth: {
            extAuthz: { address: `127.0.0.1:${extAuthzPort}` },
            keysFile: "keys.yaml",
            jwt: { jwksFile: "jwks.json", issuer, audience },
            tenants: [{ name: "bench", models: ["mlp"] }],
          },
        }),
  });
}

async function main(): Promise<void> {
  const ghz = await ensureGhz();
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-bench-authz-"));
  const stops: (() => Promise<void>)[] = [];
  const results = new Map<string, GhzResult[]>();
  /** CPU ms over the measured rounds, per path: the path's Envoy, ext-authz and the node. */
  const cpu = new Map<string, CpuSnapshot>();
  let idle = "";
  try {
    const node: NodeProcess = await startNode({
      name: "bench-node",
      models: ["mlp"],
      args: ["--max-queue", "1024"],
    });
    stops.push(() => node.stop());
    const [plainPort, authzPort, extAuthzPort] = (await freePorts(3)) as [number, number, number];

    const pair = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "bench", alg: "ES256" };
    await writeFile(join(dir, "jwks.json"), JSON.stringify({ keys: [jwk] }));
    await writeFile(
      join(dir, "keys.yaml"),
      stringify({ keys: [{ id: "bench", tenant: "bench", sha256: hashApiKey(apiKey) }] }),
    );
    const token = await new SignJWT({ tenant: "bench" })
      .setProtectedHeader({ alg: "ES256", kid: "bench" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime("2h")
      .sign(pair.privateKey);
    await writeFile(join(dir, "plain.yaml"), config(node.address, plainPort));
    await writeFile(join(dir, "authz.yaml"), config(node.address, authzPort, extAuthzPort));

    const authz: ExtAuthzProcess = await startExtAuthzProcess({
      configPath: join(dir, "authz.yaml"),
      port: extAuthzPort,
      env: { LOG_LEVEL: "warn" },
    });
    stops.push(() => authz.stop());
    const gateway = async (name: string, file: string): Promise<EnvoyProcess> => {
      const xds: XdsProcess = await startXdsServer({
        configPath: join(dir, file),
        env: { LOG_LEVEL: "warn" },
      });
      stops.push(() => xds.stop());
      const envoy = await startEnvoy({
        name,
        bootstrap: renderBootstrap("bootstrap-ads.template.yaml", {
          NODE_ID: name,
          NODE_CLUSTER: "bench",
          ADMIN_PORT: 0,
          XDS_HOST: "127.0.0.1",
          XDS_PORT: xds.adsPort,
          ADS_API_TYPE: "GRPC",
        }),
      });
      stops.push(() => envoy.stop());
      await xds.waitForSync(name);
      return envoy;
    };
    const plainEnvoy = await gateway("plain", "plain.yaml");
    const authzEnvoy = await gateway("authz", "authz.yaml");
    const pid = (p: { pid?: number | undefined }, what: string) => {
      if (p.pid === undefined) throw new Error(`${what} has no pid`);
      return p.pid;
    };
    const processes = (envoy: EnvoyProcess) => ({
      envoy: envoy.pid,
      "ext-authz": pid(authz.process, "ext-authz"),
      node: pid(node.process, "the node"),
    });

    const paths = {
      "no-authz": { target: `127.0.0.1:${plainPort}`, metadata: { "inferencehub-model": "mlp" } },
      "key+header": {
        target: `127.0.0.1:${authzPort}`,
        metadata: { "inferencehub-model": "mlp", authorization: `Bearer ${apiKey}` },
      },
      "jwt+header": {
        target: `127.0.0.1:${authzPort}`,
        metadata: { "inferencehub-model": "mlp", authorization: `Bearer ${token}` },
      },
      "key+body": { target: `127.0.0.1:${authzPort}`, metadata: { authorization: `Bearer ${apiKey}` } },
    } as const;
    // The processes whose CPU each path's calls are charged to (ext-authz idles on no-authz).
    const pids: Record<keyof typeof paths, Record<string, number>> = {
      "no-authz": processes(plainEnvoy),
      "key+header": processes(authzEnvoy),
      "jwt+header": processes(authzEnvoy),
      "key+body": processes(authzEnvoy),
    };
    for (const path of Object.values(paths)) {
      const warm = await runGhz(ghz, { ...path, total: 500, concurrency, data });
      if (warm.errors > 0) throw new Error(`warm-up to ${path.target} failed ${warm.errors} calls`);
    }
    // What each process spends with no calls at all (stats flushes, health probes, timers): over
    // a measured round that is (ms/s) / (calls/s) of its µs per call.
    const all = {
      "envoy (no-authz)": plainEnvoy.pid,
      "envoy (authz)": authzEnvoy.pid,
      "ext-authz": pids["key+header"]["ext-authz"]!,
      node: pids["key+header"].node!,
    };
    const idleStart = cpuSnapshot(all);
    const idleFrom = performance.now();
    await sleep(idleMs);
    const idleUsed = cpuDelta(idleStart, cpuSnapshot(all));
    const idleS = (performance.now() - idleFrom) / 1000;
    idle = Object.entries(idleUsed)
      .map(([proc, ms]) => `${proc} ${(ms / idleS).toFixed(1)}`)
      .join(", ");
    console.error(`idle ${idleS.toFixed(1)} s, CPU ms/s: ${idle}`);
    // Interleaved rounds, so drift on a shared machine hits every path alike.
    for (let r = 0; r < rounds; r++) {
      for (const [name, path] of Object.entries(paths)) {
        const before = cpuSnapshot(pids[name as keyof typeof paths]);
        const res = await runGhz(ghz, { ...path, total: calls, concurrency, data });
        const used = cpuDelta(before, cpuSnapshot(pids[name as keyof typeof paths]));
        cpu.set(name, addCpu(cpu.get(name) ?? {}, used));
        results.set(name, [...(results.get(name) ?? []), res]);
        const perCall = Object.entries(used)
          .map(([proc, ms]) => `${proc} ${usPerCall(ms, res.count).toFixed(0)}`)
          .join(" ");
        console.error(
          `round ${r + 1}/${rounds} ${name.padEnd(10)} p50 ${res.p50Ms.toFixed(3)} ms  p99 ${res.p99Ms.toFixed(3)} ms  ${res.rps.toFixed(0)} calls/s  errors ${res.errors}  CPU µs/call: ${perCall}`,
        );
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  const summary = (name: string) => {
    const rs = results.get(name) ?? [];
    return {
      p50: median(rs.map((r) => r.p50Ms)),
      p99: median(rs.map((r) => r.p99Ms)),
      rps: median(rs.map((r) => r.rps)),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      count: rs.reduce((n, r) => n + r.count, 0),
    };
  };
  const base = summary("no-authz");
  console.log(
    `\nModelInfer mlp [1,4] FP32, ${rounds} rounds x ${calls} calls, ${concurrency} in flight, medians of rounds`,
  );
  console.log("| path | p50 ms | p99 ms | calls/s | p50 / no-authz | p99 / no-authz | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  let errors = 0;
  for (const name of results.keys()) {
    const s = summary(name);
    errors += s.errors;
    console.log(
      `| ${name} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.rps.toFixed(0)} | ${(s.p50 / base.p50).toFixed(2)} | ${(s.p99 / base.p99).toFixed(2)} | ${s.errors} |`,
    );
  }
  // CPU: the sum over the rounds divided by the calls of the rounds (clock ticks are coarse, so a
  // per-round median would be noisier than the total).
  const cpuUs = (name: string) => {
    const used = cpu.get(name) ?? {};
    const n = summary(name).count;
    const envoy = usPerCall(used.envoy ?? NaN, n);
    const extAuthz = usPerCall(used["ext-authz"] ?? NaN, n);
    return { envoy, extAuthz, gateway: envoy + extAuthz, node: usPerCall(used.node ?? NaN, n) };
  };
  const baseCpu = cpuUs("no-authz");
  console.log(
    `\nCPU per call (user + system from /proc over the ${rounds} measured rounds, divided by their calls), µs`,
  );
  console.log(
    "| path | Envoy µs | ext-authz µs | Envoy + ext-authz µs | node µs | gateway / node | gateway / no-authz gateway |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const name of results.keys()) {
    const c = cpuUs(name);
    console.log(
      `| ${name} | ${c.envoy.toFixed(0)} | ${c.extAuthz.toFixed(0)} | ${c.gateway.toFixed(0)} | ${c.node.toFixed(0)} | ${(c.gateway / c.node).toFixed(2)} | ${(c.gateway / baseCpu.gateway).toFixed(2)} |`,
    );
  }
  console.log(`idle, before the rounds (CPU ms per second, no calls): ${idle}`);
  const header = summary("key+header");
  const body = summary("key+body");
  console.log(
    `\nreading the model from the body (key+body - key+header): p50 ${signed(body.p50 - header.p50)} ms, p99 ${signed(body.p99 - header.p99)} ms`,
  );
  if (errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
