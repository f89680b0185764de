/**
 * A throwaway PKI for tests (openssl, which Debian has): a CA, a server certificate for 127.0.0.1
 * and localhost, a client certificate signed by the CA, and one signed by another CA (a client the
 * server must refuse). EC P-256 keys, valid for a day, in a temp folder removed by `remove()`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  caFile: string;
  server: { certFile: string; keyFile: string };
  client: { certFile: string; keyFile: string };
  /** Signed by another CA: not trusted by the server. */
  stranger: { certFile: string; keyFile: string };
  remove(): void;
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** A new EC P-256 key, unencrypted, written to `keyFile`, with what `req` makes of it. */
const newKey = (keyFile: string) => [
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:prime256v1",
  "-nodes",
  "-keyout",
  keyFile,
];

function selfSignedCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  openssl(dir, ["req", "-x509", ...newKey(key), "-out", cert, "-days", "1", "-subj", `/CN=${name}`]);
  return { cert, key };
}

function signed(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(dir, ["req", ...newKey(keyFile), "-out", csr, "-subj", `/CN=${name}`]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-CAcreateserial",
    "-out",
    certFile,
    "-days",
    "1",
    "-extfile",
    ext,
  ]);
  return { certFile, keyFile };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "inferencehub-pki-"));
  const ca = selfSignedCa(dir, "ca");
  const other = selfSignedCa(dir, "other-ca");
  const clientExt = "extendedKeyUsage=clientAuth\n";
  return {
    dir,
    caFile: ca.cert,
    server: signed(
      dir,
      "server",
      ca,
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    ),
    client: signed(dir, "client", ca, clientExt),
    stranger: signed(dir, "stranger", other, clientExt),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
