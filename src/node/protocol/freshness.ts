import { StaleMessageError } from './errors.js';

/**
 * How fresh a message's time must be. Each `verify…` function has its own
 * defaults; pass `Infinity` to turn a bound off.
 */
export interface FreshnessOptions {
  /** The current time in ms since the epoch; `Date.now()` by default. Tests and replays of old logs set it. */
  now?: number;
  /** How far in the future a time may be, for clocks that run ahead. */
  maxSkewMs?: number;
  /** How old a time may be. */
  maxAgeMs?: number;
}

/** Throws {@link StaleMessageError} if `time` is older than `maxAgeMs` or more than `maxSkewMs` ahead of `now`. */
export function checkFreshness(
  time: number,
  what: string,
  options: FreshnessOptions,
  defaults: { maxSkewMs: number; maxAgeMs: number },
): void {
  const now = options.now ?? Date.now();
  const maxSkewMs = options.maxSkewMs ?? defaults.maxSkewMs;
  const maxAgeMs = options.maxAgeMs ?? defaults.maxAgeMs;
  if (time > now + maxSkewMs) {
    throw new StaleMessageError(
      `The ${what} is dated ${time - now} ms in the future, more than the allowed skew of ${maxSkewMs} ms`,
      'future',
    );
  }
  if (time < now - maxAgeMs) {
    throw new StaleMessageError(`The ${what} is ${now - time} ms old, older than the allowed ${maxAgeMs} ms`, 'old');
  }
}
