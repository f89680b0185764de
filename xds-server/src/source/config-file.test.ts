/** ConfigFile: loads, refusals, and the admin API's edits as transactions between loads. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { parseConfig, type Config } from "@inferencehub/contracts/config";
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

test("a load after a write reads that write; loads asked for while one waits share it", async () => {
  const path = join(dir, "loads.yaml");
  const applied: Config[] = [];
  const file = new ConfigFile({ path, log: pino({ level: "silent" }), onConfig: (c) => applied.push(c) });
  await writeFile(path, text(100));
  assert.equal((await file.load()).status, "applied");
  await writeFile(path, text(90));
  const [a, b] = [file.load(), file.load()];
  assert.equal(a, b, "the second request joins the load that has not started");
  assert.equal((await a).status, "applied");
  assert.equal(file.current?.models[0]?.versions[0]?.weight, 90);

  await writeFile(path, "models: [");
  assert.equal((await file.load()).status, "invalid");
  assert.equal(file.current?.models[0]?.versions[0]?.weight, 90, "the last good config keeps serving");
  assert.equal(applied.length, 2);
});

// issue #10 finding 4: an admin edit wrote the file and then asked for a load while the watcher's
// load (of the file before the write) was in flight; it got that load's "unchanged", answered
// 500, and the load queued behind applied the edit anyway, unaudited. An edit is now a
// transaction between loads, and applies what it wrote itself.
test("issue #10 finding 4: an edit is one transaction: a load asked for meanwhile runs after it and finds it applied", async () => {
  const path = join(dir, "edit.yaml");
  const applied: number[] = [];
  const file = new ConfigFile({
    path,
    log: pino({ level: "silent" }),
    onConfig: (c) => applied.push(c.models[0]!.versions[0]!.weight),
  });
  await writeFile(path, text(100));
  await file.load();
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const edit = file.transact(async (base) => {
    assert.equal(base.hash, base.currentHash);
    await gate;
    return { text: text(77), config: parsed(text(77)) };
  });
  const load = file.load();
  release();
  const result = await edit;
  assert.equal(result.status, "applied");
  assert.equal((await load).status, "unchanged", "the load ran after the edit and read what it wrote");
  assert.deepEqual(applied, [100, 77]);
  assert.equal(await readFile(path, "utf8"), text(77));
  assert.equal(file.version, result.hash);
});

test("issue #10 finding 4: a refused or failed edit leaves the file and what serves as they were", async () => {
  const path = join(dir, "refused.yaml");
  let fail = false;
  const applied: number[] = [];
  const file = new ConfigFile({
    path,
    log: pino({ level: "silent" }),
    onConfig: (c) => {
      if (fail) throw new Error("snapshot refused");
      applied.push(c.models[0]!.versions[0]!.weight);
    },
  });
  await writeFile(path, text(100));
  await file.load();
  const hash = file.version;

  await assert.rejects(
    file.transact(() => {
      throw new Error("refused by the plan");
    }),
    /refused by the plan/,
  );
  fail = true;
  await assert.rejects(
    file.transact(() => ({ text: text(60), config: parsed(text(60)) })),
    /snapshot refused/,
  );
  fail = false;
  assert.equal(await readFile(path, "utf8"), text(100), "the file is put back");
  assert.equal(file.version, hash);
  assert.equal(file.current?.models[0]?.versions[0]?.weight, 100);
  assert.equal((await file.load()).status, "unchanged");

  // Nothing to change: no write at all.
  const noop = await file.transact(() => undefined);
  assert.deepEqual([noop.status, noop.hash], ["unchanged", hash]);
  assert.deepEqual(applied, [100]);
});
