import type { Libp2p } from '@libp2p/interface';
import { entryIdToHex } from '../lists/entry-id.js';
import type { MembershipIndex } from '../lists/membership-index.js';
import { peerIdToString } from '../node/protocol/peer.js';
import { encodeReport, type Report } from '../node/protocol/report.js';
import {
  decodeVerdictSnapshot,
  encodeVerdictSnapshot,
  type Rating,
  type Verdict,
  verifyVerdictSnapshot,
} from '../node/protocol/verdict.js';
import type { ServerPriority } from '../node/ratings.js';
import {
  type InferenceOptions,
  type InferredVerdict,
  inferVerdicts,
  type SightingRecord,
  toProtocolVerdict,
} from '../server/inference.js';
import {
  type IsListed,
  listedIn,
  type RejectionReason,
  ReportIntake,
  ReportRejectedError,
  ReportVerifier,
  rejectionReasonOf,
} from '../server/intake.js';
import { ServerStore } from '../server/store.js';
import { TopologyMap } from '../server/topology.js';
import { EntryEffectiveTimes, EvidenceFeed, inferFromFeed, VerdictIssuer } from '../server/verdicts.js';
import type { ContentItem } from './content.js';
import type { VirtualIdentity } from './identities.js';
import type { MessageFactory, ReportContent } from './messages.js';

/** A verdict as a node holds it after a poll. */
export type VerdictView = Pick<InferredVerdict, 'rating' | 'score' | 'reason' | 'evidence' | 'expiresAt'>;

/** A server's verdicts as its followers get them when they poll. */
export interface PublishedVerdicts {
  /** 0 before the first snapshot. */
  seq: number;
  issuedAt: number;
  byPeer: ReadonlyMap<string, VerdictView>;
}

/** What a server did during a run. */
export interface ServerStats {
  reportsAccepted: number;
  reportsRejected: Partial<Record<RejectionReason, number>>;
  /** Lying reports among those accepted: lies the server's checks let through. */
  liesAccepted: number;
  liesRejected: number;
  inferences: number;
  inferenceMs: number;
  /** Sightings weighed by the last inference, and those it left out (no edge, self, future, duplicate). */
  sightingsCounted: number;
  sightingsIgnored: number;
  ratings: Record<Rating, number>;
}

/** What a simulated server needs from the simulation. */
export interface ServerContext {
  identities: readonly VirtualIdentity[];
  items: readonly ContentItem[];
  messages: MessageFactory;
  inference: Omit<InferenceOptions, 'now'>;
}

export interface ServerInit {
  index: number;
  identity: VirtualIdentity;
  priority: ServerPriority;
  list: MembershipIndex;
  /** When the list version holding the simulated content took effect. */
  effectiveAt: number;
}

/**
 * A rating server in the simulation. Only its transport is simulated:
 * reports arrive as calls, verdicts leave as {@link published}. The map,
 * the inference and the verification are the server's own code.
 */
export interface SimServer {
  readonly index: number;
  readonly peerId: string;
  readonly priority: ServerPriority;
  readonly list: MembershipIndex;
  readonly isListed: IsListed;
  readonly published: PublishedVerdicts;
  readonly stats: ServerStats;
  /** An honest follower's report. */
  report(content: ReportContent, seq: number): void | Promise<void>;
  /** A lying reporter's signed report: checked as the server checks every report. */
  lie(report: Report): Promise<void>;
  /** One inference pass at `now`; followers see the result on their next poll. */
  infer(now: number): PublishedVerdicts | Promise<PublishedVerdicts>;
  close(): void;
}

const EMPTY: PublishedVerdicts = Object.freeze({ seq: 0, issuedAt: 0, byPeer: new Map() });

function emptyStats(): ServerStats {
  return {
    reportsAccepted: 0,
    reportsRejected: {},
    liesAccepted: 0,
    liesRejected: 0,
    inferences: 0,
    inferenceMs: 0,
    sightingsCounted: 0,
    sightingsIgnored: 0,
    ratings: { white: 0, gray: 0, black: 0 },
  };
}

function countRatings(verdicts: Iterable<{ rating: Rating }>): Record<Rating, number> {
  const ratings: Record<Rating, number> = { white: 0, gray: 0, black: 0 };
  for (const verdict of verdicts) ratings[verdict.rating]++;
  return ratings;
}

/**
 * The fast server: honest reports go straight into the server's real
 * {@link TopologyMap} and sighting records, as its intake would store them
 * after verification (a report naming an entry the list does not hold is
 * refused whole, as the intake does); lying reports are real signed messages
 * checked by the server's real {@link ReportVerifier}. Each pass runs the
 * real {@link inferVerdicts}.
 */
export class DirectServer implements SimServer {
  readonly index: number;
  readonly peerId: string;
  readonly priority: ServerPriority;
  readonly list: MembershipIndex;
  readonly isListed: IsListed;
  readonly topology = new TopologyMap();
  readonly stats = emptyStats();
  published: PublishedVerdicts = EMPTY;
  readonly #context: ServerContext;
  readonly #verifier: ReportVerifier;
  readonly #effective = new EntryEffectiveTimes();
  readonly #verifyLies: boolean;
  readonly #sightings: SightingRecord[] = [];
  #nextSighting = 1;
  #seq = 0;
  #expiredAt = Number.NEGATIVE_INFINITY;

  /** The sighting records the server holds: what the inference weighs. */
  get sightings(): readonly SightingRecord[] {
    return this.#sightings;
  }

  constructor(init: ServerInit, context: ServerContext, options: { verifyLies: boolean }) {
    this.index = init.index;
    this.peerId = init.identity.peerId;
    this.priority = init.priority;
    this.list = init.list;
    this.isListed = listedIn(init.list);
    this.#context = context;
    this.#verifier = new ReportVerifier({ isListed: this.isListed, threadPool: false });
    this.#effective.update(init.list.ids, init.effectiveAt);
    this.#verifyLies = options.verifyLies;
  }

  report(content: ReportContent): void {
    const { identities, items } = this.#context;
    for (const s of content.sightings) {
      const item = items[s.item];
      if (!this.isListed({ entryId: item.entryId, cid: item.cid })) {
        this.#rejected('unlisted-entry');
        return;
      }
    }
    const reporter = identities[content.reporter].peerId;
    this.topology.addReport(reporter, content.time);
    for (const edge of content.edges) this.topology.addEdge(reporter, identities[edge.peer].peerId, edge.time);
    for (const s of content.sightings) {
      const item = items[s.item];
      this.#addSighting(reporter, identities[s.from].peerId, item.entryId, item.cidString, s.advertTime, content.time);
    }
    this.stats.reportsAccepted++;
  }

  async lie(report: Report): Promise<void> {
    if (this.#verifyLies) {
      try {
        await this.#verifier.verify(report, { reporter: report.reporter, now: report.time });
      } catch (error) {
        if (!(error instanceof ReportRejectedError)) throw error;
        this.#rejected(error.reason);
        this.stats.liesRejected++;
        return;
      }
    }
    // Verified (or verification turned off): stored as the intake stores any report.
    const reporter = peerIdToString(report.reporter);
    this.topology.addReport(reporter, report.time);
    for (const edge of report.edges) {
      this.topology.addEdge(peerIdToString(edge.a), peerIdToString(edge.b), edge.time);
    }
    for (const s of report.sightings) {
      const from = peerIdToString(s.fromPeer);
      this.#addSighting(reporter, from, s.entryId, s.cid.toString(), s.advert.time, report.time);
    }
    this.stats.reportsAccepted++;
    this.stats.liesAccepted++;
  }

  infer(now: number): PublishedVerdicts {
    const started = performance.now();
    // The server's evidence feed forgets expired edges and reporters before each pass; nothing expires within
    // minutes (edges are kept a day, reporters an hour), so every ten minutes of virtual time is as good.
    if (now - this.#expiredAt >= 10 * 60_000) {
      this.topology.expire(now);
      this.#expiredAt = now;
    }
    const result = inferVerdicts(this.topology, this.#sightings, { ...this.#context.inference, now });
    // A new snapshot only when a penalty could change (a rating or an expiry), as the issuer skips unchanged ones.
    if (!samePenalties(this.published.byPeer, result.verdicts)) {
      this.published = {
        seq: ++this.#seq,
        issuedAt: now,
        byPeer: new Map(result.verdicts.map((verdict) => [verdict.peer, verdict])),
      };
    }
    this.stats.inferences++;
    this.stats.inferenceMs += performance.now() - started;
    this.stats.sightingsCounted = this.#sightings.length - result.ignored.length;
    this.stats.sightingsIgnored = result.ignored.length;
    this.stats.ratings = countRatings(result.verdicts);
    return this.published;
  }

  close(): void {}

  #addSighting(
    reporter: string,
    fromPeer: string,
    entryId: Uint8Array,
    cid: string,
    advertTime: number,
    reportedAt: number,
  ) {
    const effectiveAt = this.#effective.effectiveAt(entryId, cid);
    // The verifier refused unlisted entries already; an entry dropped from the list would no longer count.
    if (effectiveAt === undefined) return;
    this.#sightings.push({
      id: `sighting:${this.#nextSighting++}`,
      reporter,
      fromPeer,
      entryId: entryIdToHex(entryId),
      cid,
      advertTime,
      reportedAt,
      effectiveAt,
    });
  }

  #rejected(reason: RejectionReason) {
    this.stats.reportsRejected[reason] = (this.stats.reportsRejected[reason] ?? 0) + 1;
  }
}

/** Whether `verdicts` rate the same peers the same, with the same expiries, as `current`. */
function samePenalties(current: ReadonlyMap<string, VerdictView>, verdicts: readonly InferredVerdict[]): boolean {
  if (current.size !== verdicts.length) return false;
  for (const verdict of verdicts) {
    const before = current.get(verdict.peer);
    if (!before || before.rating !== verdict.rating || before.expiresAt !== verdict.expiresAt) return false;
  }
  return true;
}

/** Only `handle`/`unhandle` are needed, and only by `start`, which the simulation never calls. */
const NO_LIBP2P = {
  handle: async () => {},
  unhandle: async () => {},
} as unknown as Pick<Libp2p, 'handle' | 'unhandle'>;

/**
 * The faithful server: every report is a real signed message, taken by the
 * real {@link ReportIntake} (all its checks, signatures included) into a real
 * {@link ServerStore} (SQLite in memory), read back by the real
 * {@link EvidenceFeed}; each pass runs {@link inferVerdicts} and the real
 * {@link VerdictIssuer} signs a snapshot, which followers accept after
 * {@link verifyVerdictSnapshot}, as the rating server's inference pass does.
 */
export class VerifiedServer implements SimServer {
  readonly index: number;
  readonly peerId: string;
  readonly priority: ServerPriority;
  readonly list: MembershipIndex;
  readonly isListed: IsListed;
  readonly stats = emptyStats();
  published: PublishedVerdicts = EMPTY;
  readonly #context: ServerContext;
  readonly #identity: VirtualIdentity;
  readonly #store = ServerStore.open(':memory:');
  readonly #intake: ReportIntake;
  readonly #feed = new EvidenceFeed({ store: this.#store });
  readonly #issuer: VerdictIssuer;
  readonly #effective = new EntryEffectiveTimes();

  constructor(init: ServerInit, context: ServerContext) {
    this.index = init.index;
    this.peerId = init.identity.peerId;
    this.priority = init.priority;
    this.list = init.list;
    this.isListed = listedIn(init.list);
    this.#context = context;
    this.#identity = init.identity;
    this.#intake = new ReportIntake(
      { libp2p: NO_LIBP2P, store: this.#store, isListed: this.isListed },
      // The simulation's clock is not the wall clock: no rate limit, which counts real seconds. Verification on
      // this thread: reports are taken one at a time, in order, so the thread pool would only add latency.
      { rateLimit: false, cacheSize: 1_000_000, threadPool: false },
    );
    this.#issuer = new VerdictIssuer(
      { store: this.#store, privateKey: init.identity.privateKey },
      { firstSeq: () => 1 },
    );
    this.#effective.update(init.list.ids, init.effectiveAt);
  }

  async report(content: ReportContent, seq: number): Promise<void> {
    const report = await this.#context.messages.report(content, seq);
    await this.#receive(report, false);
  }

  async lie(report: Report): Promise<void> {
    await this.#receive(report, true);
  }

  async #receive(report: Report, lie: boolean): Promise<void> {
    const ack = await this.#intake.receive(encodeReport(report), report.reporter, { now: report.time });
    if (ack.accepted) {
      this.stats.reportsAccepted++;
      if (lie) this.stats.liesAccepted++;
      return;
    }
    const reason = rejectionReasonOf(ack) ?? 'malformed';
    this.stats.reportsRejected[reason] = (this.stats.reportsRejected[reason] ?? 0) + 1;
    if (lie) this.stats.liesRejected++;
  }

  async infer(now: number): Promise<PublishedVerdicts> {
    const started = performance.now();
    // The rating server's inference pass, without its clock and events.
    const { result, weighed } = inferFromFeed(this.#feed, this.#effective, { ...this.#context.inference, now });
    const verdicts: Verdict[] = result.verdicts.map(toProtocolVerdict);
    const issued = await this.#issuer.issue(verdicts, { now });
    if (issued) {
      // What every follower does with a snapshot it polled: decode, check the server's signature.
      const snapshot = decodeVerdictSnapshot(encodeVerdictSnapshot(issued));
      await verifyVerdictSnapshot(snapshot, { server: this.#identity.bytes, now });
      this.published = {
        seq: snapshot.seq,
        issuedAt: snapshot.issuedAt,
        byPeer: new Map(snapshot.verdicts.map((verdict) => [peerIdToString(verdict.peer), verdict])),
      };
    }
    this.stats.inferences++;
    this.stats.inferenceMs += performance.now() - started;
    this.stats.sightingsCounted = weighed - result.ignored.length;
    this.stats.sightingsIgnored = result.ignored.length;
    this.stats.ratings = countRatings(result.verdicts);
    return this.published;
  }

  close(): void {
    this.#store.close();
  }
}
