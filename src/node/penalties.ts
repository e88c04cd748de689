import type { ConnectionGater, Libp2p, PeerId } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import { TypedEventEmitter } from 'main-event';
import type { PeerLike } from './protocol/peer.js';
import type { Rating } from './protocol/verdict.js';
import type { RatedVerdict, RatingsClient, ServerPriority } from './ratings.js';

const log = logger('nrp:node:penalties');

/** What a node does to a badly rated neighbour, from mildest to strongest. */
export type PenaltyKind = 'none' | 'delay' | 'disconnect';

const STRENGTH: Record<PenaltyKind, number> = { none: 0, delay: 1, disconnect: 2 };

/**
 * The product's penalty table: the penalty one verdict calls for, by its
 * rating and the priority of the server that gave it.
 */
export const PENALTY_TABLE: Readonly<Record<Rating, Readonly<Record<ServerPriority, PenaltyKind>>>> = {
  black: { high: 'disconnect', low: 'delay' },
  gray: { high: 'delay', low: 'none' },
  white: { high: 'none', low: 'none' },
};

/** What one verdict needs to count towards a penalty. */
export type PenaltyVerdict = Pick<
  RatedVerdict,
  'server' | 'priority' | 'rating' | 'score' | 'reason' | 'evidence' | 'expiresAt'
>;

/** One verdict behind a penalty: the explanation a node operator gets. */
export interface PenaltyCause extends PenaltyVerdict {
  /** What this verdict alone calls for. */
  effect: PenaltyKind;
}

/** A peer's penalty and why. */
export interface Penalty {
  /** The strongest penalty any unexpired verdict calls for. */
  kind: PenaltyKind;
  /** Every unexpired verdict that calls for a penalty, strongest first. Empty when `kind` is `none`. */
  because: PenaltyCause[];
  /** When `kind` ends (the last expiry of the verdicts that call for it); a milder one may follow. */
  until?: number;
}

/**
 * Expiry passes are at least this far apart, so verdicts that expire one after another cost one pass a second
 * at most. Answers never wait for them: they are computed when asked.
 */
const MIN_REFRESH_GAP_MS = 1_000;

/** The longest the expiry timer sleeps in one go. */
const MAX_SLEEP_MS = 3_600_000;

const NO_PENALTY: Penalty = Object.freeze({ kind: 'none', because: [] }) as Penalty;

/**
 * The penalty that a peer's verdicts call for at `now`: each unexpired
 * verdict gives one by {@link PENALTY_TABLE}, and the strongest wins. Pure,
 * so the simulator applies the same rule as the node.
 *
 * @example
 * penaltyFromVerdicts(ratings.verdictsFor(peer)).kind; // 'disconnect'
 */
export function penaltyFromVerdicts(verdicts: Iterable<PenaltyVerdict>, now = Date.now()): Penalty {
  const because: PenaltyCause[] = [];
  for (const verdict of verdicts) {
    if (verdict.expiresAt <= now) continue;
    const effect = PENALTY_TABLE[verdict.rating][verdict.priority];
    if (effect === 'none') continue;
    because.push({
      server: verdict.server,
      priority: verdict.priority,
      rating: verdict.rating,
      score: verdict.score,
      reason: verdict.reason,
      evidence: verdict.evidence,
      expiresAt: verdict.expiresAt,
      effect,
    });
  }
  if (because.length === 0) return NO_PENALTY;
  because.sort((a, b) => STRENGTH[b.effect] - STRENGTH[a.effect] || b.expiresAt - a.expiresAt);
  const kind = because[0].effect;
  const until = Math.max(...because.filter((cause) => cause.effect === kind).map((cause) => cause.expiresAt));
  return { kind, because, until };
}

/** Where penalties come from: a {@link RatingsClient}, or anything that answers the same way. */
export type VerdictSource = Pick<
  RatingsClient,
  'verdictsFor' | 'allVerdicts' | 'addEventListener' | 'removeEventListener'
>;

export interface PenaltyManagerComponents {
  ratings: VerdictSource;
}

/** The weight of the application score (P5) in a peer's gossipsub score: gossipsub's default, set explicitly. */
export const APP_SPECIFIC_WEIGHT = 10;

/**
 * Gossipsub's score thresholds, which the penalties' application scores are chosen against. A peer's score is
 * its application score × {@link APP_SPECIFIC_WEIGHT}, less the advert topic's penalty for rejected adverts
 * (`ADVERT_TOPIC_SCORE_PARAMS`: the count squared), the IP colocation and the behaviour penalties (never more):
 *
 * - an unrated peer, at 0, gets everything;
 * - a delayed peer, at -100 by default, is below the publish threshold, so our flood-published adverts skip it
 *   (it gets them late and directly, see `DelayedAdverts`), and below the gossip threshold (no IHAVE/IWANT).
 *   It stays well above the graylist threshold, so what it sends is still taken, and held back by `delayMs`;
 *   the wide band leaves room for the penalties gossipsub adds on its own (four broken promises, or six
 *   surplus peers on one IP, or seventeen rejected adverts, still leave it there);
 * - a peer to disconnect, at -10,000 by default, is graylisted until the hang-up.
 *
 * gossipsub requires graylist ≤ publish ≤ gossip ≤ 0. Its default graylist threshold is -80.
 */
export const GOSSIP_SCORE_THRESHOLDS = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -400,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 20,
} as const;

/**
 * Source addresses gossipsub's IP colocation penalty (P6) leaves alone: loopback. Many peers behind one address
 * looks like a Sybil attack on the internet, but on one machine (a local test network, the demo) it is the
 * normal case, and past ten peers the penalty would push every one of them out of our gossip.
 */
export const IP_COLOCATION_WHITELIST: ReadonlySet<string> = new Set(['127.0.0.1', '::1']);

export interface PenaltyManagerInit {
  /**
   * Milliseconds to hold what a delayed peer sends, our adverts to it, and the blocks served to it. Default 2,000.
   */
  delayMs?: number;
  /**
   * Gossipsub's application score (P5) for a delayed peer. Default -10, which with
   * {@link APP_SPECIFIC_WEIGHT} puts it between the publish and graylist thresholds of
   * {@link GOSSIP_SCORE_THRESHOLDS}: out of the mesh and skipped by our gossip, but still heard.
   */
  delayScore?: number;
  /** Gossipsub's application score for a peer to disconnect: far below the graylist threshold. Default -1,000. */
  disconnectScore?: number;
}

export interface PenaltyChangeEvent {
  peer: string;
  penalty: Penalty;
  previous: Penalty;
}

export interface PenaltyManagerEvents {
  /** A peer's penalty changed in kind or in end time. */
  change: CustomEvent<PenaltyChangeEvent>;
}

/** The part of libp2p the manager acts on. */
export type PenaltyLibp2p = Pick<Libp2p, 'hangUp' | 'getConnections'>;

/**
 * Applies the penalty table to neighbours from the verdicts of the servers
 * this node follows, and explains each penalty.
 *
 * - `disconnect`: hangs up on the peer, and its {@link connectionGater}
 *   refuses dials to and from it until the deciding verdicts expire;
 * - `delay`: {@link appSpecificScore} takes it out of the gossipsub mesh and
 *   out of our gossip (see {@link GOSSIP_SCORE_THRESHOLDS}), and
 *   {@link delayFor} tells the advert service how long to hold its adverts
 *   and bitswap how long to hold the blocks it serves to that peer, and
 *   {@link delayTo} tells `DelayedAdverts` how long to hold ours to it.
 *
 * Every answer is computed from the verdicts at the time of asking, so an
 * expired verdict stops counting at once; new verdicts, and a timer at the
 * next expiry, re-evaluate the penalised peers to emit `change` events.
 * A server that goes silent only lets its verdicts run out: it never causes
 * a mass disconnection.
 *
 * @example
 * const penalties = new PenaltyManager({ ratings });
 * const helia = await createNrpHelia({
 *   libp2p: {
 *     connectionGater: penalties.connectionGater(),
 *     services: {
 *       pubsub: gossipsub({
 *         scoreParams: { appSpecificScore: penalties.appSpecificScore, appSpecificWeight: APP_SPECIFIC_WEIGHT },
 *         scoreThresholds: GOSSIP_SCORE_THRESHOLDS,
 *       }),
 *     },
 *   },
 * });
 * penalties.start(helia.libp2p);
 * penalties.penaltyOf(peerId); // { kind: 'disconnect', because: [{ server, rating: 'black', evidence, … }], until }
 */
export class PenaltyManager extends TypedEventEmitter<PenaltyManagerEvents> {
  readonly #ratings: VerdictSource;
  readonly #init: Required<PenaltyManagerInit>;
  #penalties = new Map<string, Penalty>();
  #libp2p?: PenaltyLibp2p;
  #timer?: ReturnType<typeof setTimeout>;
  #started = false;
  readonly #onVerdicts = () => this.refresh();

  constructor(components: PenaltyManagerComponents, init: PenaltyManagerInit = {}) {
    super();
    this.#ratings = components.ratings;
    this.#init = {
      delayMs: init.delayMs ?? 2_000,
      delayScore: init.delayScore ?? -10,
      disconnectScore: init.disconnectScore ?? -1_000,
    };
  }

  /**
   * Starts acting: hangs up on connected peers to disconnect, and re-evaluates
   * whenever verdicts change or expire. Without `libp2p`, it only emits events.
   */
  start(libp2p?: PenaltyLibp2p): void {
    if (this.#started) return;
    this.#started = true;
    this.#libp2p = libp2p;
    this.#ratings.addEventListener('verdicts', this.#onVerdicts);
    this.refresh();
  }

  stop(): void {
    this.#started = false;
    this.#ratings.removeEventListener('verdicts', this.#onVerdicts);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The penalty on `peer` now, with every verdict behind it. */
  penaltyOf(peer: PeerLike, now = Date.now()): Penalty {
    return penaltyFromVerdicts(this.#ratings.verdictsFor(peer, now), now);
  }

  /** Every penalised peer as of the last evaluation (see {@link refresh}). */
  get penalties(): ReadonlyMap<string, Penalty> {
    return this.#penalties;
  }

  /**
   * Milliseconds to hold what `peer` sends and the blocks served to it: for the advert service's `delayFrom` and
   * Helia's `serveDelay`. Bound, so it can be passed as is.
   */
  readonly delayFor = (peer: string): number => (this.penaltyOf(peer).kind === 'none' ? 0 : this.#init.delayMs);

  /**
   * Milliseconds to hold our adverts to `peer`, for `DelayedAdverts`: `delayMs` for a delayed peer, which our
   * gossip skips; 0 for others, which gossip reaches, or which are to be disconnected and get nothing.
   */
  readonly delayTo = (peer: string): number => (this.penaltyOf(peer).kind === 'delay' ? this.#init.delayMs : 0);

  /** Gossipsub's P5 score for `peer`: 0, or negative for penalised peers. Bound, for `scoreParams`. */
  readonly appSpecificScore = (peer: string): number => {
    const { kind } = this.penaltyOf(peer);
    if (kind === 'disconnect') return this.#init.disconnectScore;
    return kind === 'delay' ? this.#init.delayScore : 0;
  };

  /**
   * A libp2p connection gater that refuses to dial, or to finish a connection
   * with, a peer whose penalty is `disconnect`. Pass it at node creation; it
   * consults the manager on every connection, so it works before `start`.
   */
  connectionGater(): ConnectionGater {
    const deny = (peer: PeerId) => {
      const penalty = this.penaltyOf(peer);
      if (penalty.kind !== 'disconnect') return false;
      log(
        'refused a connection with %p until %s: %s',
        peer,
        new Date(penalty.until ?? 0).toISOString(),
        explain(penalty),
      );
      return true;
    };
    return {
      denyDialPeer: deny,
      // Inbound, the peer is known only once the connection is encrypted.
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
    };
  }

  /**
   * Re-evaluates every rated peer: emits `change` for each penalty that changed and hangs up on new
   * disconnects. Runs on every `verdicts` event; expiries alone are handled by a cheaper pass.
   */
  refresh(): void {
    const now = Date.now();
    const byPeer = new Map<string, RatedVerdict[]>();
    for (const verdict of this.#ratings.allVerdicts(now)) {
      const list = byPeer.get(verdict.peer);
      if (list) list.push(verdict);
      else byPeer.set(verdict.peer, [verdict]);
    }
    const next = new Map<string, Penalty>();
    for (const [peer, verdicts] of byPeer) {
      const penalty = penaltyFromVerdicts(verdicts, now);
      if (penalty.kind !== 'none') next.set(peer, penalty);
    }
    this.#update(next, new Set([...this.#penalties.keys(), ...next.keys()]), now);
  }

  /** At an expiry: only penalised peers with an expired cause can change, so only they are looked at again. */
  #expire() {
    const now = Date.now();
    const next = new Map(this.#penalties);
    const changed: string[] = [];
    for (const [peer, penalty] of this.#penalties) {
      if (!penalty.because.some((cause) => cause.expiresAt <= now)) continue;
      const after = this.penaltyOf(peer, now);
      if (after.kind === 'none') next.delete(peer);
      else next.set(peer, after);
      changed.push(peer);
    }
    this.#update(next, changed, now);
  }

  #update(next: Map<string, Penalty>, peers: Iterable<string>, now: number) {
    const previous = this.#penalties;
    this.#penalties = next;
    let connected: Set<string> | undefined;
    for (const peer of peers) {
      const before = previous.get(peer) ?? NO_PENALTY;
      const after = next.get(peer) ?? NO_PENALTY;
      if (before.kind === after.kind && before.until === after.until) continue;
      if (log.enabled) log('%s: %s → %s (%s)', peer, before.kind, after.kind, explain(after));
      if (after.kind === 'disconnect' && before.kind !== 'disconnect') {
        connected ??= new Set(this.#libp2p?.getConnections().map((c) => c.remotePeer.toString()));
        if (connected.has(peer)) this.#hangUp(peer);
      }
      this.safeDispatchEvent('change', { detail: { peer, penalty: after, previous: before } });
    }
    if (this.#started) this.#schedule(now);
  }

  #hangUp(peer: string) {
    this.#libp2p?.hangUp(peerIdFromString(peer)).catch((error: Error) => {
      log.error('could not hang up on %s: %e', peer, error);
    });
  }

  /** Wakes at the next expiry of any verdict behind a penalty, so events and hang-ups follow the verdicts. */
  #schedule(now: number) {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const penalty of this.#penalties.values()) {
      for (const cause of penalty.because) next = Math.min(next, cause.expiresAt);
    }
    if (next === Number.POSITIVE_INFINITY) return;
    // setTimeout fires at once for delays over 2^31 - 1 ms, so a far expiry is reached in steps.
    const delay = Math.min(MAX_SLEEP_MS, Math.max(MIN_REFRESH_GAP_MS, next - now + 1));
    this.#timer = setTimeout(() => this.#expire(), delay);
    // The node's libp2p keeps the process alive while it runs; this timer alone should not.
    this.#timer.unref?.();
  }
}

/** One line for logs: the strongest cause. */
function explain(penalty: Penalty): string {
  const [cause] = penalty.because;
  if (!cause) return 'no verdict';
  const evidence = cause.evidence.length > 0 ? `; evidence ${cause.evidence.join(', ')}` : '';
  return `${cause.rating} from ${cause.priority}-priority server ${cause.server}: ${cause.reason}${evidence}`;
}
