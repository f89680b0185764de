import assert from "node:assert/strict";
import { test } from "node:test";
import { createKeyStore, hashApiKey, parseKeysFile } from "./api-keys.js";

const key = "ihk_test-key";
const hash = hashApiKey(key);

test("a key store finds a key by its hash and nothing else", () => {
  const parsed = parseKeysFile(
    `keys:\n  - { id: ci, tenant: acme, sha256: ${hash.toUpperCase()}, note: "CI" }\n`,
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.problems, []);
  const store = createKeyStore(parsed.entries);
  assert.equal(store.size, 1);
  assert.deepEqual(store.lookup(key), { id: "ci", tenant: "acme", sha256: hash });
  assert.equal(store.lookup("ihk_test-keyX"), undefined);
  assert.equal(store.lookup(hash), undefined, "the hash itself is not a key");
});
