import type { PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import type { CID } from 'multiformats/cid';
import {
  compareIdsAt,
  ENTRY_ID_LENGTH,
  type EntryId,
  entryIdToHex,
  ipip383DoubleHash,
  ipip383LegacyHash,
} from '../lists/entry-id.js';
import { EDGE_MAX_AGE_MS, EDGE_MAX_SKEW_MS } from '../node/protocol/edge.js';
import { MessageTooLargeError } from '../node/protocol/errors.js';
import { comparePeers, peerIdBytesOfKey, peerIdToString, samePeer } from '../node/protocol/peer.js';
import { decodeReport } from '../node/protocol/report.js';
import {
  createVerdictDelta,
  createVerdictSnapshot,
  decodeVerdictSnapshot,
  diffVerdicts,
  encodeVerdictSnapshot,
  MAX_VERDICTS,
  type Verdict,
  type VerdictDelta,
  type VerdictSnapshot,
} from '../node/protocol/verdict.js';
import type { RatingsSource } from '../node/ratings.js';
import { type InferenceOptions, type InferenceResult, inferVerdicts, type SightingRecord } from './inference.js';
import { SEVERITY } from './scoring.js';
import type { ServerStore } from './store.js';
import { TopologyMap, type TopologyOptions } from './topology.js';

const log = logger('nrp:server:verdicts');

// ─── When each entry took effect ─────────────────────────────────────────────────────────────────────────────

/**
 * When each entry of a list took effect: the publication time of the first
 * version in the unbroken run of versions, up to the one in force, that lists
 * it. The inference needs it to tell distribution before a listing from
 * distribution after it. Kept beside the sorted ids of the version in force,
 * 8 bytes per entry, and updated by merging sorted sets, so a million entries
 * cost a linear pass per version rather than a map of strings.
 *
 * @example
 * const times = new EntryEffectiveTimes();
 * listSync.addEventListener('version', ({ detail: { synced } }) =>
 *   times.update(synced.index.ids, synced.publishedAt * 1000, { doubleHashes: synced.index.doubleHashes }),
 * );
 * times.effectiveAt(sighting.entryId, sighting.cid); // 1718000000000
 */
export class EntryEffectiveTimes {
  #ids: Uint8Array = new Uint8Array(0);
  #times = new Float64Array(0);
  #doubleHashes = false;
  /** Bumped by every update, so a backdating pass that an update overtook stops. */
  #generation = 0;

  /** Entries of the version in force. */
  get size(): number {
    return this.#times.length;
  }

  /**
   * Takes the set of a new version in force (`ids`: packed, strictly ascending, as a verified payload holds
   * them): entries listed before keep their time, new ones take `effectiveAt` (ms), dropped ones are forgotten.
   * Returns how many entries were added and removed.
   */
  update(ids: Uint8Array, effectiveAt: number, options: { doubleHashes?: boolean } = {}) {
    const count = ids.length / ENTRY_ID_LENGTH;
    const times = new Float64Array(count);
    let added = 0;
    let kept = 0;
    mergeSorted(ids, this.#ids, (i, j) => {
      if (j === undefined) {
        times[i] = effectiveAt;
        added++;
      } else {
        times[i] = this.#times[j];
        kept++;
      }
    });
    const removed = this.#times.length - kept;
    this.#ids = ids;
    this.#times = times;
    this.#doubleHashes = options.doubleHashes ?? false;
    this.#generation++;
    return { added, removed };
  }

  /**
   * Starts moving entries back to older versions, newest first: call `older` with each earlier version's set
   * in turn (the version just before the one in force, then the one before that…). An entry takes an older
   * version's time while every version from it to the one in force lists it. `older` returns false once no
   * entry can move further, or once a newer version came in meanwhile.
   *
   * @example
   * const backdate = times.backdater();
   * for (const version of olderVersionsNewestFirst) if (!backdate(version.ids, version.publishedAt * 1000)) break;
   */
  backdater(): (ids: Uint8Array, effectiveAt: number) => boolean {
    const generation = this.#generation;
    const unbroken = new Uint8Array(this.#times.length).fill(1);
    let remaining = unbroken.length;
    return (ids, effectiveAt) => {
      if (generation !== this.#generation || remaining === 0) return false;
      mergeSorted(this.#ids, ids, (i, j) => {
        if (unbroken[i] === 0) return;
        if (j === undefined) {
          unbroken[i] = 0;
          remaining--;
        } else {
          this.#times[i] = Math.min(this.#times[i], effectiveAt);
        }
      });
      return remaining > 0;
    };
  }

  /**
   * When the entry took effect, in ms, if the version in force lists it: by entry id, and for a list of
   * IPIP-383 double hashes also by the CID's double hashes.
   */
  effectiveAt(id: EntryId, cid?: CID | string): number | undefined {
    const found = this.#find(id);
    if (found !== undefined || !this.#doubleHashes || cid === undefined) return found;
    try {
      return this.#find(ipip383DoubleHash(cid)) ?? this.#find(ipip383LegacyHash(cid));
    } catch {
      return undefined;
    }
  }

  #find(id: Uint8Array): number | undefined {
    if (id.length !== ENTRY_ID_LENGTH) return undefined;
    let low = 0;
    let high = this.#times.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const order = compareIdsAt(this.#ids, mid * ENTRY_ID_LENGTH, id, 0);
      if (order === 0) return this.#times[mid];
      if (order < 0) low = mid + 1;
      else high = mid - 1;
    }
    return undefined;
  }
}

/** Calls `visit(i, j)` for each id `i` of `a`, with `j` its index in `b` or undefined; both sorted and packed. */
function mergeSorted(a: Uint8Array, b: Uint8Array, visit: (i: number, j: number | undefined) => void) {
  const countA = a.length / ENTRY_ID_LENGTH;
  const countB = b.length / ENTRY_ID_LENGTH;
  let j = 0;
  for (let i = 0; i < countA; i++) {
    while (j < countB && compareIdsAt(b, j * ENTRY_ID_LENGTH, a, i * ENTRY_ID_LENGTH) < 0) j++;
    visit(i, j < countB && compareIdsAt(b, j * ENTRY_ID_LENGTH, a, i * ENTRY_ID_LENGTH) === 0 ? j : undefined);
  }
}

// ─── Evidence, from the store into the inference ─────────────────────────────────────────────────────────────

/** A stored sighting as the inference takes it, but for its `effectiveAt`, which depends on the list. */
export interface FeedSighting extends Omit<SightingRecord, 'effectiveAt'> {
  entryIdBytes: EntryId;
}

/** What one {@link EvidenceFeed.refresh} read. */
export interface FeedRefresh {
  reports: number;
  edges: number;
  sightings: number;
}

export interface EvidenceFeedComponents {
  store: Pick<ServerStore, 'listReports' | 'listEdges' | 'listSightings'>;
}

export interface EvidenceFeedInit extends TopologyOptions {
  /** Rows read from the store per query. Default 1,000. */
  pageSize?: number;
}

/** What one inference pass over an {@link EvidenceFeed} made of it. */
export interface FeedInference {
  result: InferenceResult;
  /** Sightings of entries still listed, handed to the inference (some of which it may ignore). */
  weighed: number;
  /** Sightings set aside because their entry is listed no more: an appeal won, so they count no more. */
  unlisted: number;
}

/**
 * One inference pass as a rating server runs it: reads what the store got since the last pass, gives each
 * sighting of an entry still listed the time its listing took effect, and infers every peer's verdict.
 * The server and the simulator both run it, so the simulator rates exactly as the server does.
 *
 * @example
 * const { result, unlisted } = inferFromFeed(feed, effectiveTimes, { now: Date.now() });
 */
export function inferFromFeed(
  feed: EvidenceFeed,
  effective: Pick<EntryEffectiveTimes, 'effectiveAt'>,
  options: InferenceOptions,
): FeedInference {
  feed.refresh(options.now);
  const records: SightingRecord[] = [];
  let unlisted = 0;
  for (const sighting of feed.sightings) {
    const effectiveAt = effective.effectiveAt(sighting.entryIdBytes, sighting.cid);
    if (effectiveAt === undefined) unlisted++;
    else records.push({ ...sighting, effectiveAt });
  }
  return { result: inferVerdicts(feed.topology, records, options), weighed: records.length, unlisted };
}

/**
 * The rating server's working copy of its evidence: a {@link TopologyMap} of
 * every attested edge and every reporter's last report, and the verified
 * sightings, read from the store incrementally (by row id, so each report and
 * sighting is read once) and kept in memory for the inference.
 *
 * The store keeps only the newest attestation of each edge, so after a restart
 * an edge's span would start at that one. The edges of every report that
 * carries evidence are read back from its signed bytes, which the store keeps
 * for good, so the edges that evidence rests on keep their span.
 *
 * @example
 * const feed = new EvidenceFeed({ store });
 * feed.refresh(Date.now());
 * inferVerdicts(feed.topology, feed.sightings.map((s) => ({ ...s, effectiveAt })), { now });
 */
export class EvidenceFeed {
  readonly topology: TopologyMap;
  readonly #store: EvidenceFeedComponents['store'];
  readonly #pageSize: number;
  #reportCursor = 0;
  #sightingCursor = 0;
  #edgesRead = false;
  /** Signed times of the reports that carry sightings: each sighting's `reportedAt`. */
  readonly #reportTimes = new Map<number, number>();
  readonly #sightings: FeedSighting[] = [];

  constructor(components: EvidenceFeedComponents, init: EvidenceFeedInit = {}) {
    this.#store = components.store;
    this.topology = new TopologyMap(init);
    this.#pageSize = init.pageSize ?? 1_000;
  }

  /** Every sighting read so far, in store order. */
  get sightings(): readonly FeedSighting[] {
    return this.#sightings;
  }

  /** Reads what the store got since the last call, and forgets expired edges and reporters. */
  refresh(now: number): FeedRefresh {
    const counts: FeedRefresh = { reports: 0, edges: 0, sightings: 0 };
    // Reports before sightings: a sighting is committed with its report, so its report is always read first.
    for (let page = this.#nextReports(); page.length > 0; page = this.#nextReports()) {
      for (const report of page) {
        this.#reportCursor = report.id;
        counts.reports++;
        this.topology.addReport(report.reporter, report.time);
        if (report.sightings === 0) continue;
        this.#reportTimes.set(report.id, report.time);
        this.#addEdgesOf(report.id, report.bytes);
      }
    }
    // An attestation may arrive up to its maximum age after its time: re-read that window, the rest is known.
    const since = this.#edgesRead ? now - EDGE_MAX_AGE_MS - EDGE_MAX_SKEW_MS : 0;
    const edges = this.#store.listEdges({ since });
    counts.edges = this.topology.addEdges(edges);
    // The store remembers each edge's first attestation too, so a restart does not shorten its span.
    for (const edge of edges) if (edge.firstTime < edge.time) this.topology.addEdge(edge.a, edge.b, edge.firstTime);
    this.#edgesRead = true;
    for (let page = this.#nextSightings(); page.length > 0; page = this.#nextSightings()) {
      for (const sighting of page) {
        this.#sightingCursor = sighting.id;
        counts.sightings++;
        this.#sightings.push({
          id: `sighting:${sighting.id}`,
          reporter: sighting.reporter,
          fromPeer: sighting.fromPeer,
          entryId: entryIdToHex(sighting.entryId),
          entryIdBytes: sighting.entryId,
          cid: sighting.cid,
          advertTime: sighting.advertTime,
          // Never missing (a report with sightings is never pruned); the advert's time is the safe fallback.
          reportedAt: this.#reportTimes.get(sighting.reportId) ?? sighting.advertTime,
        });
      }
    }
    this.topology.expire(now);
    return counts;
  }

  #nextReports() {
    return this.#store.listReports({ afterId: this.#reportCursor, limit: this.#pageSize });
  }

  #nextSightings() {
    return this.#store.listSightings({ afterId: this.#sightingCursor, limit: this.#pageSize });
  }

  #addEdgesOf(id: number, bytes: Uint8Array) {
    try {
      for (const edge of decodeReport(bytes).edges) {
        this.topology.addEdge(peerIdToString(edge.a), peerIdToString(edge.b), edge.time);
      }
    } catch (error) {
      // Verified when it arrived; a report that no longer decodes only loses its edges' history.
      log.error('stored report %d does not decode: %e', id, error);
    }
  }
}

// ─── Signed snapshots and deltas ─────────────────────────────────────────────────────────────────────────────

export interface VerdictIssuerComponents {
  store: Pick<ServerStore, 'addVerdictSnapshot' | 'lastVerdictSeq' | 'verdictSnapshot'>;
  /** The server's libp2p key: the one the registry lists, which nodes check every snapshot against. */
  privateKey: PrivateKey;
}

export interface VerdictIssuerInit {
  /**
   * How much a verdict's score may drift (as a share of its size, at least 1) before it is worth a new
   * snapshot by itself: scores decay continuously, ratings and reasons do not. Default 0.1.
   */
  scoreTolerance?: number;
  /** Deltas kept signed, one per base seq asked for. Default 64. */
  maxDeltas?: number;
  /** Sequence number of the first snapshot of a store that has none. Default the clock, as the reporter's. */
  firstSeq?: () => number;
}

/**
 * Issues the server's signed verdict snapshots: a new one, at the next
 * sequence number, only when the verdicts changed (a rating, a reason, the
 * evidence, an expiry, or a score beyond its tolerance), each stored before
 * it is served so a restart goes on from the last one. Answers a node that
 * holds an older snapshot with a signed delta from it.
 *
 * The first snapshot of an empty store is numbered from the clock (ms since
 * the epoch), as reports are: a server that lost its database but kept its
 * key still starts above every sequence number its followers accepted.
 *
 * @example
 * const issuer = new VerdictIssuer({ store, privateKey });
 * issuer.load();
 * const snapshot = await issuer.issue(verdicts.map(toProtocolVerdict), { now });
 * await serveRatings(libp2p, issuer.source);
 */
export class VerdictIssuer {
  readonly #components: VerdictIssuerComponents;
  readonly #init: Required<VerdictIssuerInit>;
  readonly #self: Uint8Array;
  #current?: VerdictSnapshot;
  /** The verdicts the current snapshot was made from, before any were left out for size: what changes compare to. */
  #basis?: readonly Verdict[];
  readonly #deltas = new Map<number, Promise<VerdictDelta | undefined>>();

  constructor(components: VerdictIssuerComponents, init: VerdictIssuerInit = {}) {
    this.#components = components;
    this.#init = {
      scoreTolerance: init.scoreTolerance ?? 0.1,
      maxDeltas: init.maxDeltas ?? 64,
      firstSeq: init.firstSeq ?? Date.now,
    };
    this.#self = peerIdBytesOfKey(components.privateKey);
  }

  /** The newest snapshot, as served. */
  get current(): VerdictSnapshot | undefined {
    return this.#current;
  }

  /** What `serveRatings` serves. */
  readonly source: RatingsSource = {
    getSnapshot: () => this.#current,
    getDelta: (since) => this.delta(since),
  };

  /** Loads the newest stored snapshot, if this key signed it (after a key rotation the next one is re-signed). */
  load(): VerdictSnapshot | undefined {
    const stored = this.#components.store.verdictSnapshot();
    if (!stored) return undefined;
    const snapshot = decodeVerdictSnapshot(stored.bytes);
    if (!samePeer(snapshot.server, this.#self)) {
      log('the newest snapshot, %d, was signed by another key; the next one is signed anew', snapshot.seq);
      return undefined;
    }
    this.#current = snapshot;
    this.#basis = snapshot.verdicts;
    return snapshot;
  }

  /**
   * Signs, stores and serves a snapshot of `verdicts` issued at `now`, if they differ from the current one's
   * (or `force`); resolves with it, or undefined when nothing changed. Calls must not overlap.
   */
  async issue(verdicts: Verdict[], options: { now: number; force?: boolean }): Promise<VerdictSnapshot | undefined> {
    const { now } = options;
    const basis = this.#basis;
    if (basis && !options.force && sameVerdicts(basis, verdicts, this.#init.scoreTolerance)) {
      return undefined;
    }
    const last = this.#components.store.lastVerdictSeq();
    const seq = last === undefined ? Math.max(1, Math.floor(this.#init.firstSeq())) : last + 1;
    const snapshot = await this.#sign(seq, now, worstFirst(verdicts));
    const bytes = encodeVerdictSnapshot(snapshot);
    this.#components.store.addVerdictSnapshot({ seq, issuedAt: snapshot.issuedAt, bytes });
    this.#current = snapshot;
    this.#basis = verdicts;
    this.#deltas.clear();
    log('issued snapshot %d: %d verdicts', seq, snapshot.verdicts.length);
    return snapshot;
  }

  /**
   * A signed delta from the stored snapshot `since` to the current one, or undefined if there is no such
   * snapshot of this key (the node then gets the whole snapshot). Signed once per base, then reused.
   */
  delta(since: number): Promise<VerdictDelta | undefined> {
    const current = this.#current;
    if (!current || since >= current.seq) return Promise.resolve(undefined);
    let delta = this.#deltas.get(since);
    if (!delta) {
      delta = this.#signDelta(current, since).catch((error) => {
        log.error('could not build a delta from %d: %e', since, error);
        return undefined;
      });
      if (this.#deltas.size >= this.#init.maxDeltas) this.#deltas.delete(this.#deltas.keys().next().value as number);
      this.#deltas.set(since, delta);
    }
    return delta;
  }

  async #signDelta(current: VerdictSnapshot, since: number): Promise<VerdictDelta | undefined> {
    const stored = this.#components.store.verdictSnapshot(since);
    if (!stored) return undefined;
    const base = decodeVerdictSnapshot(stored.bytes);
    if (!samePeer(base.server, this.#self)) return undefined;
    return createVerdictDelta(this.#components.privateKey, {
      seq: current.seq,
      baseSeq: since,
      issuedAt: current.issuedAt,
      ...diffVerdicts(base.verdicts, current.verdicts),
    });
  }

  /** Signs the verdicts, leaving out the mildest if they do not fit in one snapshot. */
  async #sign(seq: number, issuedAt: number, verdicts: Verdict[]): Promise<VerdictSnapshot> {
    let kept = verdicts.slice(0, MAX_VERDICTS);
    for (;;) {
      try {
        if (kept.length < verdicts.length) log.error('snapshot %d keeps only the worst %d verdicts', seq, kept.length);
        return await createVerdictSnapshot(this.#components.privateKey, { seq, issuedAt, verdicts: kept });
      } catch (error) {
        if (!(error instanceof MessageTooLargeError) || kept.length === 0) throw error;
        kept = kept.slice(0, Math.floor(kept.length * 0.75));
      }
    }
  }
}

/** Worst rating first, then lowest score: what to keep when not everything fits. */
function worstFirst(verdicts: Verdict[]): Verdict[] {
  return [...verdicts].sort(
    (x, y) => SEVERITY[y.rating] - SEVERITY[x.rating] || x.score - y.score || comparePeers(x.peer, y.peer),
  );
}

/**
 * Whether two sets of verdicts say the same: the same peers with the same ratings, reasons, evidence and
 * expiries, and scores within `tolerance` of each other (relative, at least 1 × tolerance in absolute terms).
 */
export function sameVerdicts(before: readonly Verdict[], after: readonly Verdict[], tolerance: number): boolean {
  if (before.length !== after.length) return false;
  const x = [...before].sort((p, q) => comparePeers(p.peer, q.peer));
  const y = [...after].sort((p, q) => comparePeers(p.peer, q.peer));
  return x.every((v, i) => {
    const w = y[i];
    return (
      samePeer(v.peer, w.peer) &&
      v.rating === w.rating &&
      v.reason === w.reason &&
      v.expiresAt === w.expiresAt &&
      v.evidence.length === w.evidence.length &&
      v.evidence.every((ref, k) => ref === w.evidence[k]) &&
      Math.abs(v.score - w.score) <= tolerance * Math.max(1, Math.abs(v.score))
    );
  });
}
