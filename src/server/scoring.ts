import type { Rating } from '../node/protocol/verdict.js';

/**
 * The arithmetic of a rating server's scores, apart from the rules that pick
 * a rating, so the server, the simulator and their tests weigh evidence alike.
 * A score is the negated weight of the evidence against a peer: 0 is clean,
 * and the lower, the worse (the convention of the node's verdict tests).
 */

/** How the weight of one sighting is computed. */
export interface WeightOptions {
  /** The time the weight is computed at. */
  now: number;
  /** How long after a list version takes effect a peer may still not know it. */
  graceMs: number;
  /** Time for a sighting's weight to halve. */
  halfLifeMs: number;
  /** Weight of an advert dated before `effectiveAt + graceMs`. */
  beforeWeight: number;
  /** Weight of an advert dated at or after `effectiveAt + graceMs`: distributing what a peer had to know was listed. */
  afterWeight: number;
}

/** How bad each rating is, to pick the worst of several. */
export const SEVERITY: Readonly<Record<Rating, number>> = { white: 0, gray: 1, black: 2 };

/** The worse of two ratings. */
export function worseRating(x: Rating, y: Rating): Rating {
  return SEVERITY[y] > SEVERITY[x] ? y : x;
}

/** Whether an advert at `advertTime` came after the version listing its content took effect, grace included. */
export function isAfterGrace(advertTime: number, effectiveAt: number, graceMs: number): boolean {
  return advertTime >= effectiveAt + graceMs;
}

/** `0.5 ^ (age / halfLifeMs)`; 1 for evidence dated now or later, and no decay with a zero or infinite half-life. */
export function decayFactor(ageMs: number, halfLifeMs: number): number {
  if (ageMs <= 0 || halfLifeMs <= 0 || halfLifeMs === Number.POSITIVE_INFINITY) return 1;
  return 0.5 ** (ageMs / halfLifeMs);
}

/**
 * The weight of one sighting at `options.now`: `afterWeight` if its advert
 * came after the version took effect (grace included), `beforeWeight`
 * otherwise, halved every `halfLifeMs` since the advert.
 *
 * @example
 * sightingWeight({ advertTime, effectiveAt }, { now, graceMs: 600_000, halfLifeMs: 21_600_000, beforeWeight: 1, afterWeight: 4 });
 */
export function sightingWeight(sighting: { advertTime: number; effectiveAt: number }, options: WeightOptions): number {
  const base = isAfterGrace(sighting.advertTime, sighting.effectiveAt, options.graceMs)
    ? options.afterWeight
    : options.beforeWeight;
  return base * decayFactor(options.now - sighting.advertTime, options.halfLifeMs);
}

/** A score from a total weight: negated and rounded to 6 decimals, so it prints well and never is -0. */
export function scoreOf(weight: number): number {
  const score = -Math.round(weight * 1e6) / 1e6;
  return score === 0 ? 0 : score;
}
