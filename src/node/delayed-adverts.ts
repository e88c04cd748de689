import type { Libp2p, PeerId } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import type { AdvertisedEvent, AdvertService } from './adverts.js';
import { MAX_ADVERT_BYTES } from './protocol/advert.js';
import { handleRequests, request } from './rpc.js';

const log = logger('nrp:node:delayed-adverts');

/** Our advert to a delayed neighbour: one request (an encoded, signed advert), one empty response (received). */
export const ADVERT_PUSH_PROTOCOL = '/nrp/advert/1.0.0';

/**
 * A push is read up to this size, as gossipsub reads a message up to its own limit: within it the advert service
 * judges, and refuses an advert over `MAX_ADVERT_BYTES` as malformed, as it does a gossiped one. A larger push
 * resets the stream unread.
 */
export const MAX_ADVERT_PUSH_BYTES = 4 * MAX_ADVERT_BYTES;

const RECEIVED = new Uint8Array(0);

export interface DelayedAdvertsInit {
  /** Milliseconds to hold our adverts to `peer`; 0 for a peer our gossip reaches (or that gets nothing). */
  delayTo: (peer: string) => number;
  /** Milliseconds one push may take. Default 10,000. */
  timeoutMs?: number;
  /** Adverts held for one neighbour at most; more are dropped. Default 1,000. */
  maxQueued?: number;
}

export interface DelayedAdvertsComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'getPeers' | 'getConnections' | 'peerStore'>;
  adverts: Pick<AdvertService, 'receive' | 'addEventListener' | 'removeEventListener'>;
}

interface Outbox {
  peerId: PeerId;
  queue: { advert: Uint8Array; dueAt: number }[];
  timer?: ReturnType<typeof setTimeout>;
  sending: boolean;
}

/**
 * Our adverts to delayed neighbours, late, over `/nrp/advert/1.0.0`.
 *
 * A delayed neighbour's gossipsub score is below the publish threshold (see
 * `GOSSIP_SCORE_THRESHOLDS`), so our gossip skips it. Each advert this node
 * signs is held `delayTo(peer)` for each such neighbour, then sent to it
 * directly, one at a time per neighbour, over the connection it already has
 * (never a new dial), if identify says it speaks the protocol.
 *
 * On receipt, the bytes go through the advert service's own checks, as a
 * gossiped advert does ({@link AdvertService.receive}): rate limit, size and
 * shape, signer, signature, the sender's delay, the lists (evidence kept) and
 * the edge attestation, with the same `rejected` events. The answer only says
 * that the push was read.
 *
 * @example
 * const delayed = new DelayedAdverts({ libp2p, adverts }, { delayTo: penalties.delayTo });
 * await delayed.start();
 * await adverts.share(cid, size); // gossiped now; pushed to delayed neighbours `delayMs` later
 */
export class DelayedAdverts {
  readonly #components: DelayedAdvertsComponents;
  readonly #init: Required<DelayedAdvertsInit>;
  readonly #outboxes = new Map<string, Outbox>();
  readonly #running = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #started = false;

  constructor(components: DelayedAdvertsComponents, init: DelayedAdvertsInit) {
    this.#components = components;
    this.#init = { delayTo: init.delayTo, timeoutMs: init.timeoutMs ?? 10_000, maxQueued: init.maxQueued ?? 1_000 };
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { libp2p, adverts } = this.#components;
    await handleRequests(
      libp2p,
      ADVERT_PUSH_PROTOCOL,
      async (message, { remotePeer }) => this.#receive(remotePeer, message),
      {
        maxRequestBytes: MAX_ADVERT_PUSH_BYTES,
        timeoutMs: this.#init.timeoutMs,
      },
    );
    adverts.addEventListener('advertised', this.#onAdvertised);
  }

  /** Drops what is held, and waits for pushes under way (which it aborts). */
  async stop(): Promise<void> {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort();
    this.#components.adverts.removeEventListener('advertised', this.#onAdvertised);
    for (const outbox of this.#outboxes.values()) clearTimeout(outbox.timer);
    this.#outboxes.clear();
    if (this.#started) {
      await this.#components.libp2p
        .unhandle(ADVERT_PUSH_PROTOCOL)
        .catch((error: Error) => log('could not unhandle: %s', error.message));
    }
    await Promise.allSettled(this.#running);
  }

  /** Adverts held for `peer` now. */
  pending(peer: PeerId | string): number {
    return this.#outboxes.get(peer.toString())?.queue.length ?? 0;
  }

  /** Answers at once: the checks (and the delay this node may put on the sender) take their own time. */
  #receive(remotePeer: PeerId, message: Uint8Array): Uint8Array {
    this.#components.adverts.receive(remotePeer, message).catch((error: Error) => {
      log.error('could not take an advert pushed by %p: %e', remotePeer, error);
    });
    return RECEIVED;
  }

  readonly #onAdvertised = ({ detail }: CustomEvent<AdvertisedEvent>) => {
    const now = Date.now();
    for (const peerId of this.#components.libp2p.getPeers()) {
      const delay = this.#init.delayTo(peerId.toString());
      if (delay > 0) this.#hold(peerId, detail.advert, now + delay);
    }
  };

  #hold(peerId: PeerId, advert: Uint8Array, dueAt: number) {
    const key = peerId.toString();
    let outbox = this.#outboxes.get(key);
    if (!outbox) {
      outbox = { peerId, queue: [], sending: false };
      this.#outboxes.set(key, outbox);
    }
    if (outbox.queue.length >= this.#init.maxQueued) {
      log('%s has %d adverts held already: dropped one', key, outbox.queue.length);
      return;
    }
    outbox.queue.push({ advert, dueAt });
    if (!outbox.sending && outbox.timer === undefined) this.#schedule(key, outbox);
  }

  #schedule(key: string, outbox: Outbox) {
    const next = Math.min(...outbox.queue.map((item) => item.dueAt));
    outbox.timer = setTimeout(
      () => {
        outbox.timer = undefined;
        const drain = this.#drain(key, outbox);
        this.#running.add(drain);
        void drain.finally(() => this.#running.delete(drain));
      },
      Math.max(0, next - Date.now()),
    );
  }

  /** Sends what is due, one push at a time, so a neighbour never has more than one of our streams open. */
  async #drain(key: string, outbox: Outbox) {
    outbox.sending = true;
    try {
      while (!this.#controller.signal.aborted) {
        const now = Date.now();
        const index = outbox.queue.findIndex((item) => item.dueAt <= now);
        if (index < 0) break;
        const [item] = outbox.queue.splice(index, 1);
        if (!(await this.#send(outbox.peerId, item.advert))) outbox.queue.length = 0;
      }
    } finally {
      outbox.sending = false;
    }
    if (this.#controller.signal.aborted) return;
    if (outbox.queue.length > 0) this.#schedule(key, outbox);
    else this.#outboxes.delete(key);
  }

  /** Pushes one advert; false when the neighbour is gone or does not speak the protocol (drop the rest). */
  async #send(peerId: PeerId, advert: Uint8Array): Promise<boolean> {
    const { libp2p } = this.#components;
    const connection = libp2p.getConnections(peerId).find((c) => c.status === 'open');
    if (!connection) {
      log('%p is gone: its held adverts are dropped', peerId);
      return false;
    }
    const known = await libp2p.peerStore.get(peerId).catch(() => undefined);
    if (!known?.protocols.includes(ADVERT_PUSH_PROTOCOL)) {
      log('%p does not speak %s: it gets no delayed adverts', peerId, ADVERT_PUSH_PROTOCOL);
      return false;
    }
    try {
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(this.#init.timeoutMs)]);
      await request(
        { dialProtocol: (_peer, protocol, options) => connection.newStream(protocol, options) },
        peerId,
        ADVERT_PUSH_PROTOCOL,
        advert,
        { signal, maxResponseBytes: 16 },
      );
    } catch (error) {
      if (!this.#controller.signal.aborted) log('could not push an advert to %p: %s', peerId, (error as Error).message);
    }
    return true;
  }
}
