/** hubctl as a user runs it (bin/hubctl, a process of its own), pointed at an etcd and prefix. */
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
