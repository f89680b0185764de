/**
 * Authorization end to end: a real Envoy steered by the control plane, the real ext-authz process
 * and real nodes, all configured by one inferencehub.yaml. Loopback clients count as external
 * here, as a remote client would (the listener leaves internal_address_config unset), and one
 * test proves it.
 *
 * The same cases run three ways (#16): every call checked by ext-authz (auth.mode ext-authz);
 * native mode with random `ihk_` keys (Envoy verifies the JWTs, ext-authz the keys); and native
 * mode with gateway-signed keys, where Envoy decides every allowed call itself and ext-authz only
 * refuses. What a client sees is the same in all three; where the path differs (ext-authz's own
 * counters, an outage of ext-authz), each says what it expects.
 */
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { connect } from "node:http2";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { stringify } from "yaml";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../gen/inference/grpc/health/v1/health.js";
import { ModelInferRequest } from "../gen/inference/inference/grpc_service.js";
import { createSigningKey, issueSignedApiKey } from "@inferencehub/contracts/signed-keys";
import { contentVersion, hashApiKey } from "../ext-authz/src/index.js";
import { startExtAuthzProcess, type ExtAuthzProcess } from "../scripts/lib/ext-authz-process.js";
import { createInferClient, toMetadata } from "../scripts/lib/infer-client.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { freePort } from "../scripts/lib/ports.js";
import { fp32Request } from "../scripts/lib/requests.js";
import { MLP_SAMPLE_INPUT, SCALE_SAMPLE_INPUT } from "../scripts/lib/test-models.js";
import { eventually, failure, grpcCall } from "./lib/assertions.js";
import { gatewayConfig, scaleModel } from "./lib/configs.js";
import { startGateway, type GatewayFixture, type NodeEntry } from "./lib/gateway-fixture.js";
import { callMany } from "./lib/load.js";

const issuer = "https://idp.test";
const audience = "inferencehub";
const keyNames = ["acme", "acmeOld", "ops", "limited"] as const;
type KeyName = (typeof keyNames)[number];
type Keys = Record<KeyName, string>;
const randomKeys: Keys = {
  acme: "ihk_acme-current",
  acmeOld: "ihk_acme-old",
  ops: "ihk_ops",
  limited: "ihk_limited",
};
const keyTenants: Record<KeyName, string> = { acme: "acme", acmeOld: "acme", ops: "ops", limited: "limited" };

function keysFile(keys: Keys, names: readonly KeyName[]): string {
  const list = names.map((name) => ({ id: name, tenant: keyTenants[name], sha256: hashApiKey(keys[name]) }));
  return stringify({ keys: list });
}

interface Variant {
  name: string;
  mode: "native" | "ext-authz";
  /** Gateway-signed API keys (auth.apiKeys), which Envoy verifies; else random `ihk_` keys. */
  signedKeys: boolean;
  /** The identity provider's JWKS served over HTTP (jwt.jwksUrl), fetched by Envoy and ext-authz. */
  jwksUrl?: boolean;
}

const variants: Variant[] = [
  { name: "ext-authz mode", mode: "ext-authz", signedKeys: false },
  { name: "native mode, random keys, the JWKS from a URL", mode: "native", signedKeys: false, jwksUrl: true },
  { name: "native mode, gateway-signed keys", mode: "native", signedKeys: true },
];

function config(
  nodes: NodeEntry[],
  listenPort: number,
  extAuthzPort: number,
  variant: Variant,
  jwksUrl: string,
) {
  const models = [
    // Version 3 takes no share: it gets a copy of every call (a shadow), to see what copies carry.
    { ...scaleModel([50, 50, 0], ["node-a", "node-b"]), shadow: { version: "3", percent: 100 } },
    { name: "mlp", versions: [{ version: "1", nodes: ["node-slow"] }] },
  ];
  return gatewayConfig(nodes, listenPort, models, {
    auth: {
      mode: variant.mode,
      extAuthz: { address: `127.0.0.1:${extAuthzPort}`, timeout: "1s" },
      keysFile: "keys.yaml",
      ...(variant.signedKeys ? { apiKeys: { jwksFile: "gateway-keys.jwks.json" } } : {}),
      jwt: variant.jwksUrl ? { jwksUrl, issuer, audience } : { jwksFile: "jwks.json", issuer, audience },
      tenants: [
        { name: "acme", models: ["scale"] },
        { name: "ops", models: ["*"], repository: true },
        { name: "limited", models: ["scale"], rateLimit: { callsPerSecond: 1, burst: 3 } },
      ],
    },
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** The nodes' shared secret for repository calls; ext-authz adds it for tenants allowed them. */
const repositoryToken = "rt-test-secret";
const authzEnv = { INFERENCEHUB_REPOSITORY_TOKEN: repositoryToken };
const scale = fp32Request("scale", SCALE_SAMPLE_INPUT);
const scaleHeader = { "inferencehub-model": "scale" };

/** A request as one gRPC Length-Prefixed-Message, for raw HTTP clients. */
function grpcFrame(request: ModelInferRequest): Buffer {
  const message = ModelInferRequest.encode(request).finish();
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(body, 5);
  return body;
}

for (const variant of variants) {
  describe(`authorization in front of real nodes, through a real Envoy: ${variant.name}`, () => {
    let gw: GatewayFixture;
    let authz: ExtAuthzProcess;
    let extAuthzPort = 0;
    let signingKey: CryptoKey;
    let keys: Keys = randomKeys;
    /** Envoy decides allowed calls with these keys without asking ext-authz. */
    const nativeKeys = variant.signedKeys;
    /** A key signed by a key the gateway does not know, for the signed variant's "unknown key". */
    let forgedKey = "";
    /** ext-authz's checks of allowed calls, from Envoy's counters. */
    const extAuthzOk = async () => (await gw.envoys[0]!.stats("ext_authz"))["http.ingress.ext_authz.ok"] ?? 0;

    /**
     * Until the control plane has read the auth files (in native mode: the IdP's JWKS, the gateway's
     * public key, `keys` signed keys listed) and every Envoy has ACKed what it pushed from them.
     */
    const waitForAuthFiles = async (keys: number) => {
      if (variant.mode === "native") {
        await gw.xds.waitFor((s) => {
          const verified = s.auth?.verifiedByEnvoy ?? [];
          return (
            verified.includes("jwt") &&
            (!variant.signedKeys || (verified.includes("api-keys") && s.auth?.keys === keys))
          );
        }, `the control plane to read the auth files (${keys} signed keys)`);
      }
      for (const envoy of gw.envoys) await gw.xds.waitForSync(envoy.name);
    };

    const requestsOnNodes = async () => {
      let total = 0;
      for (const node of gw.nodes.values())
        total += metricValue(await node.metrics(), "inferencehub_node_requests_total");
      return total;
    };

    const jwt = (claims: { tenant: string; exp: number }) =>
      new SignJWT({ tenant: claims.tenant })
        .setProtectedHeader({ alg: "ES256", kid: "test" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject("robot@example.test")
        .setExpirationTime(claims.exp)
        .sign(signingKey);

    /** The identity provider: serves the JWKS, and counts who fetched it. */
    let idp: Server | undefined;
    let jwksBody = "";
    let jwksFetches = 0;

    before(async () => {
      extAuthzPort = await freePort();
      const pair = await generateKeyPair("ES256");
      signingKey = pair.privateKey;
      const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "test", alg: "ES256" };
      jwksBody = JSON.stringify({ keys: [publicJwk] });
      let jwksUrl = "";
      if (variant.jwksUrl) {
        idp = createServer((_req, res) => {
          jwksFetches++;
          res.writeHead(200, { "content-type": "application/json" }).end(jwksBody);
        });
        await new Promise<void>((resolve) => idp!.listen(0, "127.0.0.1", resolve));
        jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
      }
      gw = await startGateway({
        nodes: [
          { name: "node-a", models: ["scale"], repositoryToken },
          { name: "node-b", models: ["scale"], repositoryToken },
          // Every mlp call waits 300 ms here: long enough to see a timeout a client tries to impose.
          { name: "node-slow", models: ["mlp"], args: ["--infer-delay-ms", "300"] },
        ],
        config: (nodes, port) => config(nodes, port, extAuthzPort, variant, jwksUrl),
      });
      if (variant.signedKeys) {
        const gateway = await createSigningKey("gateway-test");
        const issue = (name: KeyName) =>
          issueSignedApiKey({
            privateJwk: gateway.privateJwk,
            issuer: "inferencehub-keys",
            id: name,
            tenant: keyTenants[name],
          });
        keys = Object.fromEntries(
          await Promise.all(keyNames.map(async (n) => [n, await issue(n)] as const)),
        ) as Keys;
        // Same issuer and kid, another private key: its signature cannot verify.
        const impostor = await createSigningKey("gateway-test");
        forgedKey = await issueSignedApiKey({
          privateJwk: impostor.privateJwk,
          issuer: "inferencehub-keys",
          id: "acme",
          tenant: "acme",
        });
        await writeFile(join(gw.dir, "gateway-keys.jwks.json"), JSON.stringify(gateway.publicJwks));
      }
      await writeFile(join(gw.dir, "keys.yaml"), keysFile(keys, keyNames));
      await writeFile(join(gw.dir, "jwks.json"), jwksBody);
      // The control plane read the files when it started, before they were written: wait until
      // Envoy has what they hold (the keys, the JWKS), as it has after any edit of them.
      await waitForAuthFiles(keyNames.length);
      authz = await startExtAuthzProcess({ configPath: gw.configPath, port: extAuthzPort, env: authzEnv });
    });

    after(async () => {
      idp?.close();
      await authz?.stop();
      await gw?.stop();
    });

    test("allowed: the node serves the call and sees the gateway's tenant, never one the client sent", async () => {
      const client = gw.client();
      const bodyBytes = async () => metricValue(await authz.metrics(), "inferencehub_authz_body_bytes_total");
      const bytesBefore = await bodyBytes();
      const { response, headers } = await client.infer(scale, {
        metadata: { ...bearer(keys.acme), ...scaleHeader, "x-inferencehub-tenant": "ops" },
      });
      assert.equal(response.modelName, "scale");
      assert.equal(headers["x-inferencehub-seen-tenant"], "acme");
      // A JWT names its tenant the same way.
      const token = await jwt({ tenant: "acme", exp: Math.floor(Date.now() / 1000) + 300 });
      const viaJwt = await client.infer(scale, {
        metadata: { ...bearer(token), ...scaleHeader, "x-inferencehub-tenant": "ops" },
      });
      assert.equal(viaJwt.headers["x-inferencehub-seen-tenant"], "acme");
      const sent = (await bodyBytes()) - bytesBefore;
      if (variant.mode === "ext-authz") {
        // A unary call with the model header sends its first bytes only, to compare the body's model.
        assert.ok(sent > 0 && sent <= 2 * 256, `${sent} body bytes for two calls`);
      } else if (nativeKeys) {
        // Envoy compares the body's model with the header itself, and decides both calls.
        assert.equal(sent, 0, `${sent} body bytes sent to ext-authz`);
      } else {
        // Envoy decides the JWT's call; the random key's goes to ext-authz, with its prefix at most.
        assert.ok(sent <= 256, `${sent} body bytes for the one call ext-authz checked`);
      }
    });

    test("the caller's credentials stop at Envoy: no node, nor a shadow copy, receives them", async () => {
      // issue #10 finding 2: a node received the caller's `authorization: Bearer …` verbatim.
      const withCredentials = async () => {
        let total = 0;
        for (const node of gw.nodes.values())
          total += metricValue(await node.metrics(), "inferencehub_node_requests_with_credentials_total");
        return total;
      };
      const copies = async () => {
        let total = 0;
        for (const node of gw.nodes.values())
          total += metricValue(await node.metrics(), "inferencehub_node_requests_total", { version: "3" });
        return total;
      };
      const copiesBefore = await copies();
      const token = await jwt({ tenant: "acme", exp: Math.floor(Date.now() / 1000) + 300 });
      for (const credential of [keys.acme, token]) {
        const { response } = await gw
          .client()
          .infer(scale, { metadata: { ...bearer(credential), ...scaleHeader } });
        assert.equal(response.modelName, "scale");
      }
      await eventually(
        async () => (await copies()) >= copiesBefore + 2,
        "both shadow copies reached version 3",
      );
      assert.equal(await withCredentials(), 0);
    });

    test("a model-scoped call whose body names another model than its header is refused at the gateway", async () => {
      // issue #10 finding 3: a tenant allowed only `scale` sent `inferencehub-model: scale` with a
      // ModelMetadata / ModelReady body naming `mlp`, and got mlp's metadata.
      const client = gw.client().raw;
      const metadata = toMetadata({ ...bearer(keys.acme), ...scaleHeader });
      for (const method of ["modelMetadata", "modelReady"] as const) {
        const err = await failure(grpcCall(client, method, { name: "mlp", version: "" }, metadata));
        assert.equal(err.code, status.INVALID_ARGUMENT, `${method}: ${err.details}`);
        assert.match(
          err.details,
          /model_name 'mlp' in the request does not match the inferencehub-model header 'scale'/,
        );
      }
      const infer = await failure(
        gw.client().infer(fp32Request("mlp", MLP_SAMPLE_INPUT), {
          metadata: { ...bearer(keys.acme), ...scaleHeader },
        }),
      );
      assert.equal(infer.code, status.INVALID_ARGUMENT, infer.details);
      // Agreeing names pass; a version in the body pins like the header, and a conflict is refused.
      const meta = await grpcCall(client, "modelMetadata", { name: "scale", version: "" }, metadata);
      assert.equal(meta.name, "scale");
      for (let i = 0; i < 10; i++) {
        const pinned = await gw.client().infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }), {
          metadata: { ...bearer(keys.acme), ...scaleHeader },
        });
        assert.equal(pinned.headers["x-inferencehub-model-version"], "2");
      }
      const conflict = await failure(
        gw.client().infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }), {
          metadata: { ...bearer(keys.acme), ...scaleHeader, "inferencehub-model-version": "1" },
        }),
      );
      assert.equal(conflict.code, status.INVALID_ARGUMENT);
      assert.match(
        conflict.details,
        /model_version '2' in the request does not match the inferencehub-model-version header '1'/,
      );
    });

    test("repository calls: an operator tenant reaches the nodes through the gateway; nobody else does", async () => {
      // issue #10 finding 8: nodes answered repository calls to anyone who reached them.
      const client = gw.client().raw;
      const asOps = toMetadata({ ...bearer(keys.ops), ...scaleHeader });
      const index = await grpcCall(client, "repositoryIndex", { repositoryName: "", ready: false }, asOps);
      assert.ok(
        index.models.some((m) => m.name === "scale"),
        JSON.stringify(index),
      );
      const tenant = await failure(
        grpcCall(
          client,
          "repositoryIndex",
          { repositoryName: "", ready: false },
          toMetadata({ ...bearer(keys.acme), ...scaleHeader }),
        ),
      );
      assert.equal(tenant.code, status.PERMISSION_DENIED, tenant.details);
      // A tenant without the right is refused at the gateway even with the token in hand.
      const spoofed = await failure(
        grpcCall(
          client,
          "repositoryIndex",
          { repositoryName: "", ready: false },
          toMetadata({
            ...bearer(keys.acme),
            ...scaleHeader,
            "x-inferencehub-repository-token": repositoryToken,
          }),
        ),
      );
      assert.equal(spoofed.code, status.PERMISSION_DENIED, spoofed.details);
      // Straight to a node, without the token: refused.
      const direct = createInferClient(gw.nodes.get("node-a")!.address);
      try {
        const err = await failure(
          grpcCall(direct.raw, "repositoryIndex", { repositoryName: "", ready: false }),
        );
        assert.equal(err.code, status.PERMISSION_DENIED, err.details);
      } finally {
        direct.close();
      }
    });

    test("denied: PERMISSION_DENIED names the model, and no node sees the call", async () => {
      const before = await requestsOnNodes();
      const err = await failure(
        gw.client().infer(fp32Request("mlp", MLP_SAMPLE_INPUT), {
          metadata: { ...bearer(keys.acme), "inferencehub-model": "mlp" },
        }),
      );
      assert.equal(err.code, status.PERMISSION_DENIED, err.details);
      assert.equal(err.details, "tenant 'acme' may not call model 'mlp'");
      assert.equal(await requestsOnNodes(), before);
      const stats = await gw.envoys[0]!.stats("ext_authz");
      assert.ok((stats["http.ingress.ext_authz.denied"] ?? 0) >= 1, JSON.stringify(stats));
    });

    test("a model the gateway does not serve: NOT_FOUND before any check, and no node sees the call", async () => {
      const before = await requestsOnNodes();
      const checksBefore = (await gw.envoys[0]!.stats("ext_authz"))["http.ingress.ext_authz.ok"] ?? 0;
      for (const credentials of [{}, bearer(keys.acme)]) {
        const err = await failure(
          gw.client().infer(fp32Request("resnet", MLP_SAMPLE_INPUT), {
            metadata: { ...credentials, "inferencehub-model": "resnet" },
          }),
        );
        assert.equal(err.code, status.NOT_FOUND, err.details);
        assert.equal(err.details, "model 'resnet' is not served by this gateway");
      }
      assert.equal(await requestsOnNodes(), before);
      // A served model's call, for contrast: the counter moves by exactly that one check (none
      // when Envoy allows the call itself).
      await gw.client().infer(scale, { metadata: { ...bearer(keys.acme), ...scaleHeader } });
      const checksAfter = (await gw.envoys[0]!.stats("ext_authz"))["http.ingress.ext_authz.ok"] ?? 0;
      assert.equal(
        checksAfter,
        checksBefore + (nativeKeys ? 0 : 1),
        "no check was made for the model no route serves",
      );
    });

    test("unauthenticated: no credentials, an unknown key, an expired JWT", async () => {
      const client = gw.client();
      const none = await failure(client.infer(scale, { metadata: scaleHeader }));
      assert.equal(none.code, status.UNAUTHENTICATED);
      assert.match(none.details, /send one header 'authorization: Bearer <API key or JWT>'/);
      const unknown = await failure(
        client.infer(scale, { metadata: { ...bearer("ihk_nope"), ...scaleHeader } }),
      );
      assert.equal(unknown.code, status.UNAUTHENTICATED);
      assert.match(unknown.details, /API key is not valid/);
      const expired = await jwt({ tenant: "acme", exp: Math.floor(Date.now() / 1000) - 120 });
      const err = await failure(client.infer(scale, { metadata: { ...bearer(expired), ...scaleHeader } }));
      assert.equal(err.code, status.UNAUTHENTICATED);
      assert.match(err.details, /the JWT has expired/);
      // A token that never expires: the identity provider's tokens must carry exp (Envoy's
      // jwt_authn requires it as ext-authz does).
      const forever = await new SignJWT({ tenant: "acme" })
        .setProtectedHeader({ alg: "ES256", kid: "test" })
        .setIssuer(issuer)
        .setAudience(audience)
        .sign(signingKey);
      const eternal = await failure(
        client.infer(scale, { metadata: { ...bearer(forever), ...scaleHeader } }),
      );
      assert.equal(eternal.code, status.UNAUTHENTICATED, eternal.details);
      if (variant.signedKeys) {
        // A signed key that the gateway's key did not sign: Envoy cannot verify it, ext-authz
        // does not list it.
        const forged = await failure(
          client.infer(scale, { metadata: { ...bearer(forgedKey), ...scaleHeader } }),
        );
        assert.equal(forged.code, status.UNAUTHENTICATED);
        assert.match(forged.details, /API key is not valid/);
      }
    });

    test("several authorization values never pass, whichever of them is valid", async () => {
      // grpc-js and Node's HTTP/2 client refuse to send two; Node's HTTP/1.1 client sends an array
      // as two header lines, and Envoy's codec (AUTO) takes a gRPC call over HTTP/1.1 too.
      const body = grpcFrame(scale);
      for (const values of [
        [`Bearer ${keys.acme}`, "Bearer ihk_nope"],
        ["Bearer ihk_nope", `Bearer ${keys.acme}`],
        [`Bearer ${keys.acme}`, `Bearer ${keys.ops}`],
      ]) {
        const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
          const req = httpRequest(
            {
              host: "127.0.0.1",
              port: gw.listenPort,
              method: "POST",
              path: "/inference.GRPCInferenceService/ModelInfer",
              // Raw name/value pairs: the only form whose type allows a repeated header.
              headers: [
                "host",
                `127.0.0.1:${gw.listenPort}`,
                "content-type",
                "application/grpc",
                "inferencehub-model",
                "scale",
                "content-length",
                String(body.length),
                ...values.flatMap((v) => ["authorization", v]),
              ],
            },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.headers));
            },
          );
          req.on("error", reject);
          req.end(body);
        });
        assert.equal(headers["grpc-status"], String(status.UNAUTHENTICATED), JSON.stringify(values));
        // Envoy keeps `authorization` as one inline header and joins repeated values with a comma,
        // which is no bearer token; ext-authz also refuses repeated values should they come apart.
        assert.match(
          decodeURIComponent(String(headers["grpc-message"])),
          /^(the authorization header is not a bearer token|2 authorization headers)/,
        );
      }
      // Two values joined into one are not a bearer token either.
      const joined = await failure(
        gw.client().infer(scale, {
          metadata: { authorization: `Bearer ihk_nope,Bearer ${keys.acme}`, ...scaleHeader },
        }),
      );
      assert.equal(joined.code, status.UNAUTHENTICATED);
      assert.match(joined.details, /not a bearer token/);
    });

    test("a revoked key stops working without a restart", async () => {
      const client = gw.client();
      const call = () => client.infer(scale, { metadata: { ...bearer(keys.acmeOld), ...scaleHeader } });
      await call();
      const revoked = keysFile(keys, ["acme", "ops", "limited"]);
      await writeFile(join(gw.dir, "keys.yaml"), revoked);
      await authz.waitFor(
        (s) => s.keys?.version === contentVersion(revoked),
        "the keys file without acmeOld",
      );
      // Envoy's allow-list of signed keys comes with the control plane's next push.
      await waitForAuthFiles(keyNames.length - 1);
      const err = await failure(call());
      assert.equal(err.code, status.UNAUTHENTICATED);
      assert.match(err.details, /API key is not valid/);
      // The other keys of the tenant keep working.
      await client.infer(scale, { metadata: { ...bearer(keys.acme), ...scaleHeader } });
    });

    test("no model header: the call is routed by the model name in its body, across the weighted split", async () => {
      const stats = await callMany(gw.client(), {
        total: 400,
        concurrency: 8,
        request: scale,
        metadata: bearer(keys.acme),
      });
      assert.deepEqual(stats.failures, []);
      // 50/50 over 400 calls: 4.5 standard deviations either side of 200.
      const v2 = stats.byVersion().get("2") ?? 0;
      assert.ok(v2 >= 155 && v2 <= 245, `version 2 got ${v2} of 400 calls`);
      // A version in the body pins it, as the header would.
      const pinned = await gw.client().infer(fp32Request("scale", SCALE_SAMPLE_INPUT, { version: "2" }), {
        metadata: bearer(keys.acme),
      });
      assert.equal(pinned.response.modelVersion, "2");
      // The policy applies to the model in the body too.
      const err = await failure(
        gw.client().infer(fp32Request("mlp", MLP_SAMPLE_INPUT), { metadata: bearer(keys.acme) }),
      );
      assert.equal(err.code, status.PERMISSION_DENIED);
    });

    test("health checks are checked like any call to the model; Watch is refused at once", async () => {
      // issue #10 finding 1: health calls skipped ext-authz, and 1,200 unauthenticated Watch streams
      // held the model's circuit breaker for the 30 s route timeout.
      const health = new HealthClient(`127.0.0.1:${gw.listenPort}`, credentials.createInsecure());
      try {
        const res = await grpcCall(
          health,
          "check",
          { service: "" },
          toMetadata({ ...scaleHeader, ...bearer(keys.acme) }),
        );
        assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
        const anonymous = await failure(grpcCall(health, "check", { service: "" }, toMetadata(scaleHeader)));
        assert.equal(anonymous.code, status.UNAUTHENTICATED, anonymous.details);
        const other = await failure(
          grpcCall(
            health,
            "check",
            { service: "" },
            toMetadata({ "inferencehub-model": "mlp", ...bearer(keys.acme) }),
          ),
        );
        assert.equal(
          other.code,
          status.PERMISSION_DENIED,
          "a tenant checks the health of its own models only",
        );
        // A flood of Watch streams, with and without credentials: each ends at once, none is held.
        const watchEnds = (metadata: Record<string, string>) =>
          new Promise<number>((resolve) => {
            const stream = health.watch({ service: "" }, toMetadata(metadata));
            stream.on("data", () => undefined);
            stream.on("error", (err: ServiceError) => resolve(err.code));
            stream.on("end", () => resolve(-1));
          });
        const codes = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            watchEnds(i % 2 === 0 ? scaleHeader : { ...scaleHeader, ...bearer(keys.acme) }),
          ),
        );
        assert.deepEqual(
          [...new Set(codes)].sort(),
          [status.UNIMPLEMENTED, status.UNAUTHENTICATED].sort(),
          "unauthenticated Watch: UNAUTHENTICATED; authenticated: UNIMPLEMENTED",
        );
        const calls = await Promise.all(
          Array.from({ length: 20 }, () =>
            gw.client().infer(scale, { metadata: { ...bearer(keys.acme), ...scaleHeader } }),
          ),
        );
        assert.equal(calls.length, 20);
      } finally {
        health.close();
      }
      // The unchecked route matches a path prefix: a path that climbs out of it must still be checked.
      // Envoy normalizes the path (normalize_path, merge_slashes) before it picks the route.
      const before = await requestsOnNodes();
      const session = connect(`http://127.0.0.1:${gw.listenPort}`);
      try {
        for (const path of [
          "/grpc.health.v1.Health/../inference.GRPCInferenceService/ModelInfer",
          "/grpc.health.v1.Health/%2e%2e/inference.GRPCInferenceService/ModelInfer",
          "/grpc.health.v1.Health/..%2finference.GRPCInferenceService/ModelInfer",
        ]) {
          const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
            const req = session.request({
              ":method": "POST",
              ":path": path,
              "content-type": "application/grpc",
              te: "trailers",
              ...scaleHeader,
            });
            let seen: IncomingHttpHeaders = {};
            req.on("response", (h) => (seen = h));
            req.on("trailers", (t) => (seen = { ...seen, ...t }));
            req.on("data", () => undefined);
            req.on("end", () => resolve(seen));
            req.on("error", reject);
            req.end(grpcFrame(scale));
          });
          // Dot segments are resolved and then checked (UNAUTHENTICATED); an escaped slash is
          // refused outright (path_with_escaped_slashes_action: a 400, which gRPC reads as INTERNAL).
          const expected = path.includes("%2f") ? status.INTERNAL : status.UNAUTHENTICATED;
          assert.equal(headers["grpc-status"], String(expected), `${path}: ${JSON.stringify(headers)}`);
        }
      } finally {
        session.close();
      }
      assert.equal(await requestsOnNodes(), before);
    });

    // Native mode only: in ext-authz mode ext-authz checks every call, as the counters above show.
    if (variant.mode === "native")
      test("native mode: Envoy allows a tenant's calls itself; ext-authz checks none of them", async () => {
        const token = await jwt({ tenant: "acme", exp: Math.floor(Date.now() / 1000) + 300 });
        const credentials = nativeKeys ? [token, keys.acme] : [token];
        const checksBefore = await extAuthzOk();
        const served = await requestsOnNodes();
        for (const credential of credentials) {
          // With the model header, and without (routed by the body), unpinned and pinned.
          await gw.client().infer(scale, { metadata: { ...bearer(credential), ...scaleHeader } });
          await gw.client().infer(scale, { metadata: bearer(credential) });
          const pinned = await gw.client().infer(scale, {
            metadata: { ...bearer(credential), ...scaleHeader, "inferencehub-model-version": "2" },
          });
          assert.equal(pinned.response.modelVersion, "2");
        }
        assert.equal(await extAuthzOk(), checksBefore, "ext-authz was asked about an allowed call");
        if (variant.jwksUrl) {
          // Envoy fetched the JWKS itself (and caches it: jwksCacheTtl), from the identity provider.
          const stats = await gw.envoys[0]!.stats("jwks_fetch");
          assert.ok((stats["http.ingress.jwt_authn.jwks_fetch_success"] ?? 0) >= 1, JSON.stringify(stats));
          assert.ok(jwksFetches >= 1);
        }
        assert.ok((await requestsOnNodes()) >= served + 3 * credentials.length);
      });

    test("loopback clients count as external: Envoy ignores the timeout header a client sets", async () => {
      // From an internal address, Envoy would honour x-envoy-upstream-rq-timeout-ms and cut the
      // 300 ms call at 20 ms (504, UNAVAILABLE). https://www.envoyproxy.io/docs/envoy/v1.40.0/configuration/http/http_conn_man/headers#x-envoy-internal
      const { response } = await gw.client().infer(fp32Request("mlp", MLP_SAMPLE_INPUT), {
        metadata: {
          ...bearer(keys.ops),
          "inferencehub-model": "mlp",
          "x-envoy-upstream-rq-timeout-ms": "20",
        },
      });
      assert.equal(response.modelName, "mlp");
    });

    test("rate limit: a tenant over its limit gets RESOURCE_EXHAUSTED with a retry hint; another is unaffected", async () => {
      const client = gw.client();
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const [limited, acme] = await Promise.allSettled([
            client.infer(scale, { metadata: { ...bearer(keys.limited), ...scaleHeader } }),
            client.infer(scale, { metadata: { ...bearer(keys.acme), ...scaleHeader } }),
          ]);
          return { limited, acme };
        }),
      );
      const seconds = (Date.now() - started) / 1000;
      assert.ok(
        results.every((r) => r.acme.status === "fulfilled"),
        "acme is never limited",
      );
      const ok = results.filter((r) => r.limited.status === "fulfilled").length;
      assert.ok(
        ok >= 3 && ok <= 3 + Math.ceil(seconds),
        `${ok} of 10 let through in ${seconds} s (burst 3, 1/s)`,
      );
      const over = results.flatMap((r) =>
        r.limited.status === "rejected" ? [r.limited.reason as ServiceError] : [],
      );
      assert.ok(over.length > 0);
      for (const err of over) {
        assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
        assert.match(err.details, /^tenant 'limited' is over its rate limit; retry in \d+ ms$/);
        assert.match(String(err.metadata.get("grpc-retry-pushback-ms")[0]), /^\d+$/);
        assert.match(String(err.metadata.get("retry-after")[0]), /^\d+$/);
      }
    });

    test("ext-authz too slow or down: calls fail closed with UNAVAILABLE; restarted: they succeed again", async () => {
      const client = gw.client();
      // A call only ext-authz can decide: with signed keys Envoy decides the allowed ones, so the
      // call that must fail closed is one Envoy cannot verify (a random key).
      const key = nativeKeys ? "ihk_needs-ext-authz" : keys.acme;
      const call = () => client.infer(scale, { metadata: { ...bearer(key), ...scaleHeader } });
      const native = () => client.infer(scale, { metadata: { ...bearer(keys.acme), ...scaleHeader } });
      // Too slow (stopped, its socket open): Envoy waits out the 1 s timeout, then UNAVAILABLE.
      authz.process.kill("SIGSTOP");
      try {
        const slow = await failure(call());
        assert.equal(slow.code, status.UNAVAILABLE, slow.details);
      } finally {
        authz.process.kill("SIGCONT");
      }
      await authz.stop("SIGKILL");
      const before = await requestsOnNodes();
      const err = await failure(call());
      assert.equal(err.code, status.UNAVAILABLE, err.details);
      // issue #10 finding 6: the message was empty.
      assert.match(err.details, /could not reach its authorization service/);
      assert.equal(await requestsOnNodes(), before, "no call slipped through unchecked");
      if (nativeKeys) {
        // What Envoy decides itself does not depend on ext-authz: allowed calls go on.
        const { response } = await native();
        assert.equal(response.modelName, "scale");
      }
      authz = await startExtAuthzProcess({ configPath: gw.configPath, port: extAuthzPort, env: authzEnv });
      const { response } = await (nativeKeys ? native() : call());
      assert.equal(response.modelName, "scale");
    });
  });
}
