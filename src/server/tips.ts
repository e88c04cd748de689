import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import { InvalidCidError, parseCid } from '../lists/entry-id.js';
import { MAX_CID_BYTES } from '../node/protocol/codec.js';
import {
  BadSignatureError,
  MessageTooLargeError,
  SignerMismatchError,
  StaleMessageError,
} from '../node/protocol/errors.js';
import { type PeerLike, peerIdToString } from '../node/protocol/peer.js';
import {
  decodeTip,
  MAX_TIP_BYTES,
  MAX_TIP_CATEGORY_BYTES,
  MAX_TIP_REASON_BYTES,
  TIP_MAX_AGE_MS,
  TIP_MAX_SKEW_MS,
  type Tip,
  verifyTip,
} from '../node/protocol/tip.js';
import { handleRequests } from '../node/rpc.js';
import {
  encodeTipAck,
  MAX_TIP_ACK_MESSAGE_BYTES,
  TIP_PROTOCOL,
  type TipAck,
  type TipRejectionReason,
} from '../node/tip-sender.js';
import { HttpApiError, type HttpRequest, type HttpRoute } from '../utils/http-api.js';
import { type RateLimit, RateLimiter } from './rate-limit.js';
import {
  type ServerStore,
  type StoredTip,
  TipAlreadyDecidedError,
  TipAlreadyProposedError,
  TipNotAcceptedError,
  TipNotFoundError,
  type TipSource,
  type TipStatus,
} from './store.js';

const log = logger('nrp:server:tips');

/** The sender of every tip from the HTTP form, which has no key to sign with. */
export const HTTP_TIP_SENDER = 'http';

/** Most tips one `GET /tips` answers with. */
export const MAX_TIP_LIST_LIMIT = 1000;

/** Room for a message a little over the limit, so it gets a `too-large` answer instead of a reset stream. */
const OVERSIZE_ALLOWANCE = 16 * 1024;

/** A tip is refused for `reason`; the message says what exactly. */
export class TipRejectedError extends Error {
  override name = 'TipRejectedError';
  constructor(
    readonly reason: TipRejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/** A tip as the HTTP API and the CLI show it (no signed bytes). */
export interface TipView {
  id: number;
  cid: string;
  category: string;
  reason: string;
  /** The signer's peer id, or `'http'` for a tip from the HTTP form. */
  sender: string;
  source: TipSource;
  /** The sender's signed time (ms); for an HTTP tip, when it arrived. */
  time: number;
  receivedAt: number;
  status: TipStatus;
  decidedAt?: number;
  /** When the tip went into a list proposal, and its id. */
  proposedAt?: number;
  proposal?: string;
}

/** The fields of a tip from the HTTP form. */
export interface TipSubmission {
  cid: string;
  category: string;
  reason: string;
}

export interface TipDeskComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>;
  /** Where tips go; the desk does not close it. */
  store: Pick<ServerStore, 'addTip' | 'tip' | 'recentTips' | 'decideTip' | 'markTipsProposed' | 'countTips'>;
}

export interface TipDeskInit {
  /** Tips per peer over libp2p: default 10 at once, then one a minute. `false`: no limit. */
  rateLimit?: RateLimit | false;
  /**
   * Tips per client address through the HTTP form: default 20 at once, then one every 30 s. Behind a reverse
   * proxy every client has the proxy's address, so this is then the form's limit as a whole. `false`: no limit.
   */
  httpRateLimit?: RateLimit | false;
  /** Pending tips at most: past it, new ones are refused as `queue-full` until the operator decides some. Default 10,000. */
  maxPending?: number;
  /** How old a tip may be. Default `TIP_MAX_AGE_MS` (10 minutes). */
  maxAgeMs?: number;
  /** How far ahead of this server's clock a tip may be. Default `TIP_MAX_SKEW_MS` (1 minute). */
  maxSkewMs?: number;
  /** Milliseconds one exchange may take. Default 10,000. */
  timeoutMs?: number;
}

export interface ReceivedTipEvent {
  tip: TipView;
  duplicate: boolean;
}

export interface RejectedTipEvent {
  /** The peer id that sent it, or `http:<address>`. */
  from: string;
  reason: TipRejectionReason;
  message: string;
}

export interface TipDeskEvents {
  /** A tip was stored (or was a duplicate of a stored one). */
  tip: CustomEvent<ReceivedTipEvent>;
  /** A tip was refused. */
  rejected: CustomEvent<RejectedTipEvent>;
  /** The operator accepted or rejected a tip. */
  decided: CustomEvent<TipView>;
  /** Accepted tips went into a list proposal. */
  proposed: CustomEvent<TipView[]>;
}

/**
 * A rating server's tip-off desk. Anyone sends a signed tip (a CID, a category, a reason) over
 * `/nrp/tip/1.0.0`, or an unsigned one through the HTTP form (`POST /tips`); each is rate-limited per peer or
 * address, checked (from its signer, fresh, signed, within limits) and stored as pending, and the sender gets
 * the tip's id, or a {@link TipRejectionReason} and nothing is stored. The operator then accepts or rejects each
 * (a decision is final), and `nrp server propose` bundles the accepted ones into a list proposal and marks them.
 *
 * @example
 * const desk = new TipDesk({ libp2p: helia.libp2p, store });
 * await desk.start();
 * const routes = tipRoutes(desk); // GET /tips, POST /tips, POST /tips/<id>/accept|reject, POST /tips/proposed
 */
export class TipDesk extends TypedEventEmitter<TipDeskEvents> {
  readonly #components: TipDeskComponents;
  readonly #init: { maxPending: number; maxAgeMs: number; maxSkewMs: number; timeoutMs: number };
  readonly #limiter?: RateLimiter;
  readonly #httpLimiter?: RateLimiter;
  #started = false;
  #stopped = false;

  constructor(components: TipDeskComponents, init: TipDeskInit = {}) {
    super();
    this.#components = components;
    this.#init = {
      maxPending: init.maxPending ?? 10_000,
      maxAgeMs: init.maxAgeMs ?? TIP_MAX_AGE_MS,
      maxSkewMs: init.maxSkewMs ?? TIP_MAX_SKEW_MS,
      timeoutMs: init.timeoutMs ?? 10_000,
    };
    const rateLimit = init.rateLimit ?? { burst: 10, perSecond: 1 / 60 };
    if (rateLimit !== false) this.#limiter = new RateLimiter(rateLimit);
    const httpRateLimit = init.httpRateLimit ?? { burst: 20, perSecond: 1 / 30 };
    if (httpRateLimit !== false) this.#httpLimiter = new RateLimiter(httpRateLimit);
  }

  /** Serves the tip protocol. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await handleRequests(
      this.#components.libp2p,
      TIP_PROTOCOL,
      async (message, { remotePeer, signal }) => encodeTipAck(await this.receive(message, remotePeer, { signal })),
      { maxRequestBytes: MAX_TIP_BYTES + OVERSIZE_ALLOWANCE, timeoutMs: this.#init.timeoutMs },
    );
    log('serving %s', TIP_PROTOCOL);
  }

  /** Stops serving the tip protocol. Does not close the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#started) {
      await this.#components.libp2p
        .unhandle(TIP_PROTOCOL)
        .catch((error: Error) => log('could not unhandle: %s', error.message));
    }
  }

  /**
   * Checks one encoded tip sent by `from` and stores it if it passes; resolves with the ack to send. Rejects
   * only if the store fails (the sender gets no ack and may retry). `start` serves the protocol with it.
   *
   * @example
   * const ack = await desk.receive(bytes, connection.remotePeer);
   */
  async receive(message: Uint8Array, from: PeerLike, options: AbortOptions & { now?: number } = {}): Promise<TipAck> {
    const peer = peerString(from);
    try {
      if (this.#limiter && !this.#limiter.take(peer)) {
        throw new TipRejectedError('rate-limited', `${peer} sent more tips than it may; try again later`);
      }
      let tip: Tip;
      try {
        tip = decodeTip(message);
      } catch (error) {
        const reason = error instanceof MessageTooLargeError ? 'too-large' : 'malformed';
        throw new TipRejectedError(reason, (error as Error).message);
      }
      checkNotBlank(tip);
      try {
        await verifyTip(tip, {
          sender: from,
          now: options.now,
          maxAgeMs: this.#init.maxAgeMs,
          maxSkewMs: this.#init.maxSkewMs,
        });
      } catch (error) {
        throw toRejection(error);
      }
      options.signal?.throwIfAborted();
      this.#checkRoom();
      const { id, duplicate } = this.#components.store.addTip({
        sender: peerIdToString(tip.sender),
        cid: tip.cid.toString(),
        category: tip.category,
        reason: tip.reason,
        time: tip.time,
        bytes: message,
        receivedAt: Date.now(),
      });
      this.#stored(id, duplicate);
      return { stored: true, id, duplicate };
    } catch (error) {
      if (!(error instanceof TipRejectedError)) {
        log.error('could not take a tip from %s: %e', peer, error);
        throw error;
      }
      this.#rejected(peer, error);
      return {
        stored: false,
        reason: error.reason,
        message: truncateUtf8(error.message, MAX_TIP_ACK_MESSAGE_BYTES),
      };
    }
  }

  /**
   * Takes a tip from the HTTP form, sent from `address`: checks its fields and stores it as pending. Throws
   * {@link TipRejectedError} (`malformed`, `too-large`, `rate-limited` or `queue-full`).
   *
   * @example
   * const { id, duplicate } = desk.submit({ cid, category: 'malware', reason: 'Seen on a forum' }, '127.0.0.1');
   */
  submit(fields: unknown, address = 'unknown'): { id: number; duplicate: boolean } {
    const from = `http:${address}`;
    try {
      if (this.#httpLimiter && !this.#httpLimiter.take(from)) {
        throw new TipRejectedError('rate-limited', 'Too many tips from this address; try again later');
      }
      const submission = parseSubmission(fields);
      this.#checkRoom();
      const now = Date.now();
      const { id, duplicate } = this.#components.store.addTip({
        sender: HTTP_TIP_SENDER,
        source: 'http',
        ...submission,
        time: now,
        bytes: new TextEncoder().encode(JSON.stringify(submission)),
        receivedAt: now,
      });
      this.#stored(id, duplicate);
      return { id, duplicate };
    } catch (error) {
      if (error instanceof TipRejectedError) this.#rejected(from, error);
      throw error;
    }
  }

  /** Tips newest first, optionally of one status and proposed or not, below id `before`, at most `limit` (default 100). */
  list(options: { status?: TipStatus; proposed?: boolean; before?: number; limit?: number } = {}): TipView[] {
    return this.#components.store.recentTips(options).map(tipView);
  }

  /** One tip, if there is one with this id. */
  get(id: number): TipView | undefined {
    const tip = this.#components.store.tip(id);
    return tip && tipView(tip);
  }

  /** Accepts a pending tip. Throws `TipNotFoundError` or `TipAlreadyDecidedError`. */
  accept(id: number): TipView {
    return this.#decide(id, 'accepted');
  }

  /** Rejects a pending tip. Throws `TipNotFoundError` or `TipAlreadyDecidedError`. */
  reject(id: number): TipView {
    return this.#decide(id, 'rejected');
  }

  /**
   * Records that accepted tips went into list proposal `proposal`: all of them or none. Throws
   * `TipNotFoundError`, `TipNotAcceptedError` or `TipAlreadyProposedError`.
   */
  markProposed(ids: readonly number[], proposal: string): TipView[] {
    const tips = this.#components.store.markTipsProposed(ids, proposal).map(tipView);
    log('tips %s went into proposal %s', ids.join(', '), proposal);
    this.safeDispatchEvent('proposed', { detail: tips });
    return tips;
  }

  #decide(id: number, status: 'accepted' | 'rejected'): TipView {
    const tip = tipView(this.#components.store.decideTip(id, status));
    log('tip %d %s', id, status);
    this.safeDispatchEvent('decided', { detail: tip });
    return tip;
  }

  #checkRoom() {
    if (this.#components.store.countTips('pending') >= this.#init.maxPending) {
      throw new TipRejectedError(
        'queue-full',
        `This server holds ${this.#init.maxPending} pending tips already; try again later`,
      );
    }
  }

  #stored(id: number, duplicate: boolean) {
    const tip = this.get(id);
    if (!tip) return;
    log('%s tip %d from %s: %s %s', duplicate ? 'duplicate' : 'new', id, tip.sender, tip.category, tip.cid);
    this.safeDispatchEvent('tip', { detail: { tip, duplicate } });
  }

  #rejected(from: string, error: TipRejectedError) {
    log('refused a tip from %s (%s): %s', from, error.reason, error.message);
    this.safeDispatchEvent('rejected', { detail: { from, reason: error.reason, message: error.message } });
  }
}

/** A stored tip without its bytes, for JSON. */
export function tipView(tip: StoredTip): TipView {
  const view: TipView = {
    id: tip.id,
    cid: tip.cid,
    category: tip.category,
    reason: tip.reason,
    sender: tip.sender,
    source: tip.source,
    time: tip.time,
    receivedAt: tip.receivedAt,
    status: tip.status,
  };
  if (tip.decidedAt !== undefined) view.decidedAt = tip.decidedAt;
  if (tip.proposedAt !== undefined) {
    view.proposedAt = tip.proposedAt;
    view.proposal = tip.proposal;
  }
  return view;
}

/**
 * How a list payload names a tip in an entry's `tips`: `nrp-tip:<server peer id>/<tip id>/<sender>`, the sender
 * being a peer id or `http`.
 *
 * @example
 * tipReference(server.peerId, tip) // 'nrp-tip:12D3KooW…/7/12D3KooX…'
 */
export function tipReference(server: string, tip: Pick<TipView, 'id' | 'sender'>): string {
  return `nrp-tip:${server}/${tip.id}/${tip.sender}`;
}

/** The parts of a {@link tipReference}, or undefined for any other string. */
export function parseTipReference(reference: string): { server: string; id: number; sender: string } | undefined {
  const match = /^nrp-tip:([^/]+)\/(\d+)\/([^/]+)$/.exec(reference);
  if (!match) return undefined;
  return { server: match[1] as string, id: Number(match[2]), sender: match[3] as string };
}

// ─── HTTP API ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The tip routes of the server's HTTP API:
 * - `GET /tips?status=pending|accepted|rejected&proposed=true|false&before=<id>&limit=N` → `{ tips: TipView[] }`,
 *   newest first (default limit 100, at most {@link MAX_TIP_LIST_LIMIT});
 * - `POST /tips`, public, a JSON or HTML-form body `{cid, category, reason}` → `{ id, duplicate }`; 400 for bad
 *   fields, 429 when rate-limited, 503 when the queue is full;
 * - `POST /tips/<id>/accept` and `POST /tips/<id>/reject`, operator only → the updated tip; 404 for an unknown
 *   id, 409 for a tip already decided;
 * - `POST /tips/proposed`, operator only, `{ids: number[], proposal: string}` → `{ tips: TipView[] }`; 404, or
 *   409 for a tip not accepted or already proposed.
 */
export function tipRoutes(desk: TipDesk): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/tips',
      query: ['status', 'proposed', 'before', 'limit'],
      handle: ({ query }) => {
        const status = query.get('status');
        if (status !== null && !['pending', 'accepted', 'rejected'].includes(status)) {
          throw new HttpApiError(`status must be pending, accepted or rejected, not ${status}`);
        }
        const proposed = query.get('proposed');
        if (proposed !== null && proposed !== 'true' && proposed !== 'false') {
          throw new HttpApiError(`proposed must be true or false, not ${proposed}`);
        }
        const limit = wholeNumber(query.get('limit'), 'limit', 1, MAX_TIP_LIST_LIMIT);
        const before = wholeNumber(query.get('before'), 'before', 1, Number.MAX_SAFE_INTEGER);
        return {
          tips: desk.list({
            status: (status ?? undefined) as TipStatus | undefined,
            proposed: proposed === null ? undefined : proposed === 'true',
            before,
            limit,
          }),
        };
      },
    },
    {
      method: 'POST',
      path: '/tips',
      handle: async (request) => {
        const body = await request.json();
        try {
          return desk.submit(body, request.raw.socket.remoteAddress);
        } catch (error) {
          if (!(error instanceof TipRejectedError)) throw error;
          const status = error.reason === 'rate-limited' ? 429 : error.reason === 'queue-full' ? 503 : 400;
          throw new HttpApiError(error.message, status);
        }
      },
    },
    {
      method: 'POST',
      path: /^\/tips\/([^/]+)\/(accept|reject)$/,
      auth: true,
      handle: ({ params }) => {
        const id = tipId(params[0] as string);
        return decision(() => (params[1] === 'accept' ? desk.accept(id) : desk.reject(id)));
      },
    },
    {
      method: 'POST',
      path: '/tips/proposed',
      auth: true,
      handle: async (request: HttpRequest) => {
        const { ids, proposal } = parseProposed(await request.json());
        return { tips: decision(() => desk.markProposed(ids, proposal)) };
      },
    },
  ];
}

/** Runs a decision, turning the store's errors into HTTP statuses. */
function decision<T>(decide: () => T): T {
  try {
    return decide();
  } catch (error) {
    if (error instanceof TipNotFoundError) throw new HttpApiError(error.message, 404);
    if (
      error instanceof TipAlreadyDecidedError ||
      error instanceof TipNotAcceptedError ||
      error instanceof TipAlreadyProposedError
    ) {
      throw new HttpApiError(error.message, 409);
    }
    throw error;
  }
}

function tipId(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) === 0) throw new HttpApiError(`"${text}" is not a tip id`);
  return Number(text);
}

function wholeNumber(text: string | null, name: string, min: number, max: number): number | undefined {
  if (text === null) return undefined;
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new HttpApiError(`${name} must be a whole number from ${min} to ${max}, not ${text}`);
  }
  return Number(text);
}

function parseProposed(body: unknown): { ids: number[]; proposal: string } {
  const value = body as { ids?: unknown; proposal?: unknown } | null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpApiError('the body must be an object {ids, proposal}');
  }
  const { ids, proposal } = value;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
    throw new HttpApiError('ids must be a non-empty list of tip ids');
  }
  if (typeof proposal !== 'string' || !/^\d{1,80}$/.test(proposal)) {
    throw new HttpApiError('proposal must be a proposal id (a decimal string)');
  }
  return { ids: [...new Set(ids as number[])], proposal };
}

/** The fields of a form tip, checked as strictly as a signed tip's. */
function parseSubmission(fields: unknown): TipSubmission {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new TipRejectedError('malformed', 'A tip is an object {cid, category, reason}');
  }
  const record = fields as Record<string, unknown>;
  const extra = Object.keys(record).find((key) => !['cid', 'category', 'reason'].includes(key));
  if (extra !== undefined) throw new TipRejectedError('malformed', `A tip has no field "${extra}"`);
  const text = (name: 'cid' | 'category' | 'reason', maxBytes: number): string => {
    const value = record[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new TipRejectedError('malformed', `The tip's "${name}" must be a non-empty string`);
    }
    if (Buffer.byteLength(value) > maxBytes) {
      throw new TipRejectedError('too-large', `The tip's "${name}" is over ${maxBytes} UTF-8 bytes`);
    }
    return value;
  };
  const cidText = text('cid', 256).trim();
  let cid: string;
  try {
    const parsed = parseCid(cidText);
    if (parsed.bytes.length > MAX_CID_BYTES) {
      throw new TipRejectedError('too-large', `The CID is ${parsed.bytes.length} bytes, over ${MAX_CID_BYTES}`);
    }
    cid = parsed.toString();
  } catch (error) {
    if (error instanceof InvalidCidError) throw new TipRejectedError('malformed', `"${cidText}" is not a CID`);
    throw error;
  }
  return { cid, category: text('category', MAX_TIP_CATEGORY_BYTES), reason: text('reason', MAX_TIP_REASON_BYTES) };
}

/** A signed tip's category and reason are non-empty by the protocol; all white space is as good as empty. */
function checkNotBlank(tip: Tip) {
  for (const field of ['category', 'reason'] as const) {
    if (tip[field].trim() === '') throw new TipRejectedError('malformed', `The tip's "${field}" is blank`);
  }
}

function toRejection(error: unknown): TipRejectedError {
  const message = (error as Error).message;
  if (error instanceof SignerMismatchError) return new TipRejectedError('wrong-sender', message);
  if (error instanceof StaleMessageError) {
    return new TipRejectedError(error.reason === 'future' ? 'future' : 'stale', message);
  }
  if (error instanceof BadSignatureError) return new TipRejectedError('bad-signature', message);
  // verifyTip throws a TypeError for a connection from a peer that is not Ed25519: it cannot have signed.
  if (error instanceof TypeError) return new TipRejectedError('wrong-sender', message);
  throw error;
}

function peerString(from: PeerLike | PeerId): string {
  if (typeof from === 'string') return from;
  if (from instanceof Uint8Array) return peerIdToString(from);
  return from.toString();
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, with an ellipsis if cut. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes - 3);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}…`;
}
