/** ext-authz for a test gateway: its keys file, from plain test keys, and the process. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { hashApiKey } from "../../ext-authz/src/index.js";
import { startExtAuthzProcess, type ExtAuthzProcess } from "../../scripts/lib/ext-authz-process.js";
import type { GatewayFixture } from "./gateway-fixture.js";

export interface TestKey {
  id: string;
  tenant: string;
  /** The key a client sends; the file holds only its hash. */
  key: string;
}

/**
 * Writes `keys.yaml` beside the fixture's config (the config's `auth.keysFile` names it) and
 * starts ext-authz on `port`, which the config's `auth.extAuthz.address` names.
 */
export async function startTestAuthz(
  gw: GatewayFixture,
  port: number,
  keys: readonly TestKey[],
): Promise<ExtAuthzProcess> {
  await writeFile(
    join(gw.dir, "keys.yaml"),
    stringify({ keys: keys.map(({ id, tenant, key }) => ({ id, tenant, sha256: hashApiKey(key) })) }),
  );
  return startExtAuthzProcess({ configPath: gw.configPath, port });
}
