/** ConfigFile: loads, refusals, and a text parsed by the admin API not parsed a second time. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { parseConfig, type Config } from "../config/index.js";
import { ConfigFile } from "./config-file.js";

const text = (weight: number) => `nodes: [{ name: n1, address: "127.0.0.1:9001" }]
models:
  - name: scale
    versions:
      - { version: "1", weight: ${weight}, nodes: [n1] }
      - { version: "2", weight: ${100 - weight}, nodes: [n1] }
`;

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferencehub-config-file-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function parsed(t: string): Config {
  const r = parseConfig(t);
  assert.ok(r.ok);
  return r.value;
}

test("a text announced as validated is taken as is; any other text is parsed", async () => {
  const path = join(dir, "inferencehub.yaml");
  const applied: Config[] = [];
  const file = new ConfigFile({ path, log: pino({ level: "silent" }), onConfig: (c) => applied.push(c) });
  await writeFile(path, text(100));
  assert.equal((await file.load()).status, "applied");

  // The same object back proves the file was not parsed again.
  const known = parsed(text(90));
  file.prevalidated(text(90), known);
  await writeFile(path, text(90));
  const result = await file.load();
  assert.ok(result.status === "applied");
  assert.equal(result.config, known);

  // Announced, but the file holds something else: that is parsed (and refused here).
  file.prevalidated(text(80), parsed(text(80)));
  await writeFile(path, "models: [");
  assert.equal((await file.load()).status, "invalid");
  assert.equal(file.current, known, "the last good config keeps serving");
  assert.equal(applied.length, 2);
});
