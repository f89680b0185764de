import assert from "node:assert/strict";
import { test } from "node:test";
import { generateApiKey, hashApiKey, parseKeysFile } from "./api-keys.js";

test("hashApiKey is SHA-256 of the UTF-8 bytes, in lowercase hex", () => {
  assert.equal(hashApiKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(hashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(hashApiKey("abc"), hashApiKey("abc"));
});

test("generateApiKey: 256 random bits behind a prefix, never twice the same", () => {
  const a = generateApiKey();
  const b = generateApiKey();
  assert.match(a, /^ihk_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
});

const key = "ihk_test-key";
const hash = hashApiKey(key);
const other = hashApiKey("ihk_other");

const entryCases: { name: string; yaml: string; ids: string[]; problems: RegExp[] }[] = [
  { name: "an empty list", yaml: "keys: []\n", ids: [], problems: [] },
  {
    name: "bad entries are left out, good ones kept",
    yaml: `keys:
  - { id: good, tenant: acme, sha256: ${hash} }
  - { id: plain, tenant: acme, sha256: ${key} }
  - { id: "no spaces", tenant: acme, sha256: ${other} }
  - { id: t, tenant: Acme, sha256: ${other} }
  - { id: u, tenant: acme, sha256: ${other}, tennant: x }
  - just-a-string
`,
    ids: ["good"],
    problems: [
      /^keys\[1\]: sha256 must be 64 hex digits: the SHA-256 of the key, never the key itself; left out$/,
      /^keys\[2\]: id must be/,
      /^keys\[3\]: tenant must be a tenant name/,
      /^keys\[4\]: unknown field tennant/,
      /^keys\[5\]: must be a mapping/,
    ],
  },
  {
    name: "a repeated id keeps the first",
    yaml: `keys:\n  - { id: a, tenant: acme, sha256: ${hash} }\n  - { id: a, tenant: acme, sha256: ${other} }\n`,
    ids: ["a"],
    problems: [/^keys\[1\]: duplicate id 'a' \(also keys\[0\]\); left out$/],
  },
  {
    name: "a hash listed twice is ambiguous: both entries are left out",
    yaml: `keys:\n  - { id: a, tenant: acme, sha256: ${hash} }\n  - { id: b, tenant: other, sha256: ${hash} }\n`,
    ids: [],
    problems: [/^keys\[0\]: the same key hash/, /^keys\[1\]: the same key hash/],
  },
];

for (const { name, yaml, ids, problems } of entryCases) {
  test(`parseKeysFile: ${name}`, () => {
    const parsed = parseKeysFile(yaml);
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.entries.map((e) => e.id),
      ids,
    );
    assert.equal(parsed.problems.length, problems.length, parsed.problems.join("\n"));
    parsed.problems.forEach((p, i) => assert.match(p, problems[i] ?? /^$/));
  });
}

for (const yaml of ["keys: [\n", "keys: {}\n", "- a\n", "", "keys:\n  - a\nkeys: []\n"]) {
  test(`parseKeysFile refuses the whole file: ${JSON.stringify(yaml)}`, () => {
    const parsed = parseKeysFile(yaml);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.ok(parsed.errors.length > 0);
  });
}
