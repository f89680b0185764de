/**
 * Global rate limits (#16) end to end: two gateways, each its own control plane and real Envoy,
 * configured by the same inferencehub.yaml, with auth.rateLimitService pointing both at one
 * envoyproxy/ratelimit on one Redis. Envoy verifies the JWTs and allows the calls itself (native
 * mode), then asks the service:
 * - a tenant's calls spread over both Envoys are held to its one limit (counted), not to a limit
 *   per Envoy; the calls over it get RESOURCE_EXHAUSTED with the tenant's retry hint, and another
 *   tenant is unaffected;
 * - Redis killed: the service cannot answer, and calls fail closed with UNAVAILABLE saying so
 *   (failOpen: false, the default); Redis restarted: calls succeed again, with no restart of
 *   anything else.
 * The limit is 4 calls per hour (0.001 calls/s, burst 4: the service's window is an hour), so the
 * count cannot refill during the test; a run that would cross the hour waits for it first.
 *
 * Skips, saying why, when redis-server or the service is missing (scripts/setup.sh installs both),
 * unless INFERENCEHUB_REQUIRE_RATELIMIT=1, which turns the skip into a failure.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status, type ServiceError } from "@grpc/grpc-js";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";
import {
  ratelimitUnavailableReason,
  startRateLimit,
  type RateLimitProcess,
} from "../scripts/lib/ratelimit-process.js";
import { redisUnavailableReason, startRedis, type RedisProcess } from "../scripts/lib/redis-process.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { rateLimitServiceConfig } from "../xds-server/src/ratelimit/index.js";
import { stringify } from "yaml";
import { failure } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";

const unavailable = redisUnavailableReason() ?? ratelimitUnavailableReason();
const required = process.env.INFERENCEHUB_REQUIRE_RATELIMIT === "1";

const issuer = "https://idp.test";
const audience = "inferencehub";
const limit = 4;
const scale = fp32Request("scale", SCALE_SAMPLE_INPUT);

function config(nodes: NodeEntry[], listenPort: number, rateLimitPort: number) {
  return gatewayConfig(nodes, listenPort, [scaleModel([100], ["node-1"])], {
    auth: {
      // Never called here: Envoy allows every call itself. A refusal would need it, and fail closed.
      extAuthz: { address: "127.0.0.1:1" },
      jwt: { jwksFile: "jwks.json", issuer, audience },
      rateLimitService: { address: `127.0.0.1:${rateLimitPort}`, timeout: "250ms" },
      tenants: [
        { name: "limited", models: ["scale"], rateLimit: { callsPerSecond: 0.001, burst: limit } },
        { name: "other", models: ["scale"], rateLimit: { callsPerSecond: 0.001, burst: limit } },
        { name: "fresh", models: ["scale"], rateLimit: { callsPerSecond: 0.001, burst: limit } },
        // No limit of its own, one on scale: the (tenant, model) descriptor.
        { name: "focused", models: [{ name: "scale", rateLimit: { callsPerSecond: 0.001, burst: limit } }] },
      ],
    },
  });
}

/** Until the next hour when less than a minute of this one is left: the count must not reset. */
async function awayFromTheHour(): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < 60_000) await sleep(left + 1_000);
}

describe(
  "global rate limits: two Envoys, one rate limit service on Redis",
  { skip: !required && unavailable ? unavailable : false },
  () => {
    let redis: RedisProcess;
    let service: RateLimitProcess;
    const gateways: GatewayFixture[] = [];
    let signingKey: CryptoKey;
    let jwks = "";

    const token = (tenant: string) =>
      new SignJWT({ tenant })
        .setProtectedHeader({ alg: "ES256", kid: "test" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(`${tenant}-robot`)
        .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
        .sign(signingKey);

    before(async () => {
      if (unavailable) throw new Error(`INFERENCEHUB_REQUIRE_RATELIMIT=1 but ${unavailable}`);
      const pair = await generateKeyPair("ES256");
      signingKey = pair.privateKey;
      jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "test", alg: "ES256" }] });
      redis = await startRedis();
      // The service's limits come from the same config the gateways read (its tenants).
      const text = stringify(config([{ name: "node-1", address: "127.0.0.1:1" }], 1, 1));
      const parsed = parseConfig(text, "inferencehub.yaml");
      if (!parsed.ok) throw new Error(formatErrors(parsed.errors));
      service = await startRateLimit({
        redisAddress: redis.address,
        config: rateLimitServiceConfig(parsed.value),
      });
      const rateLimitPort = service.grpcPort;
      for (let i = 0; i < 2; i++) {
        const gw = await startGateway({
          nodes: [{ name: "node-1", models: ["scale"] }],
          config: (nodes, port) => config(nodes, port, rateLimitPort),
        });
        gateways.push(gw);
        await writeFile(join(gw.dir, "jwks.json"), jwks);
        await gw.xds.waitFor(
          (s) => (s.auth?.verifiedByEnvoy ?? []).includes("jwt") && s.auth?.rateLimits === "global",
          "the control plane to read the JWKS, with the rate limits global",
        );
        for (const envoy of gw.envoys) await gw.xds.waitForSync(envoy.name);
      }
    });

    after(async () => {
      for (const gw of gateways) await gw.stop();
      await service?.stop();
      await redis?.stop();
    });

    const callAs = async (gw: GatewayFixture, tenant: string) =>
      gw.client().infer(scale, {
        metadata: { authorization: `Bearer ${await token(tenant)}`, "inferencehub-model": "scale" },
      });

    test("a tenant's calls across both Envoys are held to its one limit; another tenant is unaffected", async () => {
      await awayFromTheHour();
      const results = [];
      // Alternating, so each Envoy alone would still be under a per-Envoy limit of 4 for 8 calls.
      for (let i = 0; i < 3 * limit; i++) {
        const settled = await Promise.allSettled([callAs(gateways[i % 2]!, "limited")]);
        results.push(settled[0]!);
      }
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(
        ok,
        limit,
        `${ok} of ${results.length} calls let through across two Envoys (limit ${limit})`,
      );
      const over = results.flatMap((r) => (r.status === "rejected" ? [r.reason as ServiceError] : []));
      for (const err of over) {
        assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
        assert.equal(err.details, "tenant 'limited' is over its rate limit; retry in 3600000 ms");
        assert.equal(String(err.metadata.get("grpc-retry-pushback-ms")[0]), "3600000");
        assert.equal(String(err.metadata.get("retry-after")[0]), "3600");
      }
      // Both Envoys asked the service, and each refused some calls (stats of the routed cluster).
      let allowed = 0;
      for (const gw of gateways) {
        const stats = await gw.envoys[0]!.stats("ratelimit");
        const ok = stats["cluster.scale~1.ratelimit.ok"] ?? 0;
        assert.ok(
          ok >= 1 && (stats["cluster.scale~1.ratelimit.over_limit"] ?? 0) >= 1,
          JSON.stringify(stats),
        );
        allowed += ok;
      }
      assert.equal(allowed, limit, "the service allowed exactly the limit, counted by both Envoys");
      for (const gw of gateways) await callAs(gw, "other");
    });

    test("a tenant's limit on one model holds across both Envoys too, and says which model", async () => {
      await awayFromTheHour();
      const results = await Promise.allSettled(
        Array.from({ length: 2 * limit }, (_, i) => callAs(gateways[i % 2]!, "focused")),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, limit);
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        const err = r.reason as ServiceError;
        assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
        assert.equal(
          err.details,
          "tenant 'focused' is over its rate limit for model 'scale'; retry in 3600000 ms",
        );
      }
    });

    test("Redis killed: calls fail closed with UNAVAILABLE; Redis restarted: they succeed again", async () => {
      await redis.kill();
      const err = await failure(callAs(gateways[0]!, "fresh"));
      assert.equal(err.code, status.UNAVAILABLE, err.details);
      assert.equal(
        err.details,
        "the gateway could not reach its rate limit service, so the call was not sent; retry shortly",
      );
      await redis.restart();
      // The service reconnects by itself: the first call that succeeds is the event.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          const { response } = await callAs(gateways[1]!, "fresh");
          assert.equal(response.modelName, "scale");
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          assert.equal((e as ServiceError).code, status.UNAVAILABLE, (e as ServiceError).details);
        }
      }
    });
  },
);
