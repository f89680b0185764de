/**
 * What authorization costs a ModelInfer call: one reference node behind three real Envoys, each
 * steered by its own control plane, in interleaved rounds of the same run (ghz):
 *   - a config without `auth` (the baseline);
 *   - `auth.mode: ext-authz`: every call goes through ext_authz to the ext-authz process;
 *   - `auth.mode: native` with `auth.apiKeys`: Envoy verifies JWTs and gateway-signed API keys
 *     itself (jwt_authn, rbac), and ext_authz runs only for what it did not allow (#16).
 * Each auth gateway has its own ext-authz process (the two configs differ in mode). Paths:
 *   no-authz            the model header, no auth at all (the baseline)
 *   key+header          ext-authz mode: a random `ihk_` key, the model header: ext-authz checks headers
 *   jwt+header          ext-authz mode: an ES256 JWT, the model header: ext-authz verifies it
 *   key+body            ext-authz mode: the random key, no model header: ext-authz reads the model
 *                       name from the body's first bytes and Envoy chooses the route again
 *   native key+header   native mode: a gateway-signed key, the model header: Envoy alone
 *   native jwt+header   native mode: the JWT, the model header: Envoy alone
 *   native key+body     native mode: the signed key, no model header: Envoy reads the model from
 *                       the first message itself
 *   native ihk+header   native mode: a random `ihk_` key, the model header: Envoy cannot verify it,
 *                       so ext-authz does (the slow path, for contrast)
 *
 * Latency: p50, p99 and calls/s, medians of the rounds; against no-authz as the median over rounds
 * of each round's ratio and difference to that round's no-authz. Beside it, the CPU each call
 * costs: the user + system time (/proc/<pid>/stat) that the Envoy serving the path, that gateway's
 * ext-authz and the node used over the measured rounds (not the warm-up), divided by the calls of
 * those rounds, in µs; and the ext_authz checks per call from that Envoy's counters (ok, denied,
 * error): 0 on a native path means Envoy decided every call itself. The node's figure is the
 * inference itself (and its gRPC server), the yardstick for the gateway's. Before the rounds, 3 s
 * with no calls give each process's idle CPU (ms per second), to read the per-call figures against.
 *
 *   npx tsx bench/authz-latency.ts            # 4 rounds x 3000 calls, 16 in flight, 1 connection
 *   BENCH_CONCURRENCY=1 BENCH_CALLS=2000 npx tsx bench/authz-latency.ts   # the added latency itself
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createSigningKey, issueSignedApiKey } from "@inferencehub/contracts/signed-keys";
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
const keysIssuer = "inferencehub-keys";
/** #16's targets for native key and JWT calls, against no-authz: p50 and p99, ms. */
const target = { p50: 0.2, p99: 1 };

const signed = (ms: number) => `${ms >= 0 ? "+" : ""}${ms.toFixed(3)}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

type Mode = "ext-authz" | "native";

function config(
  nodeAddress: string,
  listenPort: number,
  auth?: { mode: Mode; extAuthzPort: number },
): string {
  return stringify({
    listener: { address: "127.0.0.1", port: listenPort },
    nodes: [{ name: "bench-node", address: nodeAddress }],
    models: [{ name: "mlp", versions: [{ version: "1", nodes: ["bench-node"] }] }],
    ...(auth === undefined
      ? {}
      : {
          auth: {
            mode: auth.mode,
            extAuthz: { address: `127.0.0.1:${auth.extAuthzPort}` },
            keysFile: "keys.yaml",
            ...(auth.mode === "native" ? { apiKeys: { jwksFile: "gateway-keys.jwks.json" } } : {}),
            jwt: { jwksFile: "jwks.json", issuer, audience },
            tenants: [{ name: "bench", models: ["mlp"] }],
          },
        }),
  });
}

/** ext_authz checks an Envoy has made so far (allowed, denied, failed). */
async function extAuthzChecks(envoy: EnvoyProcess): Promise<number> {
  const stats = await envoy.stats("ext_authz");
  return (
    Object.entries(stats)
      // The HTTP connection manager's counters only: Envoy counts each check again per upstream
      // cluster (cluster.<name>.ext_authz.ok).
      .filter(([name]) => /^http\.[^.]+\.ext_authz\.(ok|denied|error)$/.test(name))
      .reduce((n, [, v]) => n + v, 0)
  );
}

async function main(): Promise<void> {
  const ghz = await ensureGhz();
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-bench-authz-"));
  const stops: (() => Promise<void>)[] = [];
  const results = new Map<string, GhzResult[]>();
  /** CPU ms over the measured rounds, per path: the path's Envoy, its ext-authz and the node. */
  const cpu = new Map<string, CpuSnapshot>();
  /** ext_authz checks the path's Envoy made over the measured rounds. */
  const checks = new Map<string, number>();
  let idle = "";
  try {
    const node: NodeProcess = await startNode({
      name: "bench-node",
      models: ["mlp"],
      args: ["--max-queue", "1024"],
    });
    stops.push(() => node.stop());
    const [plainPort, extPort, nativePort, extAuthzExtPort, extAuthzNativePort] = (await freePorts(5)) as [
      number,
      number,
      number,
      number,
      number,
    ];

    // The identity provider's JWKS, and the gateway's signing key (its public half for Envoy).
    const pair = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "bench", alg: "ES256" };
    await writeFile(join(dir, "jwks.json"), JSON.stringify({ keys: [jwk] }));
    const signingKey = await createSigningKey("bench");
    await writeFile(join(dir, "gateway-keys.jwks.json"), JSON.stringify(signingKey.publicJwks));
    const signedKey = await issueSignedApiKey({
      privateJwk: signingKey.privateJwk,
      issuer: keysIssuer,
      id: "bench",
      tenant: "bench",
    });
    // One keys file for both auth configs: the gateway-signed key and a random one.
    await writeFile(
      join(dir, "keys.yaml"),
      stringify({
        keys: [
          { id: "bench", tenant: "bench", sha256: hashApiKey(signedKey) },
          { id: "bench-ihk", tenant: "bench", sha256: hashApiKey(apiKey) },
        ],
      }),
    );
    const token = await new SignJWT({ tenant: "bench" })
      .setProtectedHeader({ alg: "ES256", kid: "bench" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime("2h")
      .sign(pair.privateKey);
    await writeFile(join(dir, "plain.yaml"), config(node.address, plainPort));
    await writeFile(
      join(dir, "ext-authz.yaml"),
      config(node.address, extPort, { mode: "ext-authz", extAuthzPort: extAuthzExtPort }),
    );
    await writeFile(
      join(dir, "native.yaml"),
      config(node.address, nativePort, { mode: "native", extAuthzPort: extAuthzNativePort }),
    );

    const extAuthz = async (file: string, port: number): Promise<ExtAuthzProcess> => {
      const p = await startExtAuthzProcess({ configPath: join(dir, file), port, env: { LOG_LEVEL: "warn" } });
      stops.push(() => p.stop());
      return p;
    };
    const authzExt = await extAuthz("ext-authz.yaml", extAuthzExtPort);
    const authzNative = await extAuthz("native.yaml", extAuthzNativePort);
    const gateway = async (name: string, file: string, native = false): Promise<EnvoyProcess> => {
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
      // Native mode: until the control plane has read the IdP's JWKS, the gateway's public key and
      // the keys file (both entries), and then until Envoy has ACKed what it pushed from them.
      if (native) {
        await xds.waitFor(
          (s) =>
            s.auth?.mode === "native" &&
            s.auth.verifiedByEnvoy.includes("jwt") &&
            s.auth.verifiedByEnvoy.includes("api-keys") &&
            s.auth.keys === 2,
          "the control plane to read the auth files (JWKS, gateway keys, 2 keys)",
        );
      }
      await xds.waitForSync(name);
      return envoy;
    };
    const plainEnvoy = await gateway("plain", "plain.yaml");
    const extEnvoy = await gateway("ext-authz", "ext-authz.yaml");
    const nativeEnvoy = await gateway("native", "native.yaml", true);
    const pid = (p: { pid?: number | undefined }, what: string) => {
      if (p.pid === undefined) throw new Error(`${what} has no pid`);
      return p.pid;
    };
    const nodePid = pid(node.process, "the node");
    const extAuthzExtPid = pid(authzExt.process, "ext-authz (ext-authz mode)");
    const extAuthzNativePid = pid(authzNative.process, "ext-authz (native mode)");

    const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
    const model = { "inferencehub-model": "mlp" };
    // Each path: its target, metadata, the Envoy serving it and the ext-authz its calls are charged
    // to (on no-authz the ext-authz-mode one, which serves nothing there: its idle background).
    const at = (port: number) => `127.0.0.1:${port}`;
    const ext = { envoy: extEnvoy, extAuthz: extAuthzExtPid };
    const native = { envoy: nativeEnvoy, extAuthz: extAuthzNativePid };
    const paths: Record<
      string,
      { target: string; metadata: Record<string, string>; envoy: EnvoyProcess; extAuthz: number }
    > = {
      "no-authz": { target: at(plainPort), metadata: model, envoy: plainEnvoy, extAuthz: extAuthzExtPid },
      "key+header": { target: at(extPort), metadata: { ...model, ...bearer(apiKey) }, ...ext },
      "jwt+header": { target: at(extPort), metadata: { ...model, ...bearer(token) }, ...ext },
      "key+body": { target: at(extPort), metadata: bearer(apiKey), ...ext },
      "native key+header": {
        target: at(nativePort),
        metadata: { ...model, ...bearer(signedKey) },
        ...native,
      },
      "native jwt+header": { target: at(nativePort), metadata: { ...model, ...bearer(token) }, ...native },
      "native key+body": { target: at(nativePort), metadata: bearer(signedKey), ...native },
      "native ihk+header": { target: at(nativePort), metadata: { ...model, ...bearer(apiKey) }, ...native },
    };
    const pids = (name: string) => ({
      envoy: paths[name]!.envoy.pid,
      "ext-authz": paths[name]!.extAuthz,
      node: nodePid,
    });
    for (const [name, path] of Object.entries(paths)) {
      const warm = await runGhz(ghz, { ...path, total: 500, concurrency, data });
      if (warm.errors > 0) throw new Error(`warm-up of ${name} (${path.target}) failed ${warm.errors} calls`);
    }
    // What each process spends with no calls at all (stats flushes, health probes, timers): over
    // a measured round that is (ms/s) / (calls/s) of its µs per call.
    const all = {
      "envoy (no-authz)": plainEnvoy.pid,
      "envoy (ext-authz mode)": extEnvoy.pid,
      "envoy (native)": nativeEnvoy.pid,
      "ext-authz (ext-authz mode)": extAuthzExtPid,
      "ext-authz (native)": extAuthzNativePid,
      node: nodePid,
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
        const checksBefore = await extAuthzChecks(path.envoy);
        const before = cpuSnapshot(pids(name));
        const res = await runGhz(ghz, { ...path, total: calls, concurrency, data });
        const used = cpuDelta(before, cpuSnapshot(pids(name)));
        const checked = (await extAuthzChecks(path.envoy)) - checksBefore;
        cpu.set(name, addCpu(cpu.get(name) ?? {}, used));
        checks.set(name, (checks.get(name) ?? 0) + checked);
        results.set(name, [...(results.get(name) ?? []), res]);
        const perCall = Object.entries(used)
          .map(([proc, ms]) => `${proc} ${usPerCall(ms, res.count).toFixed(0)}`)
          .join(" ");
        console.error(
          `round ${r + 1}/${rounds} ${name.padEnd(17)} p50 ${res.p50Ms.toFixed(3)} ms  p99 ${res.p99Ms.toFixed(3)} ms  ${res.rps.toFixed(0)} calls/s  errors ${res.errors}  ext_authz checks ${checked}  CPU µs/call: ${perCall}`,
        );
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  const baseRounds = results.get("no-authz") ?? [];
  const summary = (name: string) => {
    const rs = results.get(name) ?? [];
    // Against the same round's no-authz, then the median over rounds.
    const against = (f: (r: GhzResult, base: GhzResult) => number) =>
      median(rs.map((r, i) => f(r, baseRounds[i]!)));
    return {
      p50: median(rs.map((r) => r.p50Ms)),
      p99: median(rs.map((r) => r.p99Ms)),
      rps: median(rs.map((r) => r.rps)),
      p50Ratio: against((r, b) => r.p50Ms / b.p50Ms),
      p99Ratio: against((r, b) => r.p99Ms / b.p99Ms),
      p50Diff: against((r, b) => r.p50Ms - b.p50Ms),
      p99Diff: against((r, b) => r.p99Ms - b.p99Ms),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      count: rs.reduce((n, r) => n + r.count, 0),
    };
  };
  console.log(
    `\nModelInfer mlp [1,4] FP32, ${rounds} rounds x ${calls} calls, ${concurrency} in flight, medians of rounds` +
      ` (ratios and differences: against the same round's no-authz)`,
  );
  console.log(
    "| path | p50 ms | p99 ms | calls/s | p50 / no-authz | p99 / no-authz | p50 - no-authz ms | p99 - no-authz ms | errors |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  let errors = 0;
  for (const name of results.keys()) {
    const s = summary(name);
    errors += s.errors;
    console.log(
      `| ${name} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.rps.toFixed(0)} | ${s.p50Ratio.toFixed(2)} | ${s.p99Ratio.toFixed(2)} | ${signed(s.p50Diff)} | ${signed(s.p99Diff)} | ${s.errors} |`,
    );
  }
  // CPU: the sum over the rounds divided by the calls of the rounds (clock ticks are coarse, so a
  // per-round median would be noisier than the total).
  const cpuUs = (name: string) => {
    const used = cpu.get(name) ?? {};
    const n = summary(name).count;
    const envoy = usPerCall(used.envoy ?? NaN, n);
    const extAuthz = usPerCall(used["ext-authz"] ?? NaN, n);
    return {
      envoy,
      extAuthz,
      gateway: envoy + extAuthz,
      node: usPerCall(used.node ?? NaN, n),
      checks: (checks.get(name) ?? 0) / n,
    };
  };
  const baseCpu = cpuUs("no-authz");
  console.log(
    `\nCPU per call (user + system from /proc over the ${rounds} measured rounds, divided by their calls), µs;` +
      ` ext-authz is the path's gateway's own; ext_authz checks per call from that Envoy's counters`,
  );
  console.log(
    "| path | Envoy µs | ext-authz µs | Envoy + ext-authz µs | node µs | gateway / node | gateway / no-authz gateway | ext_authz checks / call |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const name of results.keys()) {
    const c = cpuUs(name);
    console.log(
      `| ${name} | ${c.envoy.toFixed(0)} | ${c.extAuthz.toFixed(0)} | ${c.gateway.toFixed(0)} | ${c.node.toFixed(0)} | ${(c.gateway / c.node).toFixed(2)} | ${(c.gateway / baseCpu.gateway).toFixed(2)} | ${c.checks.toFixed(2)} |`,
    );
  }
  console.log(`idle, before the rounds (CPU ms per second, no calls): ${idle}`);
  const header = summary("key+header");
  const body = summary("key+body");
  console.log(
    `\nreading the model from the body (key+body - key+header): p50 ${signed(body.p50 - header.p50)} ms, p99 ${signed(body.p99 - header.p99)} ms`,
  );
  const nativeHeader = summary("native key+header");
  const nativeBody = summary("native key+body");
  console.log(
    `native, Envoy reading the model from the first message (native key+body - native key+header): p50 ${signed(nativeBody.p50 - nativeHeader.p50)} ms, p99 ${signed(nativeBody.p99 - nativeHeader.p99)} ms`,
  );
  // #16's targets, measured (a benchmark: this reports, it does not fail on them).
  console.log(
    `\n#16 targets, native key and JWT against no-authz: p50 within ${signed(target.p50)} ms, p99 within ${signed(target.p99)} ms` +
      (concurrency > 1
        ? ` (${concurrency} in flight: the differences include queueing)`
        : " (one call at a time)"),
  );
  for (const name of ["native key+header", "native jwt+header"]) {
    const s = summary(name);
    const verdict = (diff: number, limit: number) => (diff <= limit ? "within" : "over");
    console.log(
      `  ${name}: p50 ${signed(s.p50Diff)} ms (${verdict(s.p50Diff, target.p50)}), p99 ${signed(s.p99Diff)} ms (${verdict(s.p99Diff, target.p99)})`,
    );
  }
  if (errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
