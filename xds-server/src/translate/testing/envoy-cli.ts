/** Test helper: `envoy --mode validate` on a bootstrap object, with Envoy's verdict and output. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy } from "../../../../scripts/lib/envoy.js";

export interface ValidateResult {
  ok: boolean;
  /** Envoy's stdout and stderr: the reason when ok is false. */
  output: string;
}

/**
 * Builds the whole server config without binding sockets or contacting upstreams.
 * https://www.envoyproxy.io/docs/envoy/v1.40.0/operations/cli#cmdoption-mode
 */
export async function envoyValidate(bootstrap: object): Promise<ValidateResult> {
  const bin = await ensureEnvoy();
  const dir = await mkdtemp(join(tmpdir(), "inferencehub-xds-validate-"));
  try {
    // JSON, not YAML: Envoy reads YAML 1.1, where some unquoted strings turn into booleans.
    const path = join(dir, "bootstrap.json");
    await writeFile(path, JSON.stringify(bootstrap, null, 2));
    return await new Promise((resolve) => {
      execFile(
        bin,
        ["--mode", "validate", "-c", path, "--disable-hot-restart", "--log-level", "warn"],
        { timeout: 60_000 },
        (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}` }),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
