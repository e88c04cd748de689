import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { TypedEventEmitter } from 'main-event';
import { pinnedToPeer } from '../ipfs/peer-address.js';
import { PollingLoop } from '../utils/polling-loop.js';
import { type Migration, openDatabase, transaction } from '../utils/sqlite.js';
import { type CborRecord, decodeMessage, encodeMessage, readCount, readRecord } from './protocol/codec.js';
import { DeltaBaseMismatchError, MessageDecodeError, SignerMismatchError } from './protocol/errors.js';
import { type PeerIdBytes, type PeerLike, peerIdToString, samePeer, toPeerIdBytes } from './protocol/peer.js';
import { SequenceTracker } from './protocol/sequence.js';
import {
  applyVerdictDelta,
  decodeVerdictDelta,
  decodeVerdictSnapshot,
  encodeVerdictDelta,
  encodeVerdictSnapshot,
  MAX_VERDICT_SNAPSHOT_BYTES,
  type Rating,
  type Verdict,
  type VerdictDelta,
  type VerdictSnapshot,
  type VerdictState,
  verifyVerdictDelta,
  verifyVerdictSnapshot,
} from './protocol/verdict.js';
import { type HandleOptions, handleRequests, request } from './rpc.js';

const log = logger('nrp:node:ratings');

/** The protocol a node asks a rating server for its verdicts on. */
export const RATINGS_PROTOCOL = '/nrp/ratings/1.0.0';

/** A ratings request is a tiny map; anything bigger is not one. */
export const MAX_RATINGS_REQUEST_BYTES = 64;

/** A response wraps one encoded snapshot or delta, plus a few bytes of framing. */
export const MAX_RATINGS_RESPONSE_BYTES = MAX_VERDICT_SNAPSHOT_BYTES + 64;

/** How much a node trusts a server it follows: see the penalty table in `penalties.ts`. */
export type ServerPriority = 'high' | 'low';

export const SERVER_PRIORITIES: readonly ServerPriority[] = ['high', 'low'];

// ─── Wire format ─────────────────────────────────────────────────────────────────────────────────────────────

/** What a node asks: everything, or what changed since the snapshot `since` it already holds. */
export interface RatingsRequest {
  since?: number;
}

/**
 * What a server answers: its newest signed snapshot, a signed delta from the
 * requested `since`, or `unchanged` when `since` is already its newest
 * sequence number. `unchanged` carries no verdict, so it needs no signature.
 */
export type RatingsResponse = { snapshot: VerdictSnapshot } | { delta: VerdictDelta } | { unchanged: number };

const RESPONSE_FIELDS = ['snapshot', 'delta', 'unchanged'] as const;

/** Encodes a request as dag-cbor: `{}` or `{ since }`. */
export function encodeRatingsRequest(req: RatingsRequest = {}): Uint8Array {
  const value: CborRecord = req.since === undefined ? {} : { since: req.since };
  return encodeMessage(value, 'ratings request', MAX_RATINGS_REQUEST_BYTES);
}

/** Decodes a request strictly: a map with at most a `since` count, nothing else. */
export function decodeRatingsRequest(bytes: Uint8Array): RatingsRequest {
  const what = 'ratings request';
  const record = readRecord(decodeMessage(bytes, what, MAX_RATINGS_REQUEST_BYTES), what, [], ['since']);
  return Object.hasOwn(record, 'since') ? { since: readCount(record, 'since', what) } : {};
}

/**
 * Encodes a response: a dag-cbor map with exactly one field, `snapshot` or
 * `delta` holding the message's own encoding (so its signature is checked
 * over exactly the bytes the server signed), or `unchanged` holding a count.
 */
export function encodeRatingsResponse(response: RatingsResponse): Uint8Array {
  let value: CborRecord;
  if ('snapshot' in response) value = { snapshot: encodeVerdictSnapshot(response.snapshot) };
  else if ('delta' in response) value = { delta: encodeVerdictDelta(response.delta) };
  else value = { unchanged: response.unchanged };
  return encodeMessage(value, 'ratings response', MAX_RATINGS_RESPONSE_BYTES);
}

/** Decodes a response strictly, including the snapshot or delta inside; signatures are not checked here. */
export function decodeRatingsResponse(bytes: Uint8Array): RatingsResponse {
  const what = 'ratings response';
  const record = readRecord(decodeMessage(bytes, what, MAX_RATINGS_RESPONSE_BYTES), what, [], RESPONSE_FIELDS);
  const keys = Object.keys(record);
  if (keys.length !== 1) throw new MessageDecodeError(`The ${what} must have exactly one of ${RESPONSE_FIELDS}`);
  if (keys[0] === 'unchanged') return { unchanged: readCount(record, 'unchanged', what) };
  const inner = record[keys[0]];
  if (!(inner instanceof Uint8Array)) throw new MessageDecodeError(`The ${what}'s "${keys[0]}" must be bytes`);
  return keys[0] === 'snapshot' ? { snapshot: decodeVerdictSnapshot(inner) } : { delta: decodeVerdictDelta(inner) };
}

// ─── Server side ─────────────────────────────────────────────────────────────────────────────────────────────

/** Where {@link serveRatings} finds what to answer. */
export interface RatingsSource {
  /** The newest signed snapshot; `undefined` while the server has none (the request is then reset). */
  getSnapshot(): VerdictSnapshot | undefined | Promise<VerdictSnapshot | undefined>;
  /** A signed delta from `since` to the newest snapshot, if the server keeps one; else the snapshot is sent. */
  getDelta?(since: number): VerdictDelta | undefined | Promise<VerdictDelta | undefined>;
}

/**
 * Serves `/nrp/ratings/1.0.0` for a rating server: a request `{ since? }`
 * gets `unchanged` if `since` is the newest seq, a delta if the source has
 * one from `since` to the newest, otherwise the newest snapshot. Each
 * snapshot or delta object is encoded once however often it is served.
 *
 * @example
 * let snapshot = await createVerdictSnapshot(serverKey, { seq: 1, verdicts });
 * await serveRatings(libp2p, { getSnapshot: () => snapshot });
 */
export async function serveRatings(
  libp2p: Pick<Libp2p, 'handle'>,
  source: RatingsSource,
  options: HandleOptions = {},
): Promise<void> {
  const encoded = new WeakMap<object, Uint8Array>();
  const encodeOnce = (key: VerdictSnapshot | VerdictDelta, response: RatingsResponse) => {
    let bytes = encoded.get(key);
    if (!bytes) {
      bytes = encodeRatingsResponse(response);
      encoded.set(key, bytes);
    }
    return bytes;
  };
  await handleRequests(
    libp2p,
    RATINGS_PROTOCOL,
    async (message) => {
      const { since } = decodeRatingsRequest(message);
      const snapshot = await source.getSnapshot();
      if (!snapshot) throw new NoVerdictsYetError('This server has no verdict snapshot yet');
      if (since === snapshot.seq) return encodeRatingsResponse({ unchanged: since });
      if (since !== undefined && since < snapshot.seq && source.getDelta) {
        const delta = await source.getDelta(since);
        if (delta && delta.baseSeq === since && delta.seq === snapshot.seq) return encodeOnce(delta, { delta });
      }
      return encodeOnce(snapshot, { snapshot });
    },
    { maxRequestBytes: MAX_RATINGS_REQUEST_BYTES, ...options },
  );
}

// ─── Client ──────────────────────────────────────────────────────────────────────────────────────────────────

/** A rating server this node follows, as the operator configures it. */
export interface FollowedServer {
  /** The server's libp2p peer id (`12D3KooW…`): the key its verdicts must be signed with. */
  peerId: string;
  /** Where to reach it; `/p2p/<peerId>` is added where missing. Empty: dial by peer id from the peer store. */
  multiaddrs: string[];
  priority: ServerPriority;
}

/**
 * The on-chain registry as far as ratings need it; `RegistrySync` implements
 * it. `serverByPeerId` is optional and only makes refusals say why.
 */
export interface ActiveKeyRegistry {
  isActiveKey(peerId: Uint8Array): boolean;
  serverByPeerId?(peerId: Uint8Array): { status: string } | undefined;
}

export interface RatingsClientComponents {
  registry: ActiveKeyRegistry;
}

export interface RatingsClientInit {
  servers: FollowedServer[];
  /** Keeps the last accepted verdicts in `<dataDir>/ratings.db`. Without it, in memory. */
  dataDir?: string;
  /** Milliseconds between polls of every followed server. Default 30,000. */
  intervalMs?: number;
  /** Milliseconds one request may take. Default 20,000. */
  timeoutMs?: number;
  /** Refuse a response larger than this. Default {@link MAX_RATINGS_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  /** Runs each fetch as urgent traffic, ahead of content fetches (`TrafficPriority.urgent`). */
  urgent?: <T>(work: () => Promise<T>) => Promise<T>;
}

/** One server's verdict on a peer, as the penalty code sees it. */
export interface RatedVerdict {
  /** The server's peer id. */
  server: string;
  priority: ServerPriority;
  /** The rated peer's id. */
  peer: string;
  rating: Rating;
  score: number;
  reason: string;
  evidence: string[];
  expiresAt: number;
  /** The snapshot the verdict came with. */
  seq: number;
  issuedAt: number;
}

/** Why a response was refused. */
export type RatingsRejectReason =
  | 'inactive-key'
  | 'wrong-server'
  | 'bad-signature'
  | 'malformed'
  | 'too-large'
  | 'replayed'
  | 'stale'
  | 'delta-mismatch';

export interface VerdictsEvent {
  server: string;
  seq: number;
  /** `snapshot`/`delta`: new verdicts accepted; `registry`: the server's key became active or inactive. */
  via: 'snapshot' | 'delta' | 'registry';
}

export interface RejectedVerdictsEvent {
  server: string;
  reason: RatingsRejectReason;
  message: string;
  /** The refused message's sequence number, when it got that far. */
  seq?: number;
}

export interface UnreachableServerEvent {
  server: string;
  message: string;
}

export interface RatingsClientEvents {
  verdicts: CustomEvent<VerdictsEvent>;
  rejected: CustomEvent<RejectedVerdictsEvent>;
  /** A poll failed to get any answer; the server's last verdicts stay until they expire. */
  unreachable: CustomEvent<UnreachableServerEvent>;
}

/** What one poll of one server came to. */
export type PollOutcome = 'applied' | 'unchanged' | 'rejected' | 'unreachable';

/** A followed server is misconfigured. */
export class InvalidFollowedServerError extends Error {
  override name = 'InvalidFollowedServerError';
}

/** The key that signed a snapshot or delta is not active in the registry (applied, suspended, removed or unknown). */
export class InactiveServerKeyError extends Error {
  override name = 'InactiveServerKeyError';
}

/** The rating server has nothing to serve yet. */
export class NoVerdictsYetError extends Error {
  override name = 'NoVerdictsYetError';
}

/** `pollOnce` before `start`: there is no libp2p host to ask through. */
export class RatingsClientNotStartedError extends Error {
  override name = 'RatingsClientNotStartedError';
}

const REJECT_REASONS: Record<string, RatingsRejectReason> = {
  InactiveServerKeyError: 'inactive-key',
  SignerMismatchError: 'wrong-server',
  BadSignatureError: 'bad-signature',
  MessageDecodeError: 'malformed',
  MessageTooLargeError: 'too-large',
  ReplayedSequenceError: 'replayed',
  StaleMessageError: 'stale',
  DeltaBaseMismatchError: 'delta-mismatch',
};

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- The last snapshot accepted from each followed server: its seq guards against replays.
      CREATE TABLE servers (
        server TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        accepted_at INTEGER NOT NULL
      );
      -- That snapshot's verdicts, kept until each expires even when the server is unreachable.
      CREATE TABLE verdicts (
        server TEXT NOT NULL REFERENCES servers (server) ON DELETE CASCADE,
        peer BLOB NOT NULL,
        rating TEXT NOT NULL,
        score REAL NOT NULL,
        reason TEXT NOT NULL,
        evidence TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (server, peer)
      ) WITHOUT ROWID;
    `,
  },
];

interface ServerEntry {
  id: string;
  bytes: PeerIdBytes;
  config: FollowedServer;
  dial: PeerId | Multiaddr[];
  state?: VerdictState;
  /** Whether the key was active at the last look, to notice it change. */
  active?: boolean;
  /** Polls of one server run one after another. */
  busy: Promise<unknown>;
}

/**
 * Follows rating servers: polls each over `/nrp/ratings/1.0.0`, accepts a
 * snapshot or delta only when it is signed by the key the on-chain registry
 * lists as active for that server, with a sequence number above the last
 * one accepted, and keeps the result in SQLite. A server that cannot be
 * reached keeps its last verdicts until each expires; a server whose key is
 * no longer active has its verdicts set aside (kept, but not applied).
 *
 * It is created before the libp2p host, so its stored verdicts gate the very
 * first connections, and started with the host once there is one.
 *
 * @example
 * const ratings = new RatingsClient({ registry: registrySync }, { servers, dataDir });
 * const penalties = new PenaltyManager({ ratings });
 * const helia = await createNrpHelia({ libp2p: { connectionGater: penalties.connectionGater() } });
 * await ratings.start(helia.libp2p);
 * ratings.verdictsFor(peerId); // [{ server, priority: 'high', rating: 'black', … }]
 */
export class RatingsClient extends TypedEventEmitter<RatingsClientEvents> {
  readonly #registry: ActiveKeyRegistry;
  readonly #init: Required<Omit<RatingsClientInit, 'dataDir' | 'servers' | 'urgent'>> &
    Pick<RatingsClientInit, 'urgent'>;
  readonly #db: DatabaseSync;
  readonly #servers = new Map<string, ServerEntry>();
  readonly #tracker: SequenceTracker;
  /** Rated peer → server → verdict, over every followed server's state. */
  readonly #byPeer = new Map<string, Map<string, Verdict>>();
  readonly #loop = new PollingLoop();
  #libp2p?: Pick<Libp2p, 'dialProtocol'>;

  constructor(components: RatingsClientComponents, init: RatingsClientInit) {
    super();
    this.#registry = components.registry;
    this.#init = {
      intervalMs: init.intervalMs ?? 30_000,
      timeoutMs: init.timeoutMs ?? 20_000,
      maxResponseBytes: init.maxResponseBytes ?? MAX_RATINGS_RESPONSE_BYTES,
      urgent: init.urgent,
    };
    for (const config of init.servers) {
      const entry = parseFollowedServer(config);
      if (this.#servers.has(entry.id)) throw new InvalidFollowedServerError(`Server ${entry.id} is followed twice`);
      this.#servers.set(entry.id, entry);
    }
    this.#db = openDatabase(init.dataDir ? join(init.dataDir, 'ratings.db') : ':memory:', MIGRATIONS);
    this.#tracker = this.#load();
  }

  /** The followed servers, with the seq of the last snapshot accepted from each. */
  get servers(): { peerId: string; priority: ServerPriority; seq?: number; active: boolean }[] {
    return [...this.#servers.values()].map((entry) => ({
      peerId: entry.id,
      priority: entry.config.priority,
      seq: entry.state?.seq,
      active: this.#registry.isActiveKey(entry.bytes),
    }));
  }

  /**
   * Starts polling every followed server through `libp2p`, now and every
   * `intervalMs`. Returns at once: a slow or dead server never holds up the node.
   */
  async start(libp2p: Pick<Libp2p, 'dialProtocol'>, options: AbortOptions = {}): Promise<void> {
    this.#libp2p = libp2p;
    if (this.#loop.running) return;
    void this.#loop.start((signal) => this.pollOnce({ signal }), {
      intervalMs: this.#init.intervalMs,
      onError: (error) => log.error('poll failed: %e', error),
      signal: options.signal,
    });
  }

  /** Stops polling and waits for a poll under way. The stored verdicts stay readable until {@link close}. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }

  /**
   * Polls every followed server once, in parallel, and says how each went.
   * Also notices servers whose key became active or inactive since the last poll.
   */
  async pollOnce(options: AbortOptions = {}): Promise<Map<string, PollOutcome>> {
    const libp2p = this.#libp2p;
    if (!libp2p) throw new RatingsClientNotStartedError('Start the ratings client with a libp2p host first');
    this.#noticeRegistryChanges();
    this.#pruneExpired(Date.now());
    const signal = options.signal ?? new AbortController().signal;
    const outcomes = new Map<string, PollOutcome>();
    await Promise.all(
      [...this.#servers.values()].map(async (entry) => {
        const run = entry.busy.then(() => this.#poll(libp2p, entry, signal));
        entry.busy = run.catch(() => {});
        outcomes.set(entry.id, await run);
      }),
    );
    return outcomes;
  }

  /**
   * The unexpired verdicts on `peer` from every followed server whose key is
   * active now, each with its server and that server's priority.
   */
  verdictsFor(peer: PeerLike, now = Date.now()): RatedVerdict[] {
    const key = peerKey(peer);
    const verdicts = this.#byPeer.get(key);
    return verdicts ? this.#rate(key, verdicts, now, (entry) => this.#registry.isActiveKey(entry.bytes)) : [];
  }

  /** Every unexpired verdict of every active followed server: what the penalty manager re-evaluates. */
  allVerdicts(now = Date.now()): RatedVerdict[] {
    // Asked once per server, not once per verdict: a registry lookup is far dearer than a map lookup.
    const active = new Set([...this.#servers.values()].filter((entry) => this.#registry.isActiveKey(entry.bytes)));
    const rated: RatedVerdict[] = [];
    for (const [peer, verdicts] of this.#byPeer) {
      rated.push(...this.#rate(peer, verdicts, now, (entry) => active.has(entry)));
    }
    return rated;
  }

  #rate(peer: string, verdicts: Map<string, Verdict>, now: number, isActive: (entry: ServerEntry) => boolean) {
    const rated: RatedVerdict[] = [];
    for (const [server, verdict] of verdicts) {
      const entry = this.#servers.get(server);
      if (!entry?.state || verdict.expiresAt <= now || !isActive(entry)) continue;
      rated.push(toRated(entry, peer, verdict));
    }
    return rated;
  }

  async #poll(libp2p: Pick<Libp2p, 'dialProtocol'>, entry: ServerEntry, signal: AbortSignal): Promise<PollOutcome> {
    try {
      let outcome = await this.#fetchAndApply(libp2p, entry, entry.state?.seq, signal);
      // The server could not continue from our seq: take its whole snapshot instead.
      if (outcome === 'delta-mismatch') outcome = await this.#fetchAndApply(libp2p, entry, undefined, signal);
      return outcome === 'delta-mismatch' ? 'rejected' : outcome;
    } catch (error) {
      // Not the server's fault (a full disk, a bug): log it, keep the old verdicts, try again next time.
      log.error('could not take verdicts from %s: %e', entry.id, error);
      return 'unreachable';
    }
  }

  async #fetchAndApply(
    libp2p: Pick<Libp2p, 'dialProtocol'>,
    entry: ServerEntry,
    since: number | undefined,
    signal: AbortSignal,
  ): Promise<PollOutcome | 'delta-mismatch'> {
    let bytes: Uint8Array;
    try {
      const fetch = () =>
        request(libp2p, entry.dial, RATINGS_PROTOCOL, encodeRatingsRequest({ since }), {
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.#init.timeoutMs)]),
          maxResponseBytes: this.#init.maxResponseBytes,
        });
      bytes = await (this.#init.urgent ? this.#init.urgent(fetch) : fetch());
    } catch (error) {
      const { name, message } = error as Error;
      // Over our limit, or over the stream's read buffer (4 MiB unless rpc.ts raises it).
      if (name === 'InvalidDataLengthError' || name === 'StreamBufferError') {
        return this.#reject(entry, 'too-large', message);
      }
      if (!signal.aborted) {
        log('%s is unreachable: %s', entry.id, message);
        this.safeDispatchEvent('unreachable', { detail: { server: entry.id, message } });
      }
      return 'unreachable';
    }
    let seq: number | undefined;
    try {
      const response = decodeRatingsResponse(bytes);
      if ('unchanged' in response) return 'unchanged';
      const message = 'snapshot' in response ? response.snapshot : response.delta;
      seq = message.seq;
      await this.#accept(entry, response);
      return 'applied';
    } catch (error) {
      const reason = REJECT_REASONS[(error as Error).name];
      if (!reason) throw error;
      this.#reject(entry, reason, (error as Error).message, seq);
      return reason === 'delta-mismatch' ? 'delta-mismatch' : 'rejected';
    }
  }

  /** Checks a decoded snapshot or delta in full, then stores and applies it; throws a named error to refuse it. */
  async #accept(entry: ServerEntry, response: { snapshot: VerdictSnapshot } | { delta: VerdictDelta }) {
    const message = 'snapshot' in response ? response.snapshot : response.delta;
    if (!samePeer(message.server, entry.bytes)) {
      throw new SignerMismatchError(`The verdicts are from ${peerIdToString(message.server)}, not from ${entry.id}`);
    }
    this.#checkActive(entry);
    let next: VerdictState;
    if ('snapshot' in response) {
      await verifyVerdictSnapshot(response.snapshot, { server: entry.bytes });
      this.#tracker.check(entry.bytes, message.seq);
      const { server, seq, issuedAt, verdicts } = response.snapshot;
      next = { server, seq, issuedAt, verdicts };
    } else {
      await verifyVerdictDelta(response.delta, { server: entry.bytes });
      this.#tracker.check(entry.bytes, message.seq);
      if (!entry.state) throw new DeltaBaseMismatchError(`A delta from ${entry.id} came, but no snapshot is held`);
      next = applyVerdictDelta(entry.state, response.delta);
    }
    // The registry may have moved while the signature was being checked.
    this.#checkActive(entry);
    this.#store(entry, next, 'delta' in response ? response.delta : undefined);
    this.#tracker.accept(entry.bytes, next.seq);
    this.#setState(entry, next);
    entry.active = true;
    log('accepted %d verdicts from %s at seq %d', next.verdicts.length, entry.id, next.seq);
    this.safeDispatchEvent('verdicts', {
      detail: { server: entry.id, seq: next.seq, via: 'snapshot' in response ? 'snapshot' : 'delta' },
    });
  }

  #checkActive(entry: ServerEntry) {
    if (this.#registry.isActiveKey(entry.bytes)) return;
    const status = this.#registry.serverByPeerId?.(entry.bytes)?.status;
    const why = status ? `is ${status} in the registry, not active` : 'is not registered in the registry';
    throw new InactiveServerKeyError(`The key of ${entry.id} ${why}; its verdicts are ignored`);
  }

  #reject(entry: ServerEntry, reason: RatingsRejectReason, message: string, seq?: number): 'rejected' {
    log('refused verdicts from %s (%s): %s', entry.id, reason, message);
    this.safeDispatchEvent('rejected', { detail: { server: entry.id, reason, message, seq } });
    return 'rejected';
  }

  /** A suspension or activation changes which verdicts apply without any new verdict: say so. */
  #noticeRegistryChanges() {
    for (const entry of this.#servers.values()) {
      const active = this.#registry.isActiveKey(entry.bytes);
      // The first look counts as a change too: the registry may have synced after the penalties were computed.
      const changed = entry.active !== active;
      entry.active = active;
      if (changed && entry.state) {
        log('the key of %s is %s', entry.id, active ? 'active again' : 'no longer active');
        this.safeDispatchEvent('verdicts', { detail: { server: entry.id, seq: entry.state.seq, via: 'registry' } });
      }
    }
  }

  /** Drops expired verdicts from memory and disk. A later delta still applies: it only sets and removes peers. */
  #pruneExpired(now: number) {
    for (const entry of this.#servers.values()) {
      const state = entry.state;
      if (!state?.verdicts.some((v) => v.expiresAt <= now)) continue;
      this.#db.prepare('DELETE FROM verdicts WHERE server = ? AND expires_at <= ?').run(entry.id, now);
      this.#setState(entry, { ...state, verdicts: state.verdicts.filter((v) => v.expiresAt > now) });
    }
  }

  /** Writes the new state before it is used, so a crash never loses an accepted snapshot. */
  #store(entry: ServerEntry, next: VerdictState, delta?: VerdictDelta) {
    const insert = this.#db.prepare(
      `INSERT OR REPLACE INTO verdicts (server, peer, rating, score, reason, evidence, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const put = (v: Verdict) =>
      insert.run(entry.id, v.peer, v.rating, v.score, v.reason, JSON.stringify(v.evidence), v.expiresAt);
    transaction(this.#db, () => {
      this.#db
        .prepare(
          `INSERT INTO servers (server, seq, issued_at, accepted_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (server) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at,
             accepted_at = excluded.accepted_at`,
        )
        .run(entry.id, next.seq, next.issuedAt, Date.now());
      if (delta) {
        const remove = this.#db.prepare('DELETE FROM verdicts WHERE server = ? AND peer = ?');
        for (const peer of delta.removed) remove.run(entry.id, peer);
        for (const verdict of delta.set) put(verdict);
      } else {
        this.#db.prepare('DELETE FROM verdicts WHERE server = ?').run(entry.id);
        for (const verdict of next.verdicts) put(verdict);
      }
    });
  }

  /** Loads every followed server's last state; forgets servers no longer followed. */
  #load(): SequenceTracker {
    const rows = this.#db.prepare('SELECT server, seq, issued_at FROM servers').all();
    const forget = this.#db.prepare('DELETE FROM servers WHERE server = ?');
    const select = this.#db.prepare(
      // BLOB order is byte order: the order comparePeers gives, which applyVerdictDelta needs.
      'SELECT peer, rating, score, reason, evidence, expires_at FROM verdicts WHERE server = ? ORDER BY peer',
    );
    const last: [string, number][] = [];
    for (const row of rows) {
      const entry = this.#servers.get(row.server as string);
      if (!entry) {
        forget.run(row.server as string);
        continue;
      }
      const verdicts = select.all(entry.id).map(
        (v): Verdict => ({
          peer: new Uint8Array(v.peer as Uint8Array),
          rating: v.rating as Rating,
          score: Number(v.score),
          reason: v.reason as string,
          evidence: JSON.parse(v.evidence as string) as string[],
          expiresAt: Number(v.expires_at),
        }),
      );
      this.#setState(entry, { server: entry.bytes, seq: Number(row.seq), issuedAt: Number(row.issued_at), verdicts });
      last.push([entry.id, Number(row.seq)]);
    }
    return new SequenceTracker(last);
  }

  #setState(entry: ServerEntry, next: VerdictState) {
    for (const verdict of entry.state?.verdicts ?? []) {
      const key = peerIdToString(verdict.peer);
      const servers = this.#byPeer.get(key);
      servers?.delete(entry.id);
      if (servers?.size === 0) this.#byPeer.delete(key);
    }
    entry.state = next;
    for (const verdict of next.verdicts) {
      const key = peerIdToString(verdict.peer);
      const servers = this.#byPeer.get(key) ?? new Map<string, Verdict>();
      this.#byPeer.set(key, servers);
      servers.set(entry.id, verdict);
    }
  }
}

function parseFollowedServer(config: FollowedServer): ServerEntry {
  let bytes: PeerIdBytes;
  try {
    bytes = toPeerIdBytes(config.peerId);
  } catch (error) {
    throw new InvalidFollowedServerError(`"${config.peerId}" is not an Ed25519 peer id`, { cause: error });
  }
  const id = peerIdToString(bytes);
  if (!SERVER_PRIORITIES.includes(config.priority)) {
    throw new InvalidFollowedServerError(`Server ${id} has priority "${config.priority}", not high or low`);
  }
  const addresses = config.multiaddrs.map((address) => {
    try {
      return pinnedToPeer(address, id);
    } catch (error) {
      throw new InvalidFollowedServerError(`Server ${id}: ${(error as Error).message}`, { cause: error });
    }
  });
  return {
    id,
    bytes,
    config: { ...config, peerId: id },
    dial: addresses.length > 0 ? addresses : peerIdFromString(id),
    busy: Promise.resolve(),
  };
}

function toRated(entry: ServerEntry, peer: string, verdict: Verdict): RatedVerdict {
  const state = entry.state as VerdictState;
  return {
    server: entry.id,
    priority: entry.config.priority,
    peer,
    rating: verdict.rating,
    score: verdict.score,
    reason: verdict.reason,
    evidence: verdict.evidence,
    expiresAt: verdict.expiresAt,
    seq: state.seq,
    issuedAt: state.issuedAt,
  };
}

/** A peer's string form without parsing one that already is a string: this runs for every advert and dial. */
export function peerKey(peer: PeerLike): string {
  if (typeof peer === 'string') return peer;
  return peer instanceof Uint8Array ? peerIdToString(peer) : peer.toString();
}
