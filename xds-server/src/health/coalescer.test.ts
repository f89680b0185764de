import assert from "node:assert/strict";
import { test } from "node:test";
import { createCoalescer } from "./coalescer.js";
import { createFakeClock } from "./testing/index.js";

function setup(windowMs = 200, changed = () => true) {
  const clock = createFakeClock(1_000);
  const flushes: number[] = [];
  const c = createCoalescer({
    windowMs,
    clock,
    flush: () => {
      const did = changed();
      if (did) flushes.push(clock.now());
      return did;
    },
  });
  return { clock, flushes, c };
}

test("the first change after a quiet window is flushed at once, changes of the same tick together", async () => {
  const { clock, flushes, c } = setup();
  c.notify();
  c.notify();
  c.notify();
  await clock.advance(0);
  assert.deepEqual(flushes, [1_000]);
});

test("changes inside the window wait for its end and go out as one flush", async () => {
  const { clock, flushes, c } = setup();
  c.notify();
  await clock.advance(50);
  c.notify();
  await clock.advance(50);
  c.notify();
  await clock.advance(200);
  assert.deepEqual(flushes, [1_000, 1_200]);
  await clock.advance(1_000);
  c.notify();
  await clock.advance(0);
  assert.deepEqual(flushes, [1_000, 1_200, 2_300], "quiet again: at once");
});

test("notifying non-stop flushes once per window: at most D / window + 1 in D", async () => {
  const { clock, flushes, c } = setup(200);
  for (let t = 0; t < 10_000; t += 10) {
    c.notify();
    await clock.advance(10);
  }
  await clock.advance(200);
  assert.ok(flushes.length <= 10_000 / 200 + 1, `${flushes.length} flushes`);
  assert.ok(flushes.length >= 10_000 / 200 - 1, `${flushes.length} flushes: the feed keeps flowing`);
  for (let i = 1; i < flushes.length; i++) assert.ok(flushes[i]! - flushes[i - 1]! >= 200);
});

test("a flush with nothing to send does not start a window", async () => {
  let changed = false;
  const { clock, flushes, c } = setup(200, () => changed);
  c.notify();
  await clock.advance(0);
  assert.deepEqual(flushes, []);
  changed = true;
  c.notify();
  await clock.advance(0);
  assert.deepEqual(flushes, [1_000]);
});

test("cancel drops a pending flush", async () => {
  const { clock, flushes, c } = setup();
  c.notify();
  c.cancel();
  await clock.advance(1_000);
  assert.deepEqual(flushes, []);
  assert.equal(clock.pendingTimers(), 0);
});
