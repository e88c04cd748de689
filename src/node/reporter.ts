import type { AbortOptions, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { TypedEventEmitter } from 'main-event';
import { CID } from 'multiformats/cid';
import { pinnedToPeer } from '../ipfs/peer-address.js';
import { PollingLoop } from '../utils/polling-loop.js';
import { decodeAdvert } from './protocol/advert.js';
import { type CborRecord, decodeMessage, encodeMessage, readCount, readRecord, readString } from './protocol/codec.js';
import { type EdgeAttestation, encodeEdge } from './protocol/edge.js';
import { MessageDecodeError, ProtocolError } from './protocol/errors.js';
import { type PeerIdBytes, peerIdBytesOfKey, peerIdToString, samePeer, toPeerIdBytes } from './protocol/peer.js';
import {
  createReport,
  decodeReport,
  encodeReport,
  MAX_REPORT_BYTES,
  MAX_REPORT_EDGES,
  MAX_REPORT_SIGHTINGS,
  REPORT_MAX_AGE_MS,
} from './protocol/report.js';
import {
  createSighting,
  decodeSighting,
  encodeSighting,
  SIGHTING_MAX_AGE_MS,
  type Sighting,
  verifySighting,
} from './protocol/sighting.js';
import { type HeldSighting, type OutboxEntry, ReportOutbox, type SightingKey } from './report-outbox.js';
import { RequestChannel } from './rpc.js';
import type { EvidenceRecord, NodeStore } from './store.js';

const log = logger('nrp:node:reporter');

/** The report protocol: one request (an encoded report), one response (an encoded {@link ReportAck}). */
export const REPORT_PROTOCOL = '/nrp/report/1.0.0';

/** An encoded ack is never larger. */
export const MAX_REPORT_ACK_BYTES = 1024;

/** A rejection's reason is at most this many UTF-8 bytes. */
export const MAX_REPORT_ACK_REASON_BYTES = 512;

/**
 * What a rating server answers to a report: accepted (the node forgets the
 * report), or refused for good with a reason (a replayed sequence number, a
 * bad signature, stale evidence…), which resending the same bytes cannot fix.
 */
export interface ReportAck {
  /** The report's sequence number. */
  seq: number;
  accepted: boolean;
  /** Why it was refused, for the node's log. */
  reason?: string;
}

/** Encodes an ack as dag-cbor. */
export function encodeReportAck(ack: ReportAck): Uint8Array {
  const value: CborRecord = { seq: ack.seq, accepted: ack.accepted };
  if (ack.reason !== undefined) value.reason = ack.reason;
  // Check by the reader's rules, so a server never sends what nodes refuse.
  parseAck(value);
  return encodeMessage(value, 'report ack', MAX_REPORT_ACK_BYTES);
}

/** Decodes an ack strictly: `seq`, `accepted`, optionally `reason`, and nothing else. */
export function decodeReportAck(bytes: Uint8Array): ReportAck {
  return parseAck(decodeMessage(bytes, 'report ack', MAX_REPORT_ACK_BYTES));
}

function parseAck(value: unknown): ReportAck {
  const what = 'report ack';
  const record = readRecord(value, what, ['seq', 'accepted'], ['reason']);
  if (typeof record.accepted !== 'boolean') throw new MessageDecodeError(`The ${what}'s "accepted" must be a boolean`);
  const ack: ReportAck = { seq: readCount(record, 'seq', what), accepted: record.accepted };
  if (Object.hasOwn(record, 'reason')) ack.reason = readString(record, 'reason', what, MAX_REPORT_ACK_REASON_BYTES);
  return ack;
}

/**
 * The reason code a rating server's refusal starts with when a sighting names content its list does not hold
 * (`"unlisted-entry: sightings[3]: bafy… is not on this server's list"`). A node that synced a new list version
 * before the server did gets it; the sightings are held and sent again (see {@link Reporter}).
 */
export const UNLISTED_ENTRY_REASON = 'unlisted-entry';

/** A rating server this node reports to, as the registry lists it. */
export interface ReportServer {
  /** The server's libp2p peer id (its signing key). */
  peerId: string;
  /** Where to reach it; each gets `/p2p/<peerId>` if it has none. Empty: whatever the peer store knows. */
  multiaddrs: string[];
  /**
   * Whether the list this server enforces lists `cid`, as this node knows that list. The server gets only
   * sightings of content it lists (it refuses a whole report for one it does not). Absent: every sighting.
   */
  isListed?: (cid: CID) => boolean;
}

export interface ReporterInit {
  /** The servers to report to; change them later with {@link Reporter.setServers}. */
  servers?: ReportServer[];
  /** Milliseconds between reports. Default 60,000. */
  intervalMs?: number;
  /** Milliseconds before the first retry of a failed delivery; doubles per failure. Default 2,000. */
  retryMinMs?: number;
  /** The longest wait between retries. Default 5 minutes. */
  retryMaxMs?: number;
  /** Milliseconds one delivery may take. Default 10,000. */
  requestTimeoutMs?: number;
  /**
   * A waiting report older than this is signed again (same sequence number, new time, current edges) before
   * it is sent, so it is never refused as stale. Default 5 minutes: half of what servers accept.
   */
  resignAfterMs?: number;
  /** Reports built per server per round at most, when evidence piled up. Default 10. */
  maxReportsPerRound?: number;
  /** Evidence rows read from the store at a time while building reports. Default 1,000. */
  evidencePageSize?: number;
  /**
   * How long a sighting the server refused as unlisted (its list has not caught up with ours yet) is kept and
   * sent again, with backoff, before it is given up. Default one hour.
   */
  maxHoldMs?: number;
  /** A held sighting refused more often than this is given up. Default 20. */
  maxHoldRefusals?: number;
}

export interface ReporterComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>;
  /** The node's libp2p key: it signs the reports. */
  privateKey: PrivateKey;
  /** Where the evidence comes from. */
  store: Pick<NodeStore, 'listEvidence'>;
  /** Where the edges come from, normally the `EdgeService`. */
  edges: { currentEdges(): EdgeAttestation[] };
  /** SQLite file of the outbox, e.g. `<dataDir>/reports.db`. Default `:memory:`. */
  dbPath?: string;
}

export interface QueuedEvent {
  server: string;
  seq: number;
  edges: number;
  sightings: number;
}

export interface SentEvent {
  server: string;
  seq: number;
  /** Deliveries tried before, that failed. */
  attempts: number;
}

export interface FailedEvent {
  server: string;
  seq: number;
  attempts: number;
  error: Error;
  /** When the next attempt is due (ms since the epoch). */
  nextAttemptAt: number;
}

export interface RejectedEvent {
  server: string;
  seq: number;
  reason: string;
  /** Sightings in the refused report: the server will not see them. */
  sightings: number;
}

export interface HeldEvent {
  server: string;
  seq: number;
  /** The server's reason, starting with {@link UNLISTED_ENTRY_REASON}. */
  reason: string;
  /** Sightings the server refused as unlisted, held to be sent again after a backoff. */
  held: number;
  /** The other sightings of the refused report, going out again at once in a new report. */
  resent: number;
  /** Refused sightings given up: held longer than `maxHoldMs`, or refused more than `maxHoldRefusals` times. */
  dropped: number;
}

export interface ReporterEvents {
  /** A report was signed and put in the outbox. */
  queued: CustomEvent<QueuedEvent>;
  /** The server accepted a report. */
  sent: CustomEvent<SentEvent>;
  /** A delivery failed (unreachable, timeout, bad ack); the report stays and is retried. */
  failed: CustomEvent<FailedEvent>;
  /** The server refused a report; it is dropped, since resending it cannot help. */
  rejected: CustomEvent<RejectedEvent>;
  /** The server refused a report as naming unlisted content; its sightings are held and sent again. */
  held: CustomEvent<HeldEvent>;
}

/** A report waiting for delivery, for `nrp node status`. */
export interface PendingReport {
  server: string;
  seq: number;
  /** Signed time. */
  time: number;
  edges: number;
  sightings: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

/** A followed server's peer id or address is not usable. */
export class InvalidReportServerError extends Error {
  override name = 'InvalidReportServerError';
}

/** The server answered with an ack for another report. */
/** The server refused a report only because this node sent too many; it is retried with backoff. */
export class ReportRateLimitedError extends Error {
  override name = 'ReportRateLimitedError';
}

export class ReportAckMismatchError extends ProtocolError {
  override name = 'ReportAckMismatchError';
}

/** Room left in a report for everything but its edges and sightings (ids, numbers, signature, headers). */
const ENVELOPE_BYTES = 1024;

/** A sighting must still verify when the report arrives, which may be up to REPORT_MAX_AGE_MS later. */
const SIGHTING_REPORTABLE_MS = SIGHTING_MAX_AGE_MS - REPORT_MAX_AGE_MS;

/**
 * Reports to rating servers, `/nrp/report/1.0.0`. Every `intervalMs`, for
 * each followed server, it signs a report of this node's current edges and
 * the evidence collected since its last report to that server, and puts it in
 * a persistent outbox ({@link ReportOutbox}) together with the next sequence
 * number and the advanced evidence cursor, in one transaction. Then it
 * delivers the outbox in sequence order per server: an accepted ack deletes a
 * report, a refusal drops it (and says why), and any other failure keeps it
 * for a retry with exponential backoff. Reports never overtake each other, so
 * a server sees each reporter's sequence numbers ascend.
 *
 * Evidence that piled up is read a page at a time and split over several
 * reports within the protocol's limits; evidence that no longer verifies (a
 * bad or too old advert), or of content the server's list does not list
 * (`ReportServer.isListed`), is skipped with a log line, since it would make
 * the server refuse the whole report.
 *
 * A node may sync a new list version before its server does; the server then
 * refuses the report as naming an unlisted entry ({@link UNLISTED_ENTRY_REASON}).
 * Its sightings are not lost: the one the server named is held and sent again
 * with backoff (the server's list catches up meanwhile) for up to `maxHoldMs`
 * or `maxHoldRefusals` refusals, and the others go out again at once in a new
 * report. They survive a restart like the outbox.
 *
 * While a server is down, at most one report without evidence waits for it;
 * a report that waited long is signed again, same sequence number, so it is
 * never refused as stale. If a lost ack makes the server see a sequence
 * number twice, it refuses the second copy as a replay, which is right: it
 * already has it.
 *
 * Sequence numbers start at the clock (ms since the epoch) for a server never
 * reported to, then count up by one per report. A node whose `reports.db` was
 * lost thus still starts above what the server saw, since it never sends a
 * report per millisecond.
 *
 * @example
 * const reporter = new Reporter(
 *   { libp2p: helia.libp2p, privateKey, store, edges, dbPath: join(dataDir, 'reports.db') },
 *   { servers: [{ peerId: '12D3KooW…', multiaddrs: ['/ip4/192.0.2.1/tcp/4001'] }] },
 * );
 * reporter.addEventListener('rejected', ({ detail }) => console.warn(detail.server, detail.reason));
 * await reporter.start();
 * console.table(reporter.pending());
 */
export class Reporter extends TypedEventEmitter<ReporterEvents> {
  readonly #components: ReporterComponents;
  readonly #init: Required<Omit<ReporterInit, 'servers'>>;
  readonly #outbox: ReportOutbox;
  readonly #self: PeerIdBytes;
  /** Each followed server, with the stream its reports go over (kept open between reports). */
  #servers = new Map<string, { server: ReportServer; target: PeerId | Multiaddr[]; channel: RequestChannel }>();
  readonly #loop = new PollingLoop();
  readonly #controller = new AbortController();
  readonly #pumps = new Map<string, Promise<void>>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Servers kicked while their pump was finishing: kicked again when it is done. */
  readonly #rekick = new Set<string>();
  /** Builds run one at a time: each takes the next sequence number. */
  #building: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(components: ReporterComponents, init: ReporterInit = {}) {
    super();
    this.#components = components;
    this.#init = {
      intervalMs: init.intervalMs ?? 60_000,
      retryMinMs: init.retryMinMs ?? 2_000,
      retryMaxMs: init.retryMaxMs ?? 5 * 60_000,
      requestTimeoutMs: init.requestTimeoutMs ?? 10_000,
      resignAfterMs: init.resignAfterMs ?? REPORT_MAX_AGE_MS / 2,
      maxReportsPerRound: init.maxReportsPerRound ?? 10,
      evidencePageSize: init.evidencePageSize ?? 1_000,
      maxHoldMs: init.maxHoldMs ?? 60 * 60_000,
      maxHoldRefusals: init.maxHoldRefusals ?? 20,
    };
    this.#self = peerIdBytesOfKey(components.privateKey);
    this.setServers(init.servers ?? []);
    this.#outbox = ReportOutbox.open(components.dbPath ?? ':memory:');
  }

  /** Reports now and then every `intervalMs`; delivers what the outbox holds from before a restart. */
  async start(): Promise<void> {
    if (this.#closed || this.#loop.running) return;
    // A restart is as good a moment to retry as any: the backoff was for a process that is gone.
    for (const server of this.#servers.keys()) this.#outbox.retryNow(server);
    await this.#loop.start(
      async (signal) => {
        await this.report({ signal });
        // Also servers that got no new report: their outbox may hold reports from before a restart.
        for (const server of this.#servers.keys()) this.#kick(server);
      },
      {
        intervalMs: this.#init.intervalMs,
        signal: this.#controller.signal,
        onError: (error) => log.error('could not build reports: %e', error),
      },
    );
  }

  /**
   * Stops reporting and delivering, and closes the outbox. A stopped reporter is not restarted: a new one on
   * the same `dbPath` sends what the outbox holds. Stop it before the edge service and the node store it reads.
   */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.abort();
    await this.#loop.stop();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    await Promise.allSettled([...this.#pumps.values(), this.#building]);
    await Promise.allSettled([...this.#servers.values()].map(({ channel }) => channel.close()));
    this.#outbox.close();
  }

  /** The followed servers. */
  get servers(): ReportServer[] {
    return [...this.#servers.values()].map(({ server }) => server);
  }

  /**
   * Replaces the followed servers. Reports waiting for a server no longer followed stay in the outbox, and
   * go out if it is followed again. Throws {@link InvalidReportServerError} for a bad peer id or address.
   */
  setServers(servers: readonly ReportServer[]) {
    const next = new Map<string, { server: ReportServer; target: PeerId | Multiaddr[]; channel: RequestChannel }>();
    for (const server of servers) {
      const target = targetOf(server);
      const kept = this.#servers.get(server.peerId);
      const channel =
        kept && sameTarget(kept.target, target)
          ? kept.channel
          : new RequestChannel(this.#components.libp2p, target, REPORT_PROTOCOL, {
              maxResponseBytes: MAX_REPORT_ACK_BYTES,
            });
      next.set(server.peerId, { server, target, channel });
    }
    for (const [server, { channel }] of this.#servers) {
      if (next.get(server)?.channel === channel) continue;
      clearTimeout(this.#timers.get(server));
      void channel.close();
    }
    this.#servers = next;
    if (this.#loop.running) for (const server of next.keys()) this.#kick(server);
  }

  /** Reports waiting for delivery, by server and sequence number. */
  pending(): PendingReport[] {
    return this.#outbox.list().map((entry) => ({
      server: entry.server,
      seq: entry.seq,
      time: entry.time,
      edges: entry.edges,
      sightings: entry.sightings,
      attempts: entry.attempts,
      nextAttemptAt: entry.nextAttemptAt,
      ...(entry.lastError !== undefined && { lastError: entry.lastError }),
    }));
  }

  /** Sightings held to be sent again after a server refused them as unlisted, by server and age. */
  held(): Omit<HeldSighting, 'sighting'>[] {
    return this.#outbox.listHeld().map(({ sighting: _, ...held }) => held);
  }

  /**
   * Builds and queues a report for every followed server now (the periodic round does this too), and
   * returns what it queued. Delivery starts in the background; see {@link Reporter.flush} to wait for it.
   */
  async report(options: AbortOptions = {}): Promise<QueuedEvent[]> {
    const run = this.#building.then(async () => {
      const queued: QueuedEvent[] = [];
      for (const server of this.#servers.keys()) {
        options.signal?.throwIfAborted();
        if (this.#closed) break;
        try {
          queued.push(...(await this.#buildFor(server)));
          this.#kick(server);
        } catch (error) {
          log.error('could not build a report for %s: %e', server, error);
        }
      }
      return queued;
    });
    this.#building = run.catch(() => {});
    return run;
  }

  /**
   * Tries to deliver every waiting report of the followed servers now, backoff or not, and resolves when each
   * server's queue is empty or a delivery to it failed.
   */
  async flush(options: AbortOptions = {}): Promise<void> {
    await Promise.all(
      [...this.#servers.keys()].map(async (server) => {
        while (this.#pumps.has(server)) await this.#pumps.get(server);
        options.signal?.throwIfAborted();
        if (this.#closed) return;
        this.#outbox.retryNow(server);
        this.#kick(server);
        await this.#pumps.get(server);
      }),
    );
  }

  async #buildFor(server: string): Promise<QueuedEvent[]> {
    const queued: QueuedEvent[] = [];
    const progress = this.#outbox.progress(server);
    let cursor = progress?.evidenceCursor ?? 0;
    let lastSeq = progress?.lastSeq;
    const isListed = this.#servers.get(server)?.server.isListed;
    const evidence = new EvidencePages(this.#components.store, cursor, this.#init.evidencePageSize);
    const held = this.#outbox.dueHeld(server, Date.now(), MAX_REPORT_SIGHTINGS);
    // A report without evidence still says "I report to you, and these are my neighbours"; one waiting is enough.
    if (held.length === 0 && evidence.peek() === undefined && this.#outbox.count(server) > 0) return queued;
    do {
      const edges = fitEdges(this.#ownEdges(), ENVELOPE_BYTES);
      let budget = MAX_REPORT_BYTES - ENVELOPE_BYTES - edges.bytes;
      const sightings: Sighting[] = [];
      const carried: SightingKey[] = [];
      let used = 0;
      // Held sightings first: they are the oldest.
      while (held.length > 0 && sightings.length < MAX_REPORT_SIGHTINGS) {
        const [next] = held;
        const sighting = this.#heldSighting(next);
        if (sighting) {
          if (next.sighting.length > budget) break;
          budget -= next.sighting.length;
          sightings.push(sighting);
          carried.push({ cid: next.cid, fromPeer: next.fromPeer });
        } else {
          this.#outbox.dropHeld(server, next);
        }
        held.shift();
        used++;
      }
      for (let record = evidence.peek(); record; record = evidence.peek()) {
        if (sightings.length >= MAX_REPORT_SIGHTINGS) break;
        if (isListed && !isListed(CID.parse(record.cid))) {
          log('evidence %d is of %s, which the list of %s does not list: not for it', record.id, record.cid, server);
        } else {
          const sighting = await this.#sightingOf(record);
          if (sighting) {
            const bytes = encodeSighting(sighting).length;
            if (bytes > budget) break;
            budget -= bytes;
            sightings.push(sighting);
          }
        }
        cursor = record.id;
        evidence.next();
        used++;
      }
      if (this.#closed) break;
      if (sightings.length === 0 && this.#outbox.count(server) > 0) {
        // Only evidence that is not for this server: no second report without sightings, but move past it.
        this.#outbox.advanceCursor(server, cursor);
        break;
      }
      const seq = lastSeq === undefined ? Date.now() : lastSeq + 1;
      const report = await createReport(this.#components.privateKey, { seq, edges: edges.edges, sightings });
      if (this.#closed) break;
      this.#outbox.enqueue({
        server,
        seq,
        report: encodeReport(report),
        time: report.time,
        edges: report.edges.length,
        sightings: sightings.length,
        evidenceCursor: cursor,
        held: carried,
      });
      lastSeq = seq;
      const event = { server, seq, edges: report.edges.length, sightings: sightings.length };
      log('queued report %d for %s: %d edges, %d sightings', seq, server, event.edges, event.sightings);
      this.safeDispatchEvent('queued', { detail: event });
      queued.push(event);
      // Nothing fitted (cannot happen within the protocol's limits): stop rather than queue empty reports.
      if (used === 0) break;
    } while ((held.length > 0 || evidence.peek() !== undefined) && queued.length < this.#init.maxReportsPerRound);
    return queued;
  }

  /** A held sighting, or undefined (logged) if it grew too old to verify by the time it arrives. */
  #heldSighting(held: HeldSighting): Sighting | undefined {
    try {
      const sighting = decodeSighting(held.sighting);
      if (sighting.advert.time < Date.now() - SIGHTING_REPORTABLE_MS) throw new ProtocolError('its advert is too old');
      return sighting;
    } catch (error) {
      log('held sighting of %s from %s is given up: %s', held.cid, held.fromPeer, (error as Error).message);
      return undefined;
    }
  }

  /** A stored piece of evidence as a sighting, or undefined (logged) if a server could not verify it. */
  async #sightingOf(record: EvidenceRecord): Promise<Sighting | undefined> {
    try {
      const sighting = createSighting(decodeAdvert(record.advert));
      if (!samePeer(sighting.fromPeer, toPeerIdBytes(record.fromPeer))) {
        throw new ProtocolError(`the advert is not signed by ${record.fromPeer}, the neighbour that sent it`);
      }
      if (samePeer(sighting.fromPeer, this.#self)) throw new ProtocolError('the advert is signed by this node');
      await verifySighting(sighting, { maxAgeMs: SIGHTING_REPORTABLE_MS });
      return sighting;
    } catch (error) {
      log('evidence %d from %s cannot be reported: %s', record.id, record.fromPeer, (error as Error).message);
      return undefined;
    }
  }

  /** The edge service's edges that this node is an end of: the server refuses a report with any other. */
  #ownEdges(): EdgeAttestation[] {
    return this.#components.edges
      .currentEdges()
      .filter((edge) => samePeer(edge.a, this.#self) || samePeer(edge.b, this.#self));
  }

  /** Starts delivering to `server` unless it already is (then it looks again when it is done). */
  #kick(server: string) {
    if (this.#closed || !this.#servers.has(server)) return;
    if (this.#pumps.has(server)) {
      this.#rekick.add(server);
      return;
    }
    clearTimeout(this.#timers.get(server));
    this.#timers.delete(server);
    const pump = this.#pump(server)
      .catch((error) => log.error('delivery to %s stopped: %e', server, error))
      .finally(() => {
        this.#pumps.delete(server);
        if (this.#rekick.delete(server)) this.#kick(server);
      });
    this.#pumps.set(server, pump);
  }

  /** Builds a report for `server` now, after any build under way, and delivers it. */
  #rebuild(server: string) {
    const run = this.#building.then(async () => {
      if (this.#closed || !this.#servers.has(server)) return;
      await this.#buildFor(server);
      this.#kick(server);
    });
    this.#building = run.catch((error) => log.error('could not build a report for %s: %e', server, error));
  }

  /** Sends the server's reports in order until none is left or the next is not due; then sets a timer. */
  async #pump(server: string): Promise<void> {
    while (!this.#closed && this.#servers.has(server)) {
      const head = this.#outbox.head(server);
      if (!head) return;
      const wait = head.nextAttemptAt - Date.now();
      if (wait > 0) {
        this.#timers.set(
          server,
          setTimeout(() => this.#kick(server), wait),
        );
        return;
      }
      await this.#deliver(server, head);
    }
  }

  async #deliver(server: string, entry: OutboxEntry): Promise<void> {
    const channel = this.#servers.get(server)?.channel;
    if (!channel) return;
    let ack: ReportAck;
    let bytes = entry.report;
    try {
      if (Date.now() - entry.time > this.#init.resignAfterMs) bytes = await this.#resign(entry);
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(this.#init.requestTimeoutMs)]);
      // Over the stream the last report went over, if it is still open: a new stream per report would cost the
      // server (thousands of nodes report to it) more than checking the report does.
      const response = await channel.request(bytes, { signal });
      ack = decodeReportAck(response);
      if (ack.seq !== entry.seq) {
        throw new ReportAckMismatchError(`The server acknowledged report ${ack.seq}, not ${entry.seq}`);
      }
      // Being rate-limited says nothing against the report: it is kept and sent again later.
      if (!ack.accepted && ack.reason?.startsWith('rate-limited')) throw new ReportRateLimitedError(ack.reason);
    } catch (error) {
      if (this.#closed) return;
      const delay = backoff(entry.attempts + 1, this.#init.retryMinMs, this.#init.retryMaxMs);
      const nextAttemptAt = Date.now() + delay;
      const message = (error as Error).message;
      const attempts = this.#outbox.recordFailure(server, entry.seq, { nextAttemptAt, error: message });
      log('report %d to %s failed (attempt %d, retry in %d ms): %s', entry.seq, server, attempts, delay, message);
      this.safeDispatchEvent('failed', {
        detail: { server, seq: entry.seq, attempts, error: error as Error, nextAttemptAt },
      });
      return;
    }
    if (this.#closed) return;
    if (ack.accepted) {
      this.#outbox.settle(server, entry.seq);
      log('report %d accepted by %s', entry.seq, server);
      this.safeDispatchEvent('sent', { detail: { server, seq: entry.seq, attempts: entry.attempts } });
    } else if (ack.reason?.split(':', 1)[0] === UNLISTED_ENTRY_REASON && entry.sightings > 0) {
      this.#holdUnlisted(server, entry.seq, bytes, ack.reason);
    } else {
      this.#outbox.settle(server, entry.seq);
      const reason = ack.reason ?? 'no reason given';
      log.error('report %d refused by %s, dropped: %s', entry.seq, server, reason);
      this.safeDispatchEvent('rejected', {
        detail: { server, seq: entry.seq, reason, sightings: entry.sightings },
      });
    }
  }

  /**
   * The server's list does not hold an entry we report: it has not synced the version we have, or it will
   * never list it. Holds the sighting it named (all of them if it named none) for a later try, and sends the
   * others again at once.
   */
  #holdUnlisted(server: string, seq: number, sent: Uint8Array, reason: string) {
    const { sightings } = decodeReport(sent);
    const named = /sightings\[(\d+)\]/.exec(reason);
    const refusedIndex = named && Number(named[1]) < sightings.length ? Number(named[1]) : undefined;
    const result = this.#outbox.hold(
      server,
      seq,
      sightings.map((sighting, i) => ({
        cid: sighting.cid.toString(),
        fromPeer: peerIdToString(sighting.fromPeer),
        sighting: encodeSighting(sighting),
        refused: refusedIndex === undefined || refusedIndex === i,
      })),
      {
        maxHoldMs: this.#init.maxHoldMs,
        maxRefusals: this.#init.maxHoldRefusals,
        backoff: (refusals) => backoff(refusals, this.#init.retryMinMs, this.#init.retryMaxMs),
      },
    );
    log(
      'report %d refused by %s (%s): %d sightings held, %d sent again, %d given up',
      seq,
      server,
      reason,
      result.held,
      result.resent,
      result.dropped.length,
    );
    for (const dropped of result.dropped) {
      log.error('gave up reporting %s from %s to %s: its list never listed it', dropped.cid, dropped.fromPeer, server);
    }
    this.safeDispatchEvent('held', {
      detail: { server, seq, reason, held: result.held, resent: result.resent, dropped: result.dropped.length },
    });
    if (result.resent > 0) this.#rebuild(server);
  }

  /** Signs a waiting report again with the same sequence number, a new time and the current edges. */
  async #resign(entry: OutboxEntry): Promise<Uint8Array> {
    const old = decodeReport(entry.report);
    const now = Date.now();
    const sightings = old.sightings.filter((sighting) => sighting.advert.time >= now - SIGHTING_REPORTABLE_MS);
    if (sightings.length < old.sightings.length) {
      log(
        'report %d to %s lost %d sightings too old to verify',
        entry.seq,
        entry.server,
        old.sightings.length - sightings.length,
      );
    }
    const sightingBytes = sightings.reduce((sum, sighting) => sum + encodeSighting(sighting).length, 0);
    const edges = fitEdges(this.#ownEdges(), ENVELOPE_BYTES + sightingBytes).edges;
    const report = await createReport(this.#components.privateKey, { seq: entry.seq, time: now, edges, sightings });
    const bytes = encodeReport(report);
    if (!this.#closed) {
      this.#outbox.replace(entry.server, entry.seq, {
        report: bytes,
        time: report.time,
        edges: edges.length,
        sightings: sightings.length,
      });
    }
    log('re-signed report %d to %s', entry.seq, entry.server);
    return bytes;
  }
}

/** Evidence past a cursor, read from the store a page at a time. */
class EvidencePages {
  readonly #store: Pick<NodeStore, 'listEvidence'>;
  readonly #size: number;
  #afterId: number;
  #page: EvidenceRecord[] = [];
  #done = false;

  constructor(store: Pick<NodeStore, 'listEvidence'>, afterId: number, size: number) {
    this.#store = store;
    this.#afterId = afterId;
    this.#size = size;
  }

  /** The next record, reading the next page when the current one is used up. */
  peek(): EvidenceRecord | undefined {
    if (this.#page.length === 0 && !this.#done) {
      this.#page = this.#store.listEvidence({ afterId: this.#afterId, limit: this.#size });
      this.#done = this.#page.length < this.#size;
    }
    return this.#page[0];
  }

  next() {
    const record = this.#page.shift();
    if (record) this.#afterId = record.id;
  }
}

/** The newest edges that fit in a report beside `reservedBytes` of other content. */
function fitEdges(edges: EdgeAttestation[], reservedBytes: number): { edges: EdgeAttestation[]; bytes: number } {
  const newestFirst = [...edges].sort((x, y) => y.time - x.time);
  const fitted: EdgeAttestation[] = [];
  let bytes = 0;
  for (const edge of newestFirst) {
    if (fitted.length >= MAX_REPORT_EDGES) break;
    const size = encodeEdge(edge).length;
    if (reservedBytes + bytes + size > MAX_REPORT_BYTES) break;
    fitted.push(edge);
    bytes += size;
  }
  return { edges: fitted, bytes };
}

/** Exponential backoff with ±20% jitter, so nodes do not all come back to a server at the same moment. */
function backoff(attempt: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

/** Where to dial a server: its multiaddrs, each pinned to its peer id, or the peer id alone. */
function targetOf(server: ReportServer): PeerId | Multiaddr[] {
  let peerId: PeerId;
  try {
    peerId = peerIdFromString(server.peerId);
    toPeerIdBytes(peerId);
  } catch (error) {
    throw new InvalidReportServerError(`${server.peerId} is not an Ed25519 peer id`, { cause: error });
  }
  if (server.multiaddrs.length === 0) return peerId;
  return server.multiaddrs.map((address) => {
    try {
      // Noise checks the peer id on dialing, so the report reaches this server and no other.
      return pinnedToPeer(address, server.peerId);
    } catch (error) {
      throw new InvalidReportServerError((error as Error).message, { cause: error });
    }
  });
}

/** Whether two targets name the same peer at the same addresses, so a channel to one serves the other. */
function sameTarget(a: PeerId | Multiaddr[], b: PeerId | Multiaddr[]): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return !Array.isArray(a) && !Array.isArray(b) && a.equals(b);
  return a.length === b.length && a.every((address, i) => address.equals(b[i] as Multiaddr));
}
