import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";

export interface LimiterOptions {
  /** Inferences that run at once. */
  maxConcurrent: number;
  /** Calls that may wait for a slot; one more is refused with RESOURCE_EXHAUSTED. */
  maxQueue: number;
}

export interface Waiter {
  /** Gives up the wait (deadline passed, client went away); a no-op once admitted. */
  abandon(reason: GatewayError): void;
}

interface Pending {
  admit: () => void;
  reject: (err: GatewayError) => void;
}

/**
 * A concurrency limit with a bounded FIFO queue. A bounded queue keeps latency bounded under
 * overload: callers learn at once that the node is full and can go elsewhere, instead of
 * waiting behind work that will outlive their deadline.
 */
export class Limiter {
  #running = 0;
  readonly #queue: Pending[] = [];

  constructor(readonly options: LimiterOptions) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with a release function once a slot is free. Throws RESOURCE_EXHAUSTED at once when
   * the queue is full. `onWait` receives a handle to abandon the wait.
   */
  acquire(onWait?: (w: Waiter) => void): Promise<() => void> {
    if (this.#running < this.options.maxConcurrent) {
      this.#running++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new GatewayError(
          status.RESOURCE_EXHAUSTED,
          `node is at capacity: ${this.options.maxConcurrent} running and ${this.options.maxQueue} queued; retry later or on another node`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        admit: () => resolve(this.#releaser()),
        reject,
      };
      this.#queue.push(pending);
      onWait?.({
        abandon: (reason) => {
          const i = this.#queue.indexOf(pending);
          if (i < 0) return;
          this.#queue.splice(i, 1);
          reject(reason);
        },
      });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next.admit();
      else this.#running--;
    };
  }
}
