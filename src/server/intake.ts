import { createHash, createPublicKey, hash, type KeyObject, verify } from 'node:crypto';
import * as dagCbor from '@ipld/dag-cbor';
import type { AbortOptions, Libp2p } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import type { CID } from 'multiformats/cid';
import { equals } from 'uint8arrays/equals';
import type { EntryId } from '../lists/entry-id.js';
import { entryId } from '../lists/entry-id.js';
import type { ListSync } from '../lists/sync.js';
import { ADVERT_MAX_SKEW_MS, type Advert, advertToValue, encodeAdvert } from '../node/protocol/advert.js';
import {
  EDGE_MAX_AGE_MS,
  EDGE_MAX_SKEW_MS,
  type EdgeAttestation,
  edgeToValue,
  encodeEdge,
} from '../node/protocol/edge.js';
import { MessageTooLargeError, StaleMessageError } from '../node/protocol/errors.js';
import { checkFreshness } from '../node/protocol/freshness.js';
import {
  PEER_ID_BYTES,
  type PeerIdBytes,
  type PeerLike,
  peerIdToString,
  samePeer,
  toPeerIdBytes,
} from '../node/protocol/peer.js';
import {
  decodeReport,
  MAX_REPORT_BYTES,
  REPORT_MAX_AGE_MS,
  REPORT_MAX_SKEW_MS,
  type Report,
} from '../node/protocol/report.js';
import { SIGHTING_MAX_AGE_MS, type Sighting, sightingToValue } from '../node/protocol/sighting.js';
import { SIGNING_DOMAINS, signingBytes } from '../node/protocol/signing.js';
import { encodeReportAck, MAX_REPORT_ACK_REASON_BYTES, REPORT_PROTOCOL, type ReportAck } from '../node/reporter.js';
import { handleRequests } from '../node/rpc.js';
import { type RateLimit, RateLimiter } from './rate-limit.js';
import type { AddReportResult, NewReport, ServerStore } from './store.js';

const log = logger('nrp:server:intake');

/**
 * Why a report was refused; an ack's `reason` starts with it (`"replayed: Sequence number 7 …"`).
 * - `malformed`: not a report (bad dag-cbor, missing or extra fields, wrong types).
 * - `too-large`: over `MAX_REPORT_BYTES`, or too many edges or sightings, or an over-long string.
 * - `bad-signature`: the reporter's signature does not verify.
 * - `wrong-sender`: the report names another reporter than the peer that sent it.
 * - `stale` / `future`: the report's time is too old, or too far ahead of this server's clock.
 * - `replayed`: its sequence number is not above the last one accepted from this reporter.
 * - `bad-edge`: an edge is not the reporter's, is too old, or is not signed by both of its ends.
 * - `bad-evidence`: a sighting's advert is not signed by the accused `fromPeer`, does not match the sighting,
 *   is too old, or accuses the reporter itself.
 * - `unlisted-entry`: a sighting names content that this server's list does not hold.
 * - `rate-limited`: the peer sent more reports than it may; nothing was checked or stored.
 */
export type RejectionReason =
  | 'malformed'
  | 'too-large'
  | 'bad-signature'
  | 'wrong-sender'
  | 'stale'
  | 'future'
  | 'replayed'
  | 'bad-edge'
  | 'bad-evidence'
  | 'unlisted-entry'
  | 'rate-limited';

export const REJECTION_REASONS: readonly RejectionReason[] = [
  'malformed',
  'too-large',
  'bad-signature',
  'wrong-sender',
  'stale',
  'future',
  'replayed',
  'bad-edge',
  'bad-evidence',
  'unlisted-entry',
  'rate-limited',
];

/** A report is refused for `reason`; the message says what exactly. */
export class ReportRejectedError extends Error {
  override name = 'ReportRejectedError';
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The reason code of a refusal ack, or undefined for an acceptance or a reason from another kind of server.
 *
 * @example
 * if (rejectionReasonOf(ack) === 'replayed') log('the server already has report %d', ack.seq);
 */
export function rejectionReasonOf(ack: ReportAck): RejectionReason | undefined {
  if (ack.accepted || ack.reason === undefined) return undefined;
  const code = ack.reason.split(':', 1)[0] as RejectionReason;
  return REJECTION_REASONS.includes(code) ? code : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Ed25519 with node:crypto

/** KeyObjects made from peers' raw public keys: making one costs about a third of a verification. */
const keyObjects = new Map<string, KeyObject>();
const MAX_KEY_OBJECTS = 50_000;

/**
 * The node:crypto public key of an Ed25519 peer, from the 32 raw bytes its peer id embeds, cached per peer.
 * Undefined for bytes OpenSSL refuses as a key.
 */
function keyObjectOf(peer: PeerIdBytes): KeyObject | undefined {
  const raw = Buffer.from(peer.buffer, peer.byteOffset + peer.length - 32, 32);
  const id = raw.toString('latin1');
  let key = keyObjects.get(id);
  if (key === undefined) {
    try {
      key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } });
    } catch {
      return undefined;
    }
    if (keyObjects.size >= MAX_KEY_OBJECTS) keyObjects.delete(keyObjects.keys().next().value as string);
    keyObjects.set(id, key);
  }
  return key;
}

/**
 * Checks `signer`'s Ed25519 signature of `data` with node:crypto (OpenSSL, as `@libp2p/crypto` does on Node),
 * but with the peer's key object cached, and on libuv's thread pool, so verifications use every core and the
 * event loop keeps serving streams meanwhile. Resolves false for a bad signature or key, never rejects.
 *
 * @example
 * const ok = await verifyEd25519(report.reporter, signingBytes(SIGNING_DOMAINS.report, body), report.signature);
 */
export function verifyEd25519(signer: PeerIdBytes, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = keyObjectOf(signer);
  if (key === undefined || signature.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    verify(null, data, key, signature, (error, ok) => resolve(error === null && ok));
  });
}

/** {@link verifyEd25519} on the calling thread: less overhead per call, but one core only. */
export function verifyEd25519Sync(signer: PeerIdBytes, data: Uint8Array, signature: Uint8Array): boolean {
  const key = keyObjectOf(signer);
  if (key === undefined || signature.length !== 64) return false;
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report verification

/** A sighting's content, for the list check. */
export interface ListedEntry {
  entryId: EntryId;
  cid: CID;
}

/** Whether this server's list holds an entry: a sighting of anything else is refused. */
export type IsListed = (entry: ListedEntry) => boolean;

/**
 * The {@link IsListed} predicate of a synced list (or a `MembershipIndex`): by entry id, and by CID for lists
 * that match IPIP-383 double hashes.
 *
 * @example
 * const intake = new ReportIntake({ libp2p, store, isListed: listedIn(listSync) });
 */
export function listedIn(list: Pick<ListSync, 'has' | 'hasCid'>): IsListed {
  return (entry) => list.has(entry.entryId) || list.hasCid(entry.cid);
}

export interface ReportVerifierInit {
  isListed: IsListed;
  /** How old a report may be. Default `REPORT_MAX_AGE_MS` (10 minutes). */
  maxAgeMs?: number;
  /** How far ahead of this server's clock a report may be. Default `REPORT_MAX_SKEW_MS` (1 minute). */
  maxSkewMs?: number;
  /** How old an edge may be. Default `EDGE_MAX_AGE_MS` (1 hour). */
  edgeMaxAgeMs?: number;
  /** How old a sighting's advert may be. Default `SIGHTING_MAX_AGE_MS` (24 hours). */
  sightingMaxAgeMs?: number;
  /** Verified edge attestations and adverts remembered, so a repeated one is not verified again. Default 100,000. */
  cacheSize?: number;
  /** Verify on libuv's thread pool (default) or on the event loop's thread. */
  threadPool?: boolean;
}

/** Counters of a verifier's cache of verified edges and adverts. */
export interface VerifierStats {
  /** Edge attestations and adverts not verified again: verified before, or being verified for another report. */
  cacheHits: number;
  /** Edge attestations and adverts verified. */
  cacheMisses: number;
  /** Verified ones remembered now. */
  cached: number;
}

/**
 * The checks `verifyReport` makes, plus this server's own (the list, a reason code per failure), made fast:
 * cheap checks first, then signatures through {@link verifyEd25519}, skipping edge attestations and adverts
 * that verified before (an LRU cache keyed by a sha256 of the signed bytes and signatures; edges repeat in
 * every report until their ends re-attest). Only successes are cached, and freshness is checked every time.
 *
 * @example
 * const verifier = new ReportVerifier({ isListed: listedIn(listSync) });
 * await verifier.verify(decodeReport(bytes), { reporter: connection.remotePeer }); // throws ReportRejectedError
 */
export class ReportVerifier {
  readonly #init: Required<Omit<ReportVerifierInit, 'isListed'>>;
  readonly #isListed: IsListed;
  readonly #verified = new Map<string, true>();
  /** Verifications under way, by the same keys: a second report with the same edge waits for the first check. */
  readonly #running = new Map<string, Promise<unknown>>();
  readonly #verify: (signer: PeerIdBytes, data: Uint8Array, signature: Uint8Array) => Promise<boolean> | boolean;
  #hits = 0;
  #misses = 0;

  constructor(init: ReportVerifierInit) {
    this.#isListed = init.isListed;
    this.#init = {
      maxAgeMs: init.maxAgeMs ?? REPORT_MAX_AGE_MS,
      maxSkewMs: init.maxSkewMs ?? REPORT_MAX_SKEW_MS,
      edgeMaxAgeMs: init.edgeMaxAgeMs ?? EDGE_MAX_AGE_MS,
      sightingMaxAgeMs: init.sightingMaxAgeMs ?? SIGHTING_MAX_AGE_MS,
      cacheSize: init.cacheSize ?? 100_000,
      threadPool: init.threadPool ?? true,
    };
    this.#verify = this.#init.threadPool ? verifyEd25519 : verifyEd25519Sync;
  }

  get stats(): VerifierStats {
    return { cacheHits: this.#hits, cacheMisses: this.#misses, cached: this.#verified.size };
  }

  /** Every check; throws {@link ReportRejectedError}. */
  async verify(report: Report, context: { reporter: PeerLike; now?: number }): Promise<void> {
    this.check(report, context);
    await this.checkSignatures(report);
  }

  /**
   * The checks without cryptography: sender, time, whose edges and sightings these are, each sighting's
   * evidence matching its claims and the list, the edges' and adverts' times. Throws {@link ReportRejectedError}.
   */
  check(report: Report, context: { reporter: PeerLike; now?: number }): void {
    let expected: PeerIdBytes;
    try {
      expected = toPeerIdBytes(context.reporter);
    } catch {
      throw new ReportRejectedError('wrong-sender', 'Only an Ed25519 peer can report');
    }
    if (!samePeer(report.reporter, expected)) {
      throw new ReportRejectedError(
        'wrong-sender',
        `The report is by ${peerIdToString(report.reporter)}, but came from ${peerIdToString(expected)}`,
      );
    }
    const now = context.now ?? Date.now();
    try {
      checkFreshness(
        report.time,
        'report',
        { now },
        { maxAgeMs: this.#init.maxAgeMs, maxSkewMs: this.#init.maxSkewMs },
      );
    } catch (error) {
      if (!(error instanceof StaleMessageError)) throw error;
      throw new ReportRejectedError(error.reason === 'future' ? 'future' : 'stale', error.message);
    }
    for (const [i, edge] of report.edges.entries()) {
      if (!samePeer(edge.a, report.reporter) && !samePeer(edge.b, report.reporter)) {
        throw new ReportRejectedError('bad-edge', `edges[${i}]: the reporter is not an end of this edge`);
      }
      try {
        checkFreshness(edge.time, 'edge', { now }, { maxAgeMs: this.#init.edgeMaxAgeMs, maxSkewMs: EDGE_MAX_SKEW_MS });
      } catch (error) {
        throw new ReportRejectedError('bad-edge', `edges[${i}]: ${(error as Error).message}`);
      }
    }
    for (const [i, sighting] of report.sightings.entries()) {
      const problem = this.#sightingProblem(sighting, report.reporter, now);
      if (problem) throw new ReportRejectedError(problem[0], `sightings[${i}]: ${problem[1]}`);
    }
  }

  /** What is wrong with a sighting's evidence, without cryptography, if anything. */
  #sightingProblem(sighting: Sighting, reporter: PeerIdBytes, now: number): [RejectionReason, string] | undefined {
    const { advert } = sighting;
    if (samePeer(sighting.fromPeer, reporter)) return ['bad-evidence', 'a reporter cannot report a sighting of itself'];
    if (!samePeer(advert.sender, sighting.fromPeer)) {
      const [named, signer] = [peerIdToString(sighting.fromPeer), peerIdToString(advert.sender)];
      return ['bad-evidence', `the sighting names ${named}, but its advert is signed by ${signer}`];
    }
    if (!advert.cid.equals(sighting.cid)) {
      return ['bad-evidence', `the sighting is of ${sighting.cid}, but its advert offers ${advert.cid}`];
    }
    if (!equals(entryId(sighting.cid), sighting.entryId)) {
      return ['bad-evidence', `the sighting's entry id is not the entry id of ${sighting.cid}`];
    }
    if (!this.#isListed({ entryId: sighting.entryId, cid: sighting.cid })) {
      return ['unlisted-entry', `${sighting.cid} is not on this server's list`];
    }
    try {
      const bounds = { maxAgeMs: this.#init.sightingMaxAgeMs, maxSkewMs: ADVERT_MAX_SKEW_MS };
      checkFreshness(advert.time, 'advert', { now }, bounds);
    } catch (error) {
      return ['bad-evidence', (error as Error).message];
    }
    return undefined;
  }

  /**
   * The signatures: the reporter's first (a forgery costs one verification), then every edge's two ends and
   * every advert's sender at once. Throws {@link ReportRejectedError}.
   */
  async checkSignatures(report: Report): Promise<void> {
    const body = {
      reporter: report.reporter,
      seq: report.seq,
      time: report.time,
      edges: report.edges.map(edgeToValue),
      sightings: report.sightings.map(sightingToValue),
    };
    if (!(await this.#verify(report.reporter, signingBytes(SIGNING_DOMAINS.report, body), report.signature))) {
      throw new ReportRejectedError(
        'bad-signature',
        `Bad signature on the report: not signed by ${peerIdToString(report.reporter)}`,
      );
    }
    const failures = await Promise.all([
      ...report.edges.map((edge, i) => this.#checkEdge(edge, i)),
      ...report.sightings.map((sighting, i) => this.#checkAdvert(sighting.advert, i)),
    ]);
    const failure = failures.find((f) => f !== undefined);
    if (failure) throw failure;
  }

  async #checkEdge(edge: EdgeAttestation, i: number): Promise<ReportRejectedError | undefined> {
    const result = await this.#once(`e${edgeHash(edge)}`, async () => {
      const data = signingBytes(SIGNING_DOMAINS.edge, { a: edge.a, b: edge.b, time: edge.time });
      const [okA, okB] = await Promise.all([
        this.#verify(edge.a, data, edge.sigA),
        this.#verify(edge.b, data, edge.sigB),
      ]);
      return okA && okB ? true : okA ? 'b' : 'a';
    });
    if (result === true) return undefined;
    const signer = result === 'a' ? edge.a : edge.b;
    return new ReportRejectedError(
      'bad-edge',
      `edges[${i}]: bad signature of end "${result}": not signed by ${peerIdToString(signer)}`,
    );
  }

  async #checkAdvert(advert: Advert, i: number): Promise<ReportRejectedError | undefined> {
    const value = advertToValue(advert);
    const { signature } = value;
    delete value.signature;
    const data = signingBytes(SIGNING_DOMAINS.advert, value);
    const key = `a${createHash('sha256').update(data).update(advert.signature).digest('base64')}`;
    const result = await this.#once(
      key,
      async () => (await this.#verify(advert.sender, data, signature as Uint8Array)) || 'bad',
    );
    if (result === true) return undefined;
    return new ReportRejectedError(
      'bad-evidence',
      `sightings[${i}]: bad signature on the advert: not signed by ${peerIdToString(advert.sender)}`,
    );
  }

  /**
   * Runs `verify` for `key` unless it succeeded before or is running now: reports that arrive together carry
   * the same edges (both ends report theirs) and adverts (all neighbours of a distributor report its advert),
   * so without joining verifications under way a burst would check each one several times. Resolves true, or
   * with what `verify` returned on failure (not remembered: a forged copy must not poison the cache).
   */
  #once<T>(key: string, verify: () => Promise<true | T>): Promise<true | T> {
    if (this.#cached(key)) return Promise.resolve(true);
    let running = this.#running.get(key) as Promise<true | T> | undefined;
    if (running !== undefined) {
      this.#hits++;
      return running;
    }
    this.#misses++;
    running = verify().then(
      (result) => {
        this.#running.delete(key);
        if (result === true) this.#remember(key);
        return result;
      },
      (error) => {
        this.#running.delete(key);
        throw error;
      },
    );
    this.#running.set(key, running);
    return running;
  }

  #cached(key: string): boolean {
    if (!this.#verified.has(key)) return false;
    this.#hits++;
    // Most recently used last, so eviction drops the least recently used.
    this.#verified.delete(key);
    this.#verified.set(key, true);
    return true;
  }

  #remember(key: string) {
    this.#verified.set(key, true);
    if (this.#verified.size > this.#init.cacheSize) this.#verified.delete(this.#verified.keys().next().value as string);
  }
}

/** Room for an edge's fields, reused: hashing one buffer is twice as fast as feeding a hash five pieces. */
const edgeFields = Buffer.alloc(2 * PEER_ID_BYTES + 8 + 2 * 64);

/** sha256 of an edge's fields, all of fixed length, so their concatenation is unambiguous. */
function edgeHash(edge: EdgeAttestation): string {
  edgeFields.set(edge.a, 0);
  edgeFields.set(edge.b, PEER_ID_BYTES);
  edgeFields.writeDoubleBE(edge.time, 2 * PEER_ID_BYTES);
  edgeFields.set(edge.sigA, 2 * PEER_ID_BYTES + 8);
  edgeFields.set(edge.sigB, 2 * PEER_ID_BYTES + 8 + 64);
  return hash('sha256', edgeFields, 'base64');
}

// ---------------------------------------------------------------------------------------------------------------
// The intake service

export interface ReportIntakeComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>;
  /**
   * Where accepted reports go; the intake does not close it. With `syncReports`, commits do not block the event
   * loop on the disk: reports are acknowledged after it resolves.
   */
  store: Pick<ServerStore, 'addReports' | 'lastSeqs' | 'lastSeq'> & Partial<Pick<ServerStore, 'syncReports'>>;
  /** Whether this server's list holds a sighting's entry, e.g. `listedIn(listSync)`. */
  isListed: IsListed;
}

export interface ReportIntakeInit extends Omit<ReportVerifierInit, 'isListed'> {
  /** Reports per peer: default 30 at once, then one per 2 s (a node reports once a minute). `false`: no limit. */
  rateLimit?: RateLimit | false;
  /** Milliseconds one exchange may take, from reading to acknowledging. Default 10,000. */
  timeoutMs?: number;
  /** Reports committed in one transaction at most. Default 512. */
  maxBatch?: number;
}

export interface AcceptedReportEvent {
  /** The stored report's id. */
  id: number;
  reporter: string;
  seq: number;
  receivedAt: number;
  /** Milliseconds from the report's arrival to now: checks, signatures, the group commit and its sync. */
  durationMs: number;
  /** The verified report, edges and sightings included. */
  report: Report;
}

export interface RejectedReportEvent {
  /** The peer that sent it. */
  peer: string;
  /** The report's sequence number, or 0 if it could not be read. */
  seq: number;
  reason: RejectionReason;
  message: string;
}

export interface ReportIntakeEvents {
  /** A report was verified, stored (committed) and is about to be acknowledged. */
  accepted: CustomEvent<AcceptedReportEvent>;
  /** A report was refused; its ack says why. */
  rejected: CustomEvent<RejectedReportEvent>;
}

/** Room for a message a little over the limit, so it gets a `too-large` answer instead of a reset stream. */
const OVERSIZE_ALLOWANCE = 64 * 1024;

interface PendingWrite {
  report: NewReport;
  resolve: (result: AddReportResult) => void;
  reject: (error: Error) => void;
}

/**
 * A rating server's report intake, `/nrp/report/1.0.0`: one request (an encoded, signed report), one response
 * (a `ReportAck`). Each report is rate-limited per peer, decoded strictly, and checked: it comes from the
 * reporter it names, its time is fresh, its sequence number is above the reporter's last, both ends signed
 * every edge, and every sighting's advert is signed by the accused `fromPeer` and names an entry of this
 * server's list ({@link ReportVerifier}). A refusal is acknowledged with `accepted: false` and a reason that
 * starts with a {@link RejectionReason}, and nothing is stored.
 *
 * An accepted report, its edges, its sightings and the reporter's new sequence number are committed in one
 * transaction, and synced to disk, before the ack is written, so an acknowledged report survives kill -9 and
 * a power cut. Reports that verify at the same time share a transaction (group commit); with the real store
 * the fsync runs on libuv's thread pool (`ServerStore.syncReports`), the event loop goes on checking reports
 * meanwhile, and those gather for the next commit: one fsync for many reports. A storage failure acks nothing
 * (the stream is reset), so the node retries.
 *
 * @example
 * const store = ServerStore.open(join(dataDir, 'server.db'));
 * const intake = new ReportIntake({ libp2p: helia.libp2p, store, isListed: listedIn(listSync) });
 * intake.addEventListener('accepted', ({ detail }) => topology.merge(detail.report));
 * await intake.start();
 */
export class ReportIntake extends TypedEventEmitter<ReportIntakeEvents> {
  readonly #components: ReportIntakeComponents;
  readonly #init: { timeoutMs: number; maxBatch: number };
  readonly #verifier: ReportVerifier;
  readonly #limiter?: RateLimiter;
  /** Each reporter's last sequence number, stored or about to be: replays are refused before any signature. */
  #lastSeqs?: Map<string, number>;
  readonly #peerIds = new Map<string, string>();
  /** The times of the oldest and newest stored (committed) attestations of each edge, by its ends. */
  readonly #edgeTimes = new Map<string, EdgeSpan>();
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  /** The sync of the last commit, while it runs. */
  #syncing?: Promise<void>;
  readonly #running = new Set<Promise<unknown>>();
  #started = false;
  #stopped = false;

  constructor(components: ReportIntakeComponents, init: ReportIntakeInit = {}) {
    super();
    this.#components = components;
    this.#init = { timeoutMs: init.timeoutMs ?? 10_000, maxBatch: init.maxBatch ?? 512 };
    this.#verifier = new ReportVerifier({ ...init, isListed: components.isListed });
    const rateLimit = init.rateLimit ?? { burst: 30, perSecond: 0.5 };
    if (rateLimit !== false) this.#limiter = new RateLimiter(rateLimit);
  }

  /** Counters of the verified-edge cache. */
  get verifierStats(): VerifierStats {
    return this.#verifier.stats;
  }

  /** Loads the reporters' sequence numbers and serves the report protocol. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await handleRequests(
      this.#components.libp2p,
      REPORT_PROTOCOL,
      async (message, { remotePeer, signal }) => encodeReportAck(await this.receive(message, remotePeer, { signal })),
      // Nodes keep their report stream open between reports: a new stream per report costs more than the checks.
      { maxRequestBytes: MAX_REPORT_BYTES + OVERSIZE_ALLOWANCE, timeoutMs: this.#init.timeoutMs, keepOpen: true },
    );
    log('serving %s; %d reporters known', REPORT_PROTOCOL, this.#seqs().size);
  }

  /** Stops serving and waits for reports under way to be stored (and acknowledged). Does not close the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#started) {
      await this.#components.libp2p
        .unhandle(REPORT_PROTOCOL)
        .catch((error: Error) => log('could not unhandle: %s', error.message));
    }
    await Promise.allSettled(this.#running);
  }

  /**
   * Checks one report sent by `from` and, if it passes, stores it; resolves with the ack to send once it is
   * committed. Rejects (no ack: the sender will retry) only if the store fails or `signal` aborts first.
   * `start` serves the protocol with it; call it directly to feed reports from elsewhere.
   *
   * @example
   * const ack = await intake.receive(bytes, connection.remotePeer, { signal });
   */
  async receive(
    message: Uint8Array,
    from: PeerLike,
    options: AbortOptions & { now?: number } = {},
  ): Promise<ReportAck> {
    const work = this.#receive(message, from, options);
    this.#running.add(work);
    try {
      return await work;
    } finally {
      this.#running.delete(work);
    }
  }

  async #receive(message: Uint8Array, from: PeerLike, options: AbortOptions & { now?: number }): Promise<ReportAck> {
    const started = performance.now();
    const peer = typeof from === 'string' ? from : from instanceof Uint8Array ? peerIdToString(from) : from.toString();
    let seq = 0;
    try {
      if (this.#limiter && !this.#limiter.take(peer)) {
        seq = peekSeq(message);
        throw new ReportRejectedError('rate-limited', `${peer} sent more reports than it may; try again later`);
      }
      let report: Report;
      try {
        report = decodeReport(message);
      } catch (error) {
        seq = peekSeq(message);
        throw new ReportRejectedError(
          error instanceof MessageTooLargeError ? 'too-large' : 'malformed',
          (error as Error).message,
        );
      }
      seq = report.seq;
      const now = options.now ?? Date.now();
      this.#verifier.check(report, { reporter: from, now });
      const reporter = this.#peerId(report.reporter);
      this.#checkSeq(reporter, report.seq);
      await this.#verifier.checkSignatures(report);
      options.signal?.throwIfAborted();
      // Another report of this reporter may have been accepted while the signatures were checked.
      this.#checkSeq(reporter, report.seq);
      const previous = this.#seqs().get(reporter);
      this.#seqs().set(reporter, report.seq);
      const receivedAt = Date.now();
      const edgeKeys = report.edges.map(edgeKey);
      let result: AddReportResult;
      try {
        result = await this.#write(this.#toNewReport(report, reporter, message, receivedAt, edgeKeys));
      } catch (error) {
        // Not stored: let the reporter send this sequence number again.
        if (this.#seqs().get(reporter) === report.seq) this.#restoreSeq(reporter, previous);
        log.error('could not store report %d of %s: %e', report.seq, reporter, error);
        throw error;
      }
      if (result.status === 'stored') this.#storedEdges(report.edges, edgeKeys);
      if (result.status === 'replayed') {
        throw new ReportRejectedError(
          'replayed',
          `Sequence number ${report.seq} is not above the last one accepted from ${reporter}, ${result.lastSeq}`,
        );
      }
      log(
        'accepted report %d of %s: %d edges, %d sightings',
        seq,
        reporter,
        report.edges.length,
        report.sightings.length,
      );
      const durationMs = performance.now() - started;
      this.safeDispatchEvent('accepted', { detail: { id: result.id, reporter, seq, receivedAt, durationMs, report } });
      return { seq, accepted: true };
    } catch (error) {
      if (!(error instanceof ReportRejectedError)) throw error;
      log('refused report %d from %s (%s): %s', seq, peer, error.reason, error.message);
      this.safeDispatchEvent('rejected', { detail: { peer, seq, reason: error.reason, message: error.message } });
      return {
        seq,
        accepted: false,
        reason: truncateUtf8(`${error.reason}: ${error.message}`, MAX_REPORT_ACK_REASON_BYTES),
      };
    }
  }

  #checkSeq(reporter: string, seq: number) {
    const last = this.#seqs().get(reporter);
    if (last !== undefined && seq <= last) {
      throw new ReportRejectedError(
        'replayed',
        `Sequence number ${seq} is not above the last one accepted from ${reporter}, ${last}`,
      );
    }
  }

  #restoreSeq(reporter: string, previous: number | undefined) {
    const stored = this.#components.store.lastSeq(reporter) ?? previous;
    if (stored === undefined) this.#seqs().delete(reporter);
    else this.#seqs().set(reporter, stored);
  }

  /** The reporters' last sequence numbers, loaded from the store on first use. */
  #seqs(): Map<string, number> {
    this.#lastSeqs ??= this.#components.store.lastSeqs();
    return this.#lastSeqs;
  }

  /** Queues a report for the next group commit; resolves once it is on disk. */
  #write(report: NewReport): Promise<AddReportResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ report, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush() {
    // While the disk syncs the last commit, reports gather for the next one.
    if (this.#flushScheduled || this.#syncing) return;
    this.#flushScheduled = true;
    // After the I/O callbacks of this turn: reports whose signatures verified meanwhile join the transaction.
    setImmediate(() => this.#flush());
  }

  /**
   * Commits every queued report, at most `maxBatch` a transaction. With a store that can sync its log off the
   * event loop, commits skip the fsync and the reports resolve after one `syncReports` for all of them, during
   * which the next reports gather; otherwise each commit waits for the disk itself.
   */
  #flush() {
    this.#flushScheduled = false;
    const { store } = this.#components;
    const committed: { pending: PendingWrite; result: AddReportResult }[] = [];
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#init.maxBatch);
      const reports = batch.map((pending) => pending.report);
      let results: AddReportResult[];
      try {
        results = store.syncReports ? store.addReports(reports, { durable: false }) : store.addReports(reports);
      } catch (error) {
        for (const pending of batch) pending.reject(error as Error);
        continue;
      }
      batch.forEach((pending, i) => {
        committed.push({ pending, result: results[i] });
      });
    }
    if (committed.length === 0) return;
    if (!store.syncReports) {
      for (const { pending, result } of committed) pending.resolve(result);
      return;
    }
    this.#syncing = store
      .syncReports()
      .then(
        () => {
          for (const { pending, result } of committed) pending.resolve(result);
        },
        (error: Error) => {
          log.error('could not sync %d reports to disk: %e', committed.length, error);
          for (const { pending } of committed) pending.reject(error);
        },
      )
      .finally(() => {
        this.#syncing = undefined;
        if (this.#queue.length > 0) this.#scheduleFlush();
      });
  }

  #toNewReport(
    report: Report,
    reporter: string,
    bytes: Uint8Array,
    receivedAt: number,
    edgeKeys: readonly string[],
  ): NewReport {
    return {
      reporter,
      seq: report.seq,
      time: report.time,
      receivedAt,
      bytes,
      // The store keeps the newest attestation per edge and the oldest time: an attestation within the span it
      // has (the same one again, as in most reports between refreshes) would change nothing, and is left out.
      edges: report.edges
        .filter((edge, i) => !within(this.#edgeTimes.get(edgeKeys[i]), edge.time))
        .map((edge) => ({
          a: this.#peerId(edge.a),
          b: this.#peerId(edge.b),
          time: edge.time,
          attestation: encodeEdge(edge),
        })),
      sightings: report.sightings.map((sighting) => ({
        entryId: sighting.entryId,
        cid: sighting.cid.toString(),
        fromPeer: this.#peerId(sighting.fromPeer),
        advertTime: sighting.advert.time,
        advert: encodeAdvert(sighting.advert),
      })),
    };
  }

  #storedEdges(edges: readonly EdgeAttestation[], keys: readonly string[]) {
    // Forgetting costs only writes the store would skip anyway.
    if (this.#edgeTimes.size > 500_000) this.#edgeTimes.clear();
    edges.forEach((edge, i) => {
      const span = this.#edgeTimes.get(keys[i]);
      if (span === undefined) this.#edgeTimes.set(keys[i], { first: edge.time, last: edge.time });
      else {
        span.first = Math.min(span.first, edge.time);
        span.last = Math.max(span.last, edge.time);
      }
    });
  }

  /** A peer id's string form, remembered: the same few thousand peers come back in every report. */
  #peerId(peer: PeerIdBytes): string {
    const key = latin1(peer);
    let id = this.#peerIds.get(key);
    if (id === undefined) {
      id = peerIdToString(peer);
      if (this.#peerIds.size >= 100_000) this.#peerIds.clear();
      this.#peerIds.set(key, id);
    }
    return id;
  }
}

/** The oldest and newest attestation times of an edge. */
interface EdgeSpan {
  first: number;
  last: number;
}

function within(span: EdgeSpan | undefined, time: number): boolean {
  return span !== undefined && span.first <= time && time <= span.last;
}

/** An edge's ends, as a map key. */
function edgeKey(edge: EdgeAttestation): string {
  return latin1(edge.a) + latin1(edge.b);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** The sequence number of something that failed to decode as a report, if it has a readable one; else 0. */
function peekSeq(message: Uint8Array): number {
  if (message.length > MAX_REPORT_BYTES) return 0;
  try {
    const value = dagCbor.decode(message) as { seq?: unknown };
    const seq = typeof value === 'object' && value !== null ? value.seq : undefined;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : 0;
  } catch {
    return 0;
  }
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, with an ellipsis if cut. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes - 3);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}…`;
}
