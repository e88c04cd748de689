/** How fast one sender may go: a bucket of `burst` tokens, refilled at `perSecond`. */
export interface RateLimit {
  /** Requests a sender may make at once after being quiet. */
  burst: number;
  /** Requests per second a sender may keep up. */
  perSecond: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/**
 * Token buckets per sender (a peer id string, an address…): each request takes a token, tokens come back at
 * `perSecond` up to `burst`. Memory is bounded: past `maxSenders`, buckets that have refilled completely are
 * forgotten (a full bucket is the same as none), and if that is not enough, the oldest ones.
 *
 * @example
 * const limiter = new RateLimiter({ burst: 30, perSecond: 0.5 });
 * if (!limiter.take(connection.remotePeer.toString())) return refuse('rate-limited');
 */
export class RateLimiter {
  readonly #limit: RateLimit;
  readonly #maxSenders: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit, options: { maxSenders?: number } = {}) {
    if (!(limit.burst >= 1) || !(limit.perSecond > 0)) {
      throw new RangeError(`A rate limit needs burst ≥ 1 and perSecond > 0, not ${JSON.stringify(limit)}`);
    }
    this.#limit = limit;
    this.#maxSenders = options.maxSenders ?? 100_000;
  }

  /** Takes a token for `sender`: true if it had one, false if it must wait. */
  take(sender: string, now = Date.now()): boolean {
    let bucket = this.#buckets.get(sender);
    if (bucket) {
      bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#limit.perSecond);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= this.#maxSenders) this.#prune(now);
      bucket = { tokens: this.#limit.burst, at: now };
      this.#buckets.set(sender, bucket);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Senders tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number) {
    const refillMs = (this.#limit.burst / this.#limit.perSecond) * 1000;
    for (const [sender, bucket] of this.#buckets) {
      if (now - bucket.at >= refillMs) this.#buckets.delete(sender);
    }
    // Still full of active senders: drop the oldest (Map order is insertion order), which favours them a little.
    for (const sender of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxSenders) break;
      this.#buckets.delete(sender);
    }
  }
}
