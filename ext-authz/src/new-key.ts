/**
 * Makes an API key: prints the key once (give it to the caller; it is not stored anywhere) and the
 * line for the keys file (its hash only).
 *   tsx ext-authz/src/new-key.ts --tenant acme --id acme-ci
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { generateApiKey, hashApiKey } from "./api-keys.js";

const { values } = parseArgs({ options: { tenant: { type: "string" }, id: { type: "string" } } });
if (!values.tenant || !values.id) {
  console.error("usage: tsx ext-authz/src/new-key.ts --tenant <tenant> --id <key id>");
  process.exit(2);
}
const key = generateApiKey();
console.log(`key (shown once, give it to the caller): ${key}`);
console.log("add to the keys file under `keys:`:");
console.log(stringify([{ id: values.id, tenant: values.tenant, sha256: hashApiKey(key) }]).trimEnd());
