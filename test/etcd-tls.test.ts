/**
 * etcd over TLS with client certificates (etcd's --client-cert-auth), and etcd's own users (its
 * auth enabled, --etcd-user with --etcd-password-file), each with a real etcd member. Over TLS, the
 * control plane and hubctl reach it with the CA and a client certificate (--etcd-ca, --etcd-cert,
 * --etcd-key), and nobody else does. Without a certificate, with one from another CA, or in
 * plaintext, etcd refuses: the control plane does not start on a config it could not read (it says
 * why and retries), hubctl fails with the reason. Options that cannot work together are refused
 * before anything connects, naming the option.
 *
 * Needs etcd and openssl: skipped when etcd is missing unless INFERENCEHUB_REQUIRE_ETCD=1.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { etcdClient, readEtcdSecurity, type EtcdSecurity } from "@inferencehub/contracts/etcd-config";
import { etcdUnavailableReason, startEtcdCluster, type EtcdCluster } from "../scripts/lib/etcd-process.js";
import { makeTestPki, type TestPki } from "../scripts/lib/test-pki.js";
import { startXdsServer, type XdsProcess } from "../scripts/lib/xds-process.js";
import { hubctlOnEtcd } from "./lib/hubctl.js";

const required = process.env.INFERENCEHUB_REQUIRE_ETCD === "1";
const unavailable = etcdUnavailableReason();
const prefix = "/tls-test/";
const TOKEN = "tls-admin-token-0123456789abcdef";

const config = `nodes:
  - { name: n1, address: "127.0.0.1:9" }
models:
  - name: scale
    versions:
      - { version: "1", weight: 100, nodes: [n1] }
      - { version: "2", weight: 0, nodes: [n1] }
`;

describe(
  "etcd over TLS with client certificates",
  { skip: required ? false : (unavailable ?? false) },
  () => {
    let pki: TestPki;
    let etcd: EtcdCluster;
    let file: string;
    const running: XdsProcess[] = [];

    /** The flags of a client that etcd trusts, or of another one. */
    const flags = (who: "client" | "stranger" | "none") => [
      "--etcd-ca",
      pki.caFile,
      ...(who === "none" ? [] : ["--etcd-cert", pki[who].certFile, "--etcd-key", pki[who].keyFile]),
    ];
    // etcd starts in before(): the runner is made per call.
    const hubctl = (...args: string[]) => hubctlOnEtcd({ endpoints: etcd.endpoints, prefix })(...args);
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail("etcd let this client in"),
        (err: { code?: number; stderr?: string; message?: string }) => err,
      );

    before(async () => {
      pki = makeTestPki();
      etcd = await startEtcdCluster({
        name: "tls",
        tls: { caFile: pki.caFile, certFile: pki.server.certFile, keyFile: pki.server.keyFile },
      });
      file = join(pki.dir, "inferencehub.yaml");
      await writeFile(file, config);
    });

    after(async () => {
      await Promise.all(running.map((x) => x.stop()));
      await etcd?.stop();
      pki?.remove();
    });

    test("hubctl applies with the client certificate; without one, or one of another CA, etcd refuses", async () => {
      assert.ok(etcd.endpoints.every((e) => e.startsWith("https://")));
      for (const who of ["none", "stranger"] as const) {
        const err = await refusal(hubctl("apply", "-f", file, ...flags(who)));
        assert.equal(err.code, 1, `${who}: ${err.stderr}`);
        assert.match(
          err.stderr ?? "",
          /etcd refused this client's certificate: give --etcd-cert and --etcd-key/,
          who,
        );
      }
      // Without the CA, etcd's own certificate is not trusted: said so, not "is etcd running?".
      const untrusted = await refusal(
        hubctl("apply", "-f", file, "--etcd-cert", pki.client.certFile, "--etcd-key", pki.client.keyFile),
      );
      assert.match(untrusted.stderr ?? "", /not signed by the CA given: give --etcd-ca/);
      const { stdout } = await hubctl("apply", "-f", file, ...flags("client"));
      assert.match(stdout, /applied .*config version [0-9]+/);
    });

    test("the control plane reads and edits over TLS; without a client certificate it does not start and says why", async () => {
      const env = (who: "client" | "none"): Record<string, string> => ({
        INFERENCEHUB_ADMIN_TOKEN: TOKEN,
        INFERENCEHUB_ETCD_CA: pki.caFile,
        ...(who === "client"
          ? { INFERENCEHUB_ETCD_CERT: pki.client.certFile, INFERENCEHUB_ETCD_KEY: pki.client.keyFile }
          : {}),
      });
      const xds = await startXdsServer({ etcd: { endpoints: etcd.endpoints, prefix }, env: env("client") });
      running.push(xds);
      const status = await xds.status();
      assert.equal(status.configStore.kind, "etcd");
      const res = await fetch(`http://127.0.0.1:${xds.adminPort}/v1/models/scale/weights`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ base_version: status.configVersion, weights: { "1": 0, "2": 100 } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const { stdout } = await hubctl("export", ...flags("client"));
      assert.match(stdout, /version: "2"\n\s+weight: 100/);

      // No client certificate: no config can be read, so none serves and it never says ready; its
      // retry line, naming etcd, is the event.
      await assert.rejects(
        startXdsServer({
          etcd: { endpoints: etcd.endpoints, prefix },
          env: env("none"),
          giveUpOn: /cannot read the config from etcd/,
        }),
        /will not be ready: .*"hint":"etcd refused this client.s certificate.*cannot read the config from etcd/,
      );
    });

    test("options that cannot work together are refused before anything connects, naming the option", () => {
      const plain = ["http://127.0.0.1:2379"];
      const tls = ["https://127.0.0.1:2379"];
      const cases: { endpoints: string[]; files: Parameters<typeof readEtcdSecurity>[1]; error: RegExp }[] = [
        {
          endpoints: plain,
          files: { caFile: pki.caFile },
          error: /--etcd-ca.*http:\/\/127\.0\.0\.1:2379 is not https/,
        },
        {
          endpoints: tls,
          files: { certFile: pki.client.certFile },
          error: /--etcd-cert and --etcd-key go together/,
        },
        {
          endpoints: tls,
          files: { caFile: join(pki.dir, "missing.pem") },
          error: /--etcd-ca .*missing\.pem/,
        },
        { endpoints: tls, files: { user: "root" }, error: /--etcd-user needs --etcd-password-file/ },
      ];
      for (const c of cases) assert.throws(() => readEtcdSecurity(c.endpoints, c.files), c.error);
      const ok: EtcdSecurity = readEtcdSecurity(tls, {
        caFile: pki.caFile,
        certFile: pki.client.certFile,
        keyFile: pki.client.keyFile,
      });
      assert.ok(ok.ca && ok.cert && ok.key && ok.user === undefined);
    });

    test("in plaintext the TLS port answers nothing", async () => {
      const plain = etcd.endpoints.map((e) => e.replace("https://", "http://"));
      const client = etcdClient(plain, 2_000);
      try {
        await refusal(client.get("/tls-test/config/version").exec());
      } finally {
        client.close();
      }
    });
  },
);

describe("etcd's own users (auth enabled)", { skip: required ? false : (unavailable ?? false) }, () => {
  let etcd: EtcdCluster;
  let dir: string;
  const running: XdsProcess[] = [];
  const passwordFile = (password: string) => {
    const path = join(dir, `password-${password.length}`);
    writeFileSync(path, `${password}\n`);
    return path;
  };

  before(async () => {
    etcd = await startEtcdCluster({ name: "users" });
    dir = mkdtempSync(join(tmpdir(), "inferencehub-etcd-users-"));
    await writeFile(join(dir, "inferencehub.yaml"), config);
    // etcd turns auth on only with a root user holding the root role.
    const admin = etcdClient(etcd.endpoints);
    try {
      await admin.role("root").create();
      await (await admin.user("root").create("root-secret")).addRole("root");
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  });

  after(async () => {
    await Promise.all(running.map((x) => x.stop()));
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("hubctl and the control plane work as the user; no user or a wrong password is refused and said so", async () => {
    const hubctl = hubctlOnEtcd({ endpoints: etcd.endpoints, prefix });
    const file = join(dir, "inferencehub.yaml");
    for (const args of [[], ["--etcd-user", "root", "--etcd-password-file", passwordFile("wrong")]]) {
      const err = await hubctl("apply", "-f", file, ...args).then(
        () => assert.fail(`etcd took a write with ${JSON.stringify(args)}`),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(err.code, 1, err.stderr);
      assert.match(err.stderr, /etcd refused the user: check --etcd-user and --etcd-password-file/);
    }
    const root = ["--etcd-user", "root", "--etcd-password-file", passwordFile("root-secret")];
    const { stdout } = await hubctl("apply", "-f", file, ...root);
    assert.match(stdout, /applied .*config version [0-9]+/);
    const xds = await startXdsServer({
      etcd: { endpoints: etcd.endpoints, prefix },
      env: { INFERENCEHUB_ETCD_USER: "root", INFERENCEHUB_ETCD_PASSWORD_FILE: passwordFile("root-secret") },
    });
    running.push(xds);
    assert.equal((await xds.status()).configStore.kind, "etcd");
  });
});
