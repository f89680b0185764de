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
 *   npx tsx bench/authz-latency.ts            # 4 rounds x 3000 calls, 16 in flight, 1 connection
 *   BENCH_CALLS=10000 BENCH_CONCURRENCY=32 BENCH_ROUNDS=6 npx tsx bench/authz-latency.ts
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { stringify } from "yaml";
import { hashApiKey } from "../ext-authz/src/index.js";
import { renderBootstrap, startEnvoy, type EnvoyProcess } from "../scripts/lib/envoy-process.js";
import { startExtAuthzProcess, type ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { startNode, type NodeProcess } from "../scripts/lib/node-process.js";
import { freePorts } from "../scripts/lib/ports.js";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { ensureGhz, runGhz, type GhzResult } from "./lib/ghz.js";

const calls = Number(process.env.BENCH_CALLS ?? 3000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);

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
    await gateway("plain", "plain.yaml");
    await gateway("authz", "authz.yaml");

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
    for (const path of Object.values(paths)) {
      const warm = await runGhz(ghz, { ...path, total: 500, concurrency, data });
      if (warm.errors > 0) throw new Error(`warm-up to ${path.target} failed ${warm.errors} calls`);
    }
    // Interleaved rounds, so drift on a shared machine hits every path alike.
    for (let r = 0; r < rounds; r++) {
      for (const [name, path] of Object.entries(paths)) {
        const res = await runGhz(ghz, { ...path, total: calls, concurrency, data });
        results.set(name, [...(results.get(name) ?? []), res]);
        console.error(
          `round ${r + 1}/${rounds} ${name.padEnd(10)} p50 ${res.p50Ms.toFixed(3)} ms  p99 ${res.p99Ms.toFixed(3)} ms  ${res.rps.toFixed(0)} calls/s  errors ${res.errors}`,
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
