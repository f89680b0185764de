/** hubctl as a user runs it (bin/hubctl, a process of its own), pointed at an etcd or an admin API. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { repoRoot } from "../../scripts/lib/paths.js";

const run = promisify(execFile);

/** Runs `hubctl <args> --etcd <endpoints> --etcd-prefix <prefix>`; rejects with code and stderr. */
export function hubctlOnEtcd(etcd: {
  endpoints: readonly string[];
  prefix: string;
}): (...args: string[]) => Promise<{ stdout: string; stderr: string }> {
  return (...args) =>
    run(`${repoRoot}/hubctl/bin/hubctl`, [
      ...args,
      "--etcd",
      etcd.endpoints.join(","),
      "--etcd-prefix",
      etcd.prefix,
    ]);
}

/** Runs `hubctl <args>` against a control plane's admin API with a token; rejects with code and stderr. */
export function hubctlOnAdmin(
  adminPort: number,
  token: string,
): (...args: string[]) => Promise<{ stdout: string; stderr: string }> {
  return (...args) =>
    run(`${repoRoot}/hubctl/bin/hubctl`, args, {
      env: {
        ...process.env,
        INFERENCEHUB_ADMIN_TOKEN: token,
        INFERENCEHUB_SERVER: `http://127.0.0.1:${adminPort}`,
      },
    });
}
