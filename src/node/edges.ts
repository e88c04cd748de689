import type { DatabaseSync } from 'node:sqlite';
import type { AbortOptions, IdentifyResult, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import { type Migration, openDatabase } from '../utils/sqlite.js';
import {
  completeEdge,
  createEdgeHalf,
  decodeEdge,
  decodeEdgeHalf,
  EDGE_MAX_AGE_MS,
  EDGE_MAX_SKEW_MS,
  type EdgeAttestation,
  type EdgeStatement,
  edgeStatement,
  encodeEdge,
  encodeEdgeHalf,
  MAX_EDGE_BYTES,
  verifyEdgeHalf,
} from './protocol/edge.js';
import { ProtocolError } from './protocol/errors.js';
import { comparePeers, type PeerIdBytes, samePeer, toPeerIdBytes } from './protocol/peer.js';
import { handleRequests, request } from './rpc.js';

const log = logger('nrp:node:edges');

/** The edge attestation protocol: one request (the initiator's half), one response (the responder's half). */
export const EDGE_PROTOCOL = '/nrp/edge/1.0.0';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- The newest attestation, signed by both ends, of the connection with each neighbour.
      CREATE TABLE edges (
        peer TEXT PRIMARY KEY,
        time INTEGER NOT NULL,
        edge BLOB NOT NULL
      );
      CREATE INDEX edges_by_time ON edges (time);
    `,
  },
];

export interface EdgeServiceInit {
  /** Milliseconds between attestations of a connection while it lasts. Default 10 minutes. */
  refreshMs?: number;
  /**
   * Milliseconds the end with the larger peer id waits for the other end to initiate before initiating itself
   * (see {@link EdgeService}). Default 30,000.
   */
  graceMs?: number;
  /** How old an edge {@link EdgeService.currentEdges} still returns. Default 30 minutes: half of `EDGE_MAX_AGE_MS`. */
  maxAgeMs?: number;
  /** How old, or how far ahead, the time of a half a neighbour asks us to countersign may be. Default 60,000. */
  maxHalfSkewMs?: number;
  /** A neighbour gets at most one countersignature per this many milliseconds. Default 5,000. */
  minIntervalMs?: number;
  /** Milliseconds an exchange may take. Default 10,000. */
  timeoutMs?: number;
  /** Milliseconds before the first retry of a failed exchange; doubles per failure up to `refreshMs`. Default 5,000. */
  retryMinMs?: number;
}

export interface EdgeServiceComponents {
  libp2p: Libp2p;
  /** The node's libp2p key: it signs this end of every edge. */
  privateKey: PrivateKey;
  /** SQLite file that keeps the newest edge per neighbour, e.g. `<dataDir>/edges.db`. Default `:memory:`. */
  dbPath?: string;
}

/** A complete edge was stored. */
export interface EdgeEvent {
  /** The neighbour, as a peer id string. */
  peer: string;
  edge: EdgeAttestation;
  /** Whether this node sent the first half (`initiator`) or countersigned the neighbour's (`responder`). */
  role: 'initiator' | 'responder';
}

/** A neighbour's request to countersign was refused. */
export interface RejectedEdgeEvent {
  peer: string;
  reason: 'malformed' | 'bad-signature' | 'wrong-statement' | 'stale' | 'rate-limited';
  message: string;
}

/** A neighbour does not speak the protocol (a rating server, a plain IPFS peer): no edge is tried with it. */
export interface UnsupportedEdgeEvent {
  peer: string;
}

export interface EdgeServiceEvents {
  edge: CustomEvent<EdgeEvent>;
  rejected: CustomEvent<RejectedEdgeEvent>;
  unsupported: CustomEvent<UnsupportedEdgeEvent>;
}

/** The half a neighbour sent, or answered with, is not of the connection between it and this node at that time. */
export class EdgeStatementMismatchError extends ProtocolError {
  override name = 'EdgeStatementMismatchError';
}

/** A neighbour asked for countersignatures faster than `minIntervalMs`. */
export class EdgeRateLimitedError extends ProtocolError {
  override name = 'EdgeRateLimitedError';
}

interface Neighbour {
  peerId: PeerId;
  /** Local time when an edge with this neighbour was last stored during this connection. */
  lastAt?: number;
  failures: number;
  timer?: ReturnType<typeof setTimeout>;
  /** It does not speak the protocol, as far as we know: nothing is tried until identify says otherwise. */
  unsupported?: boolean;
}

/**
 * Edge attestations, `/nrp/edge/1.0.0`: both ends of every connection sign
 * `{a, b, time}`, so a rating server can count the edge and a node cannot
 * invent a topology.
 *
 * One request and one response give both ends the complete attestation: the
 * initiator picks the time, signs and sends its half; the responder checks
 * that the half is of this very connection, fresh (±`maxHalfSkewMs`) and
 * signed by the peer at the other end of the stream, countersigns, stores the
 * complete edge, and answers with its own half, which the initiator checks and
 * stores in turn.
 *
 * Who initiates: the end whose peer id sorts first (the statement's `a`), at
 * once on connecting and then every `refreshMs`. Both ends know this without
 * talking, so simultaneous dials give one exchange, not two. The other end
 * takes over when no edge arrives within `graceMs` past its own due time (the
 * `a` end may not run this service, or may have lost its timer), which costs
 * a second exchange only in that rare case.
 *
 * Only neighbours that speak the protocol are attested: a neighbour whose
 * identify lists no `/nrp/edge/1.0.0` (a rating server, a plain IPFS peer),
 * or that refuses the protocol, is left alone, with no retries, until a later
 * identify (a reconnection) lists it.
 *
 * A half that is malformed, badly signed, of another statement, stale or sent
 * too often is refused (the stream is reset) and reported as a `rejected`
 * event; it never stops the node.
 *
 * @example
 * const edges = new EdgeService({ libp2p: helia.libp2p, privateKey, dbPath: join(dataDir, 'edges.db') });
 * await edges.start();
 * const report = await createReport(privateKey, { seq, edges: edges.currentEdges() });
 * await edges.stop();
 */
export class EdgeService extends TypedEventEmitter<EdgeServiceEvents> {
  readonly #components: EdgeServiceComponents;
  readonly #init: Required<EdgeServiceInit>;
  readonly #db: DatabaseSync;
  readonly #self: PeerIdBytes;
  readonly #neighbours = new Map<string, Neighbour>();
  /** When each peer last got a countersignature, for `minIntervalMs`. */
  readonly #answered = new Map<string, number>();
  readonly #running = new Set<Promise<unknown>>();
  /** Attestations asked for by {@link isAttested}, by neighbour, while under way. */
  readonly #attesting = new Map<string, Promise<boolean>>();
  /** The newest edge time by neighbour, as far as {@link isAttested} has looked. */
  readonly #attestedAt = new Map<string, number>();
  readonly #controller = new AbortController();
  #started = false;

  constructor(components: EdgeServiceComponents, init: EdgeServiceInit = {}) {
    super();
    this.#components = components;
    const refreshMs = init.refreshMs ?? 10 * 60_000;
    this.#init = {
      refreshMs,
      graceMs: init.graceMs ?? 30_000,
      maxAgeMs: init.maxAgeMs ?? EDGE_MAX_AGE_MS / 2,
      maxHalfSkewMs: init.maxHalfSkewMs ?? EDGE_MAX_SKEW_MS,
      // Never so long that a neighbour's regular refresh would be refused.
      minIntervalMs: Math.min(init.minIntervalMs ?? 5_000, refreshMs / 2),
      timeoutMs: init.timeoutMs ?? 10_000,
      retryMinMs: init.retryMinMs ?? 5_000,
    };
    this.#self = toPeerIdBytes(components.libp2p.peerId);
    this.#db = openDatabase(components.dbPath ?? ':memory:', MIGRATIONS);
  }

  /** Serves the protocol and attests every connection, present and future. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { libp2p } = this.#components;
    await handleRequests(libp2p, EDGE_PROTOCOL, (message, context) => this.#answer(message, context.remotePeer), {
      maxRequestBytes: MAX_EDGE_BYTES,
      timeoutMs: this.#init.timeoutMs,
    });
    libp2p.addEventListener('peer:connect', this.#onConnect);
    libp2p.addEventListener('peer:disconnect', this.#onDisconnect);
    libp2p.addEventListener('peer:identify', this.#onIdentify);
    for (const peer of libp2p.getPeers()) this.#connected(peer);
  }

  /** Stops attesting, waits for exchanges under way, and closes the database. A stopped service is not restarted. */
  async stop(): Promise<void> {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort();
    const { libp2p } = this.#components;
    libp2p.removeEventListener('peer:connect', this.#onConnect);
    libp2p.removeEventListener('peer:disconnect', this.#onDisconnect);
    libp2p.removeEventListener('peer:identify', this.#onIdentify);
    for (const neighbour of this.#neighbours.values()) clearTimeout(neighbour.timer);
    this.#neighbours.clear();
    if (this.#started) {
      await libp2p.unhandle(EDGE_PROTOCOL).catch((error: Error) => log('could not unhandle: %s', error.message));
    }
    await Promise.allSettled(this.#running);
    this.#db.close();
  }

  /**
   * The newest complete edge per neighbour, newest first, leaving out those older than `maxAgeMs`: what a
   * report carries. Includes neighbours that disconnected since: the edge says when they were connected.
   */
  currentEdges(): EdgeAttestation[] {
    return this.#db
      .prepare('SELECT edge FROM edges WHERE time >= ? ORDER BY time DESC')
      .all(Date.now() - this.#init.maxAgeMs)
      .map((row) => decodeEdge(new Uint8Array(row.edge as Uint8Array)));
  }

  /** The newest stored edge with `peer`, however old, if any. */
  edgeWith(peer: PeerId | string): EdgeAttestation | undefined {
    const row = this.#db.prepare('SELECT edge FROM edges WHERE peer = ?').get(peer.toString());
    return row && decodeEdge(new Uint8Array(row.edge as Uint8Array));
  }

  /**
   * Whether the connection with `peer` is attested: an edge both ends signed within `maxAgeMs`, or one attested
   * now (once per neighbour at a time, however many callers ask). False when the neighbour refuses to sign.
   *
   * @example
   * if (!(await edges.isAttested(peer, { signal }))) return; // take nothing from an unaccountable peer
   */
  isAttested(peer: PeerId, options: AbortOptions = {}): boolean | Promise<boolean> {
    const key = peer.toString();
    const since = Date.now() - this.#init.maxAgeMs;
    // Asked for every advert, so the answer comes from memory; the database only for a neighbour not seen yet.
    let time = this.#attestedAt.get(key);
    if (time === undefined) {
      time = this.edgeWith(key)?.time ?? Number.NEGATIVE_INFINITY;
      this.#attestedAt.set(key, time);
    }
    if (time >= since) return true;
    let attesting = this.#attesting.get(key);
    if (!attesting) {
      attesting = this.attest(peer, options).then(
        () => true,
        (error: Error) => {
          log('%s did not attest our connection: %s', key, error.message);
          return false;
        },
      );
      this.#attesting.set(key, attesting);
      void attesting.finally(() => this.#attesting.delete(key));
    }
    return attesting;
  }

  /**
   * Attests the connection with `peer` now, as the initiator, and stores the edge. Throws if the neighbour
   * refuses or answers with a half that does not complete the statement.
   *
   * @example
   * const edge = await edges.attest(connection.remotePeer, { signal: AbortSignal.timeout(5_000) });
   */
  async attest(peer: PeerId, options: AbortOptions = {}): Promise<EdgeAttestation> {
    return this.#track(this.#attest(peer, options));
  }

  async #attest(peer: PeerId, options: AbortOptions): Promise<EdgeAttestation> {
    const { libp2p, privateKey } = this.#components;
    const statement = edgeStatement(this.#self, peer);
    const mine = await createEdgeHalf(privateKey, statement);
    const signal = AbortSignal.any([
      this.#controller.signal,
      AbortSignal.timeout(this.#init.timeoutMs),
      ...(options.signal ? [options.signal] : []),
    ]);
    const response = await request(libp2p, peer, EDGE_PROTOCOL, encodeEdgeHalf(mine), {
      signal,
      maxResponseBytes: MAX_EDGE_BYTES,
    });
    const theirs = decodeEdgeHalf(response);
    if (!sameStatement(theirs, statement)) {
      throw new EdgeStatementMismatchError(`${peer} answered with a half of another statement`);
    }
    // Our own time, so only the signature and the signer matter.
    await verifyEdgeHalf(theirs, { from: peer, maxAgeMs: Number.POSITIVE_INFINITY });
    const edge = await this.#complete(statement, mine.signature, theirs.signature);
    this.#store(peer, edge, 'initiator');
    return edge;
  }

  /** The responder's side: check the neighbour's half, countersign, store, answer. */
  async #answer(message: Uint8Array, remotePeer: PeerId): Promise<Uint8Array> {
    const peer = remotePeer.toString();
    try {
      const answeredAt = this.#answered.get(peer);
      if (answeredAt !== undefined && Date.now() - answeredAt < this.#init.minIntervalMs) {
        throw new EdgeRateLimitedError(`${peer} asked again within ${this.#init.minIntervalMs} ms`);
      }
      const half = decodeEdgeHalf(message);
      const statement = edgeStatement(this.#self, remotePeer, half.time);
      if (!sameStatement(half, statement)) {
        throw new EdgeStatementMismatchError(`The half from ${peer} is not of its connection with this node`);
      }
      // The initiator signed just now: a time far from ours is an old half replayed, or a backdated one.
      const skew = this.#init.maxHalfSkewMs;
      await verifyEdgeHalf(half, { from: remotePeer, maxAgeMs: skew, maxSkewMs: skew });
      const mine = await createEdgeHalf(this.#components.privateKey, statement);
      const edge = await this.#complete(statement, mine.signature, half.signature);
      this.#answered.set(peer, Date.now());
      this.#pruneAnswered();
      this.#store(remotePeer, edge, 'responder');
      return encodeEdgeHalf(mine);
    } catch (error) {
      const reason = rejectionReason(error as Error);
      log('refused an edge half from %s (%s): %s', peer, reason, (error as Error).message);
      this.safeDispatchEvent('rejected', { detail: { peer, reason, message: (error as Error).message } });
      throw error;
    }
  }

  /** Orders the two signatures by end: ours is `sigA` when our peer id sorts first. */
  #complete(statement: EdgeStatement, mine: Uint8Array, theirs: Uint8Array): Promise<EdgeAttestation> {
    const ours = samePeer(statement.a, this.#self);
    return completeEdge(statement, ours ? mine : theirs, ours ? theirs : mine);
  }

  #store(peer: PeerId, edge: EdgeAttestation, role: EdgeEvent['role']) {
    if (this.#controller.signal.aborted) return;
    const key = peer.toString();
    this.#db
      .prepare(
        `INSERT INTO edges (peer, time, edge) VALUES (?, ?, ?)
         ON CONFLICT (peer) DO UPDATE SET time = excluded.time, edge = excluded.edge WHERE excluded.time > edges.time`,
      )
      .run(key, edge.time, encodeEdge(edge));
    // Servers refuse edges past EDGE_MAX_AGE_MS, so older ones are of no use to anyone.
    this.#db.prepare('DELETE FROM edges WHERE time < ?').run(Date.now() - EDGE_MAX_AGE_MS);
    const neighbour = this.#neighbours.get(key);
    if (neighbour) neighbour.lastAt = Date.now();
    if (edge.time > (this.#attestedAt.get(key) ?? Number.NEGATIVE_INFINITY)) this.#attestedAt.set(key, edge.time);
    log('stored edge with %s as %s (time %d)', key, role, edge.time);
    this.safeDispatchEvent('edge', { detail: { peer: key, edge, role } });
  }

  readonly #onConnect = (event: CustomEvent<PeerId>) => this.#connected(event.detail);

  readonly #onDisconnect = (event: CustomEvent<PeerId>) => {
    const key = event.detail.toString();
    clearTimeout(this.#neighbours.get(key)?.timer);
    this.#neighbours.delete(key);
    this.#attestedAt.delete(key);
  };

  /** Identify says which protocols a neighbour speaks: stop or start attesting it accordingly. */
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>) => {
    const { peerId, protocols } = event.detail;
    const key = peerId.toString();
    const neighbour = this.#neighbours.get(key);
    if (!neighbour) return;
    if (!protocols.includes(EDGE_PROTOCOL)) {
      this.#unsupported(key, neighbour);
    } else if (neighbour.unsupported) {
      neighbour.unsupported = false;
      neighbour.failures = 0;
      log('%s speaks %s now', key, EDGE_PROTOCOL);
      this.#schedule(key, this.#initiates(toPeerIdBytes(peerId)) ? 0 : this.#init.graceMs);
    }
  };

  /** Leaves a neighbour alone: no exchange, no retry, until identify lists the protocol. */
  #unsupported(key: string, neighbour: Neighbour) {
    clearTimeout(neighbour.timer);
    neighbour.timer = undefined;
    if (neighbour.unsupported) return;
    neighbour.unsupported = true;
    log('%s does not speak %s: no edge with it', key, EDGE_PROTOCOL);
    this.safeDispatchEvent('unsupported', { detail: { peer: key } });
  }

  /** Whether the peer store says `peer` speaks the protocol; yes when it does not know yet (identify pending). */
  async #speaksEdge(peer: PeerId): Promise<boolean> {
    const known = await this.#components.libp2p.peerStore.get(peer).catch(() => undefined);
    return known === undefined || known.protocols.length === 0 || known.protocols.includes(EDGE_PROTOCOL);
  }

  #connected(peerId: PeerId) {
    if (this.#controller.signal.aborted) return;
    const key = peerId.toString();
    if (this.#neighbours.has(key)) return;
    let bytes: PeerIdBytes;
    try {
      bytes = toPeerIdBytes(peerId);
    } catch {
      // Only Ed25519 peers can sign an edge.
      return;
    }
    this.#neighbours.set(key, { peerId, failures: 0 });
    this.#schedule(key, this.#initiates(bytes) ? 0 : this.#init.graceMs);
  }

  /** Whether this node starts the exchanges with a neighbour: the end that sorts first does. */
  #initiates(peer: PeerIdBytes): boolean {
    return comparePeers(this.#self, peer) < 0;
  }

  #schedule(key: string, delayMs: number) {
    const neighbour = this.#neighbours.get(key);
    if (!neighbour || this.#controller.signal.aborted) return;
    clearTimeout(neighbour.timer);
    neighbour.timer = setTimeout(() => void this.#track(this.#due(key)), Math.max(0, delayMs));
  }

  /** Attests the connection if no edge came within this end's period; then plans the next check. */
  async #due(key: string) {
    const neighbour = this.#neighbours.get(key);
    if (!neighbour || neighbour.unsupported) return;
    const period = this.#initiates(toPeerIdBytes(neighbour.peerId))
      ? this.#init.refreshMs
      : this.#init.refreshMs + this.#init.graceMs;
    if (neighbour.lastAt !== undefined && Date.now() - neighbour.lastAt < period) {
      this.#schedule(key, neighbour.lastAt + period - Date.now());
      return;
    }
    try {
      if (!(await this.#speaksEdge(neighbour.peerId))) {
        this.#unsupported(key, neighbour);
        return;
      }
      await this.#attest(neighbour.peerId, {});
      neighbour.failures = 0;
      this.#schedule(key, period);
    } catch (error) {
      if (this.#controller.signal.aborted) return;
      // Identify may not have told us yet; the refusal does. A later identify that lists it starts over.
      if ((error as Error).name === 'UnsupportedProtocolError') {
        this.#unsupported(key, neighbour);
        return;
      }
      neighbour.failures++;
      const delay = Math.min(this.#init.refreshMs, this.#init.retryMinMs * 2 ** (neighbour.failures - 1));
      log('could not attest the edge with %s (retry in %d ms): %s', key, delay, (error as Error).message);
      this.#schedule(key, delay);
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#running.add(promise);
    const untrack = () => this.#running.delete(promise);
    promise.then(untrack, untrack);
    return promise;
  }

  #pruneAnswered() {
    if (this.#answered.size < 1_000) return;
    const before = Date.now() - this.#init.minIntervalMs;
    for (const [peer, at] of this.#answered) if (at < before) this.#answered.delete(peer);
  }
}

function sameStatement(x: EdgeStatement, y: EdgeStatement): boolean {
  return x.time === y.time && samePeer(x.a, y.a) && samePeer(x.b, y.b);
}

function rejectionReason(error: Error): RejectedEdgeEvent['reason'] {
  switch (error.name) {
    case 'EdgeRateLimitedError':
      return 'rate-limited';
    case 'StaleMessageError':
      return 'stale';
    case 'BadSignatureError':
      return 'bad-signature';
    case 'SignerMismatchError':
    case 'EdgeStatementMismatchError':
      return 'wrong-statement';
    default:
      return 'malformed';
  }
}
