import type { GossipSub } from '@libp2p/gossipsub';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score';
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { LRUCache } from 'lru-cache';
import { TypedEventEmitter } from 'main-event';
import { CID } from 'multiformats/cid';
import { fetchDag } from '../ipfs/dag.js';
import type { NrpHelia } from '../ipfs/helia.js';
import { entryId } from '../lists/entry-id.js';
import {
  type Advert,
  checkAdvertFrom,
  createAdvert,
  decodeAdvert,
  encodeAdvert,
  verifyAdvertFrom,
} from './protocol/advert.js';
import type { NodeStore } from './store.js';
import type { TrafficPriority } from './traffic-priority.js';

const log = logger('nrp:node:adverts');

/** The gossipsub topic adverts travel on. */
export const ADVERT_TOPIC = 'nrp/adverts/1';

/**
 * Gossipsub's scoring of {@link ADVERT_TOPIC}: only invalid messages (P4) count, so that gossipsub itself
 * punishes what the validator rejects (malformed, forged, stale or listed adverts, unattested senders, floods).
 * Each rejection adds one to the sender's counter, which costs the counter squared and decays by 1% a second
 * (it halves in about 70 s). Eight rejections in a short time take a peer below the publish threshold of
 * `GOSSIP_SCORE_THRESHOLDS` (our adverts skip it), twenty below the graylist one (its messages are dropped
 * unread). Clean adverts are answered Ignore and never forwarded, so the mesh terms (P1–P3) mean nothing here
 * and are off.
 */
export const ADVERT_TOPIC_SCORE_PARAMS: TopicScoreParams = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.99,
});

/** CIDs an advert service remembers having seen: about 10 MB of strings. */
const MAX_SEEN_CIDS = 100_000;

/** Content held for less than this is advertised again to neighbours that join the topic. */
const READVERTISE_WINDOW_MS = 10 * 60_000;
const READVERTISE_MAX_ITEMS = 100;

export interface AdvertServiceInit {
  /** Fetch content others advertise. Default true; a node that only shares its own files can turn it off. */
  autoFetch?: boolean;
  /** Content larger than this is not fetched. Default 64 MiB. */
  maxFetchBytes?: number;
  /** Fetches at once; the rest wait, so list and rating traffic is never starved. Default 4. */
  fetchConcurrency?: number;
  /** Milliseconds a fetch may take. Default 60,000. */
  fetchTimeoutMs?: number;
  /** Adverts a peer may send per second on average, and in a burst. Default 50 and 200. */
  ratePerSecond?: number;
  burst?: number;
  /** Milliseconds to hold an advert from `peer` before acting on it: a penalty for badly rated peers. */
  delayFrom?: (peer: string) => number;
  /**
   * Share of clean adverts whose signature is verified, from 0 to 1. Default 1/64. Adverts kept as evidence
   * are always verified; see {@link AdvertService}.
   */
  signatureSampleRate?: number;
  /**
   * Whether to take content from `peer` at all. The node takes it only from neighbours that signed an edge
   * attestation of the connection: evidence against a peer counts only over such an edge, so a peer that
   * refuses to sign one would otherwise distribute without ever being accountable. Default: every peer.
   */
  acceptFrom?: (peer: PeerId, options: AbortOptions) => boolean | Promise<boolean>;
  /** List and rating traffic first: no new fetch starts while urgent traffic runs (`TrafficPriority`). */
  priority?: Pick<TrafficPriority, 'idle'>;
}

export interface AdvertServiceComponents {
  helia: NrpHelia<{ pubsub: GossipSub }>;
  privateKey: PrivateKey;
  store: NodeStore;
  /** Whether content is listed in any list this node enforces. */
  isListed: (cid: CID) => boolean;
}

/** A neighbour offered listed content; its signed advert is now evidence. */
export interface SightingEvent {
  cid: CID;
  fromPeer: string;
  advert: Advert;
}

/** An advert was refused before anything else was done with it. */
export interface RejectedAdvertEvent {
  fromPeer: string;
  reason: 'malformed' | 'bad-signature' | 'not-from-sender' | 'stale' | 'rate-limited' | 'unattested';
  message: string;
}

/** A neighbour's advert for clean content passed every check, after any delay on that neighbour. */
export interface AcceptedAdvertEvent {
  cid: CID;
  fromPeer: string;
  advert: Advert;
}

/** This node signed and gossiped an advert of its own. */
export interface AdvertisedEvent {
  cid: CID;
  /** The encoded, signed advert, as gossiped. */
  advert: Uint8Array;
}

export interface AdvertServiceEvents {
  /** New content is here, fetched from `fromPeer` or added locally, and advertised. */
  content: CustomEvent<{ cid: CID; size: number; name?: string; fromPeer?: string }>;
  sighting: CustomEvent<SightingEvent>;
  rejected: CustomEvent<RejectedAdvertEvent>;
  accepted: CustomEvent<AcceptedAdvertEvent>;
  advertised: CustomEvent<AdvertisedEvent>;
}

/**
 * Winny-style distribution over gossipsub. A node advertises content it holds
 * with an advert it signs itself; a node that receives one checks it, fetches
 * the content on demand over bitswap, and advertises it again under its own
 * signature. Gossipsub never forwards a received advert (the validator
 * answers Ignore), so every advert a node receives is signed by the neighbour
 * that sent it: "neighbour X offered me Y" is provable.
 *
 * Listed content is never fetched or advertised; its advert is kept as
 * evidence and answered Reject, so gossipsub's own scoring counts it against
 * the sender ({@link ADVERT_TOPIC_SCORE_PARAMS}).
 *
 * Gossip skips delayed neighbours; `DelayedAdverts` sends them our adverts
 * late (`advertised` events) and hands what they push to {@link receive}.
 *
 * Signature checks are sampled, because Ed25519 verification (~260 µs here)
 * would cap a node at a few thousand adverts a second. The rule: the sender
 * is always authenticated, since adverts are never forwarded and so come
 * straight over the sender's own noise-encrypted connection, and the advert
 * must name that peer as its sender; the advert signature is verified for
 * every advert kept as evidence (so a report never carries one that does not
 * verify) and for a random `signatureSampleRate` share of the others. A peer
 * caught with a bad signature is rejected, which gossipsub scores against it.
 */
export class AdvertService extends TypedEventEmitter<AdvertServiceEvents> {
  readonly #init: Required<Omit<AdvertServiceInit, 'delayFrom' | 'acceptFrom' | 'priority'>> &
    Pick<AdvertServiceInit, 'delayFrom' | 'acceptFrom' | 'priority'>;
  readonly #components: AdvertServiceComponents;
  /**
   * CIDs seen in adverts or held, so each is fetched and advertised once. Bounded, since a node runs for months:
   * a CID forgotten here is asked of the store again, which knows what is held.
   */
  readonly #seen = new LRUCache<string, true>({ max: MAX_SEEN_CIDS });
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #active = 0;
  readonly #queue: (() => void)[] = [];
  readonly #controller = new AbortController();

  constructor(components: AdvertServiceComponents, init: AdvertServiceInit = {}) {
    super();
    this.#components = components;
    this.#init = {
      autoFetch: init.autoFetch ?? true,
      maxFetchBytes: init.maxFetchBytes ?? 64 * 2 ** 20,
      fetchConcurrency: init.fetchConcurrency ?? 4,
      fetchTimeoutMs: init.fetchTimeoutMs ?? 60_000,
      ratePerSecond: init.ratePerSecond ?? 50,
      burst: init.burst ?? 200,
      delayFrom: init.delayFrom,
      acceptFrom: init.acceptFrom,
      priority: init.priority,
      signatureSampleRate: init.signatureSampleRate ?? 1 / 64,
    };
  }

  get #pubsub(): GossipSub {
    return this.#components.helia.libp2p.services.pubsub;
  }

  start() {
    this.#pubsub.topicValidators.set(ADVERT_TOPIC, (peer, message) => this.#validate(peer, message.data));
    this.#pubsub.addEventListener('subscription-change', this.#onSubscriptionChange);
    this.#pubsub.subscribe(ADVERT_TOPIC);
  }

  stop() {
    this.#controller.abort();
    clearTimeout(this.#readvertiseTimer);
    this.#pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange);
    this.#pubsub.unsubscribe(ADVERT_TOPIC);
    this.#pubsub.topicValidators.delete(ADVERT_TOPIC);
  }

  #readvertiseTimer?: ReturnType<typeof setTimeout>;

  /**
   * A neighbour that joins the advert topic missed the adverts sent before it did: advertise recent content
   * again (once per burst of joins). Others drop the repeat at once, since they know the CID.
   */
  readonly #onSubscriptionChange = ({
    detail,
  }: CustomEvent<{ subscriptions: { topic: string; subscribe: boolean }[] }>) => {
    if (!detail.subscriptions.some((s) => s.topic === ADVERT_TOPIC && s.subscribe)) return;
    clearTimeout(this.#readvertiseTimer);
    this.#readvertiseTimer = setTimeout(() => {
      const recent = this.#components.store.recentContent(Date.now() - READVERTISE_WINDOW_MS, READVERTISE_MAX_ITEMS);
      for (const content of recent) {
        if (this.#components.isListed(CID.parse(content.cid))) continue;
        this.#advertise(CID.parse(content.cid), content.size, content.name).catch(() => {});
      }
    }, 200);
  };

  /**
   * Adds content held here to what this node shares, and advertises it.
   * Refuses listed content.
   */
  async share(cid: CID, size: number, name?: string): Promise<void> {
    if (this.#components.isListed(cid)) throw new ListedContentError(cid);
    this.#seen.set(cid.toString(), true);
    this.#components.store.recordContent({ cid: cid.toString(), size, name, addedAt: Date.now() });
    await this.#advertise(cid, size, name);
    this.safeDispatchEvent('content', { detail: { cid, size, name } });
  }

  /** Content held here that a list now names: to be deleted, and never advertised again. */
  listedContent(): string[] {
    return this.#components.store
      .listContent()
      .filter((content) => this.#components.isListed(CID.parse(content.cid)))
      .map((content) => content.cid);
  }

  async #advertise(cid: CID, size: number, name?: string) {
    const advert = encodeAdvert(await createAdvert(this.#components.privateKey, { cid, size, name }));
    await this.#pubsub.publish(ADVERT_TOPIC, advert).catch((error: Error) => {
      // No subscribed peer yet: they will learn of it from the next holder.
      log('could not publish advert for %c: %s', cid, error.message);
    });
    // Gossip skips delayed neighbours (their score is below the publish threshold): they get it late, directly.
    this.safeDispatchEvent('advertised', { detail: { cid, advert } });
  }

  /**
   * Takes an advert that `peer` sent straight to this node rather than over gossip (see `DelayedAdverts`),
   * through the very checks a gossiped one goes through: rate limit, size and shape, signer, signature,
   * the sender's delay, the lists (evidence kept), the edge attestation. Resolves false if it was refused.
   */
  async receive(peer: PeerId, data: Uint8Array): Promise<boolean> {
    return (await this.#validate(peer, data)) !== TopicValidatorResult.Reject;
  }

  async #validate(peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    const fromPeer = peer.toString();
    const reject = (reason: RejectedAdvertEvent['reason'], text: string) => {
      this.safeDispatchEvent('rejected', { detail: { fromPeer, reason, message: text } });
      return TopicValidatorResult.Reject;
    };
    if (!this.#take(fromPeer)) return reject('rate-limited', 'too many adverts');
    let advert: Advert;
    try {
      advert = decodeAdvert(data);
    } catch (error) {
      return reject('malformed', (error as Error).message);
    }
    const listed = this.#components.isListed(advert.cid);
    try {
      // Nobody forwards adverts, so the peer that sent this one must be its sender.
      if (listed || Math.random() < this.#init.signatureSampleRate) await verifyAdvertFrom(advert, peer);
      else checkAdvertFrom(advert, peer);
    } catch (error) {
      const { name, message: text } = error as Error;
      const reason =
        name === 'SignerMismatchError' ? 'not-from-sender' : name === 'StaleMessageError' ? 'stale' : 'bad-signature';
      return reject(reason, text);
    }

    const delay = this.#init.delayFrom?.(fromPeer) ?? 0;
    if (delay > 0) await sleep(delay, this.#controller.signal);

    if (listed) {
      const isNew = this.#components.store.addEvidence({
        entryId: entryId(advert.cid),
        cid: advert.cid.toString(),
        fromPeer,
        advert: data,
        seenAt: Date.now(),
      });
      if (isNew) this.safeDispatchEvent('sighting', { detail: { cid: advert.cid, fromPeer, advert } });
      return TopicValidatorResult.Reject;
    }

    if (this.#init.acceptFrom && !(await this.#init.acceptFrom(peer, { signal: this.#controller.signal }))) {
      return reject('unattested', 'the neighbour does not sign an edge attestation of our connection');
    }
    // Only built when someone listens: this runs for every advert, and the benchmark counts them.
    if (this.listenerCount('accepted') > 0) {
      this.safeDispatchEvent('accepted', { detail: { cid: advert.cid, fromPeer, advert } });
    }
    const key = advert.cid.toString();
    if (this.#seen.has(key) || !this.#init.autoFetch || advert.size > this.#init.maxFetchBytes) {
      // Held, or being fetched: bitswap asks every neighbour for it, this one included.
      log.trace('advert of %c from %s: already held or on its way', advert.cid, fromPeer);
      return TopicValidatorResult.Ignore;
    }
    this.#seen.set(key, true);
    // Held from an earlier run: the store is asked once per CID, rather than read whole at start.
    if (!this.#components.store.hasContent(key)) void this.#fetchAndShare(advert, fromPeer);
    return TopicValidatorResult.Ignore;
  }

  async #fetchAndShare(advert: Advert, fromPeer: string) {
    await this.#slot();
    try {
      // A list version or verdicts on their way go first: this fetch starts once they are in.
      await this.#init.priority?.idle({ signal: this.#controller.signal });
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(this.#init.fetchTimeoutMs)]);
      log('fetching %c, advertised by %s', advert.cid, fromPeer);
      await fetchDag(this.#components.helia, advert.cid, { signal });
      // The list may have changed while the content was on its way.
      if (this.#components.isListed(advert.cid)) return;
      this.#components.store.recordContent({
        cid: advert.cid.toString(),
        size: advert.size,
        name: advert.name,
        fromPeer,
        addedAt: Date.now(),
      });
      await this.#advertise(advert.cid, advert.size, advert.name);
      this.safeDispatchEvent('content', {
        detail: { cid: advert.cid, size: advert.size, name: advert.name, fromPeer },
      });
    } catch (error) {
      // Another advert for it may come from a peer that can serve it.
      this.#seen.delete(advert.cid.toString());
      if (!this.#controller.signal.aborted) log('could not fetch %c from %s: %s', advert.cid, fromPeer, error);
    } finally {
      this.#release();
    }
  }

  /** Token bucket per peer. */
  #take(peer: string): boolean {
    const now = Date.now();
    const bucket = this.#buckets.get(peer) ?? { tokens: this.#init.burst, at: now };
    bucket.tokens = Math.min(this.#init.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#init.ratePerSecond);
    bucket.at = now;
    this.#buckets.set(peer, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #slot(): Promise<void> {
    if (this.#active < this.#init.fetchConcurrency) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }

  #release() {
    const next = this.#queue.shift();
    if (next) next();
    else this.#active--;
  }
}

/** Content that is listed cannot be shared. */
export class ListedContentError extends Error {
  override name = 'ListedContentError';
  constructor(readonly cid: CID) {
    super(`${cid} is listed by a list this node enforces; it cannot be shared`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}
