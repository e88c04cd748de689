import type { AbortOptions } from '@libp2p/interface';
import { logger } from '@libp2p/logger';

const log = logger('nrp:node:priority');

export interface TrafficPriorityInit {
  /**
   * The longest a content fetch waits for urgent work, in ms. A list version whose payload no peer serves is
   * fetched again and again until a timeout each time: content must not stall behind it. Default 10,000.
   */
  maxHoldMs?: number;
}

/**
 * Priority of list and rating traffic over data traffic on one node. libp2p has no stream priorities, and
 * bitswap's want priority only decides which wants a peer evicts, not what it sends first; so the node keeps
 * its own links free: while urgent work runs (a list version's payload or a verdict snapshot being fetched),
 * no new content fetch starts, for up to `maxHoldMs`. Fetches under way finish, and the bounded fetch
 * concurrency keeps them few.
 *
 * @example
 * const priority = new TrafficPriority();
 * const sync = new ListSync(init, { client, blockstore, urgent: priority.urgent });
 * const adverts = new AdvertService(components, { priority });
 */
export class TrafficPriority {
  readonly #maxHoldMs: number;
  #urgent = 0;
  #waiting: (() => void)[] = [];

  constructor(init: TrafficPriorityInit = {}) {
    this.#maxHoldMs = init.maxHoldMs ?? 10_000;
  }

  /** Whether urgent work runs now. */
  get busy(): boolean {
    return this.#urgent > 0;
  }

  /** Runs `work` as urgent: content fetches wait until it and any other urgent work settle. Bound. */
  readonly urgent = async <T>(work: () => Promise<T>): Promise<T> => {
    if (this.#urgent++ === 0) log('urgent traffic: content fetches wait');
    try {
      return await work();
    } finally {
      if (--this.#urgent === 0) {
        log('urgent traffic done: %d content fetches go on', this.#waiting.length);
        for (const resume of this.#waiting.splice(0)) resume();
      }
    }
  };

  /**
   * Resolves once no urgent work runs (at once if none does), or after `maxHoldMs` however long the urgent work
   * takes. Rejects if `signal` aborts first.
   */
  idle(options: AbortOptions = {}): Promise<void> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#urgent === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      const forget = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiting = this.#waiting.filter((waiting) => waiting !== resume);
      };
      const resume = () => {
        forget();
        resolve();
      };
      const onAbort = () => {
        forget();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        log('urgent traffic still under way after %d ms: a content fetch goes ahead', this.#maxHoldMs);
        resume();
      }, this.#maxHoldMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(resume);
    });
  }
}
