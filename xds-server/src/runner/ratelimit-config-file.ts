/**
 * The rate limit service's limits as a file (--ratelimit-config): envoyproxy/ratelimit reads its
 * config from a folder and reloads it when the file changes, so the control plane writes the YAML
 * generated from each config it publishes, and the service follows every edit of a tenant's limit
 * like Envoy does. Written atomically (a temp file renamed over it, as the service's watcher
 * expects: it ignores dot files), and only when the text changes.
 */
import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "@inferencehub/contracts/config";
import { rateLimitServiceConfig } from "../ratelimit/index.js";

export interface RateLimitConfigFile {
  /** Writes the limits of `config` when they differ from the last written; never throws. */
  write(config: Config): Promise<void>;
}

export function rateLimitConfigFile(path: string, log: Logger): RateLimitConfigFile {
  let last: string | undefined;
  let queue: Promise<void> = Promise.resolve();
  const writeOnce = async (text: string) => {
    if (text === last) return;
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, path);
      last = text;
      log.info({ file: path }, "rate limit service config written");
    } catch (err) {
      await rm(tmp, { force: true });
      log.error(
        { file: path, err: (err as Error).message },
        "cannot write the rate limit service's config; it keeps the limits it has (check --ratelimit-config's folder)",
      );
    }
  };
  return {
    write: (config) => {
      const text = rateLimitServiceConfig(config);
      queue = queue.then(() => writeOnce(text));
      return queue;
    },
  };
}
