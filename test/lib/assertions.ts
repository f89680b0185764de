import assert from "node:assert/strict";
import { Metadata, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";

/** Element-wise comparison of number matrices with a relative tolerance. */
export function assertClose(actual: number[][], expected: number[][], rel = 1e-5): void {
  assert.equal(actual.length, expected.length, `rows: ${actual.length} vs ${expected.length}`);
  actual.forEach((row, i) => {
    const want = expected[i] ?? [];
    assert.equal(row.length, want.length, `row ${i} width`);
    row.forEach((v, j) => {
      const w = want[j] ?? NaN;
      assert.ok(Math.abs(v - w) <= rel * Math.max(1, Math.abs(w)), `[${i}][${j}]: ${v} != ${w}`);
    });
  });
}

/** The last overload of a ts-proto grpc-js unary method: (request, metadata, options, callback). */
type FullUnary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Promisifies one unary method of a ts-proto grpc-js client. */
export function grpcCall<C extends Client, K extends keyof C>(
  client: C,
  method: K,
  request: C[K] extends FullUnary<infer Req, infer _Res> ? Req : never,
  metadata: Metadata = new Metadata(),
): Promise<C[K] extends FullUnary<infer _Req, infer Res> ? Res : never> {
  return new Promise((resolve, reject) => {
    (client[method] as unknown as FullUnary<unknown, unknown>).call(
      client,
      request,
      metadata,
      {},
      (err, res) => (err ? reject(err) : resolve(res as never)),
    );
  });
}

/**
 * Polls check until it returns true, failing with what after timeoutMs: for a state that follows
 * an event the test cannot observe directly (an Envoy applying an ACKed removal).
 */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The gRPC error a call ends with; fails the test when the call succeeds. */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail("the call succeeded");
}
