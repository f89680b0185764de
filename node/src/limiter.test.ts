import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import { Limiter } from "./limiter.js";

test("admits up to maxConcurrent at once, queues the rest in order", async () => {
  const limiter = new Limiter({ maxConcurrent: 2, maxQueue: 2 });
  const a = await limiter.acquire();
  const b = await limiter.acquire();
  const order: string[] = [];
  const c = limiter.acquire().then((r) => (order.push("c"), r));
  const d = limiter.acquire().then((r) => (order.push("d"), r));
  assert.equal(limiter.running, 2);
  assert.equal(limiter.queued, 2);
  a();
  (await c)();
  b();
  (await d)();
  assert.deepEqual(order, ["c", "d"]);
  assert.equal(limiter.running, 0);
  assert.equal(limiter.queued, 0);
});

test("a full queue refuses at once with RESOURCE_EXHAUSTED", async () => {
  const limiter = new Limiter({ maxConcurrent: 1, maxQueue: 1 });
  const release = await limiter.acquire();
  const queued = limiter.acquire();
  await assert.rejects(
    limiter.acquire(),
    (err: unknown) => err instanceof GatewayError && err.code === status.RESOURCE_EXHAUSTED,
  );
  release();
  (await queued)();
  assert.equal(limiter.running, 0);
});

test("an abandoned waiter leaves the queue and gets its reason", async () => {
  const limiter = new Limiter({ maxConcurrent: 1, maxQueue: 4 });
  const release = await limiter.acquire();
  let abandon: ((e: GatewayError) => void) | undefined;
  const waiting = limiter.acquire((w) => (abandon = (e) => w.abandon(e)));
  abandon?.(new GatewayError(status.DEADLINE_EXCEEDED, "late"));
  await assert.rejects(
    waiting,
    (err: unknown) => err instanceof GatewayError && err.code === status.DEADLINE_EXCEEDED,
  );
  assert.equal(limiter.queued, 0);
  release();
  assert.equal(limiter.running, 0);
});

test("releasing twice frees one slot only", async () => {
  const limiter = new Limiter({ maxConcurrent: 1, maxQueue: 0 });
  const release = await limiter.acquire();
  release();
  release();
  assert.equal(limiter.running, 0);
  const again = await limiter.acquire();
  assert.equal(limiter.running, 1);
  again();
});
