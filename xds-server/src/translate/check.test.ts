/**
 * The incremental consistency index against the whole check: after every change in a long random
 * sequence (resources taken out, put back, duplicated, renamed inside, pointed at nothing, given a
 * taken key, and the whole repaired), the index says "consistent" exactly when checkRecords finds no problem.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { kindTable, type KindInfo } from "../resources/index.js";
import { checkRecords, ConsistencyIndex, recordsOf, type RecordSet, type ResourceRecord } from "./check.js";
import { goldenCase } from "./testing/index.js";

/** A small deterministic generator (mulberry32): a failure replays with the same seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Held {
  entry: KindInfo;
  record: ResourceRecord;
}

test("the index says consistent exactly when checkRecords finds nothing, change after change", () => {
  const start = recordsOf(goldenCase("weighted-canary").resources.envoy);
  const pool: Held[] = kindTable.flatMap((entry) => start[entry.set].map((record) => ({ entry, record })));
  assert.ok(pool.some((h) => h.entry.uniqueKey) && pool.some((h) => h.record.refs.some((r) => r.length > 0)));
  for (const seed of [1, 2, 3, 4, 5]) {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const index = new ConsistencyIndex();
    const held: Held[] = [];
    const add = (h: Held) => {
      held.push(h);
      index.add(h.entry, h.record);
    };
    for (const h of pool) add(h);
    const seen = { consistent: 0, inconsistent: 0 };
    for (let step = 0; step < 400; step++) {
      const roll = next();
      if (roll < 0.1) {
        // Repair: every odd or doubled record out, every missing one of the start back in.
        const kept = new Set<Held>();
        for (const h of [...held]) {
          if (!pool.includes(h) || kept.has(h)) {
            held.splice(held.indexOf(h), 1);
            index.remove(h.entry, h.record);
          } else kept.add(h);
        }
        for (const h of pool) if (!kept.has(h)) add(h);
      } else if (roll < 0.35 && held.length > 0) {
        const [gone] = held.splice(Math.floor(next() * held.length), 1);
        index.remove(gone!.entry, gone!.record);
      } else if (roll < 0.75) {
        // Put back something of the start, perhaps a second time (a duplicate name).
        add(pick(pool));
      } else {
        const { entry, record } = pick(pool);
        const odd: ResourceRecord =
          roll < 0.82
            ? { ...record, inside: `${record.inside}-inside` }
            : roll < 0.9
              ? { ...record, refs: record.refs.map((names) => [...names, "nowhere"]) }
              : roll < 0.95
                ? { ...record, name: `${record.name}-twin`, inside: `${record.name}-twin` }
                : { ...record, key: "shared-key" };
        add({ entry, record: odd });
      }
      const set = Object.fromEntries(
        kindTable.map((e) => [e.set, held.filter((h) => h.entry === e).map((h) => h.record)]),
      ) as unknown as RecordSet;
      const problems = checkRecords(set);
      assert.equal(
        index.consistent,
        problems.length === 0,
        `seed ${seed} step ${step}: ${JSON.stringify(problems)}`,
      );
      seen[index.consistent ? "consistent" : "inconsistent"]++;
    }
    // Both answers came up, so the comparison was not always the easy one.
    assert.ok(seen.consistent > 0 && seen.inconsistent > 0, `seed ${seed}: ${JSON.stringify(seen)}`);
  }
});
