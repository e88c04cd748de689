import { ADVERT_MAX_SKEW_MS } from '../node/protocol/advert.js';
import { toPeerIdBytes } from '../node/protocol/peer.js';
import { MAX_VERDICT_EVIDENCE, MAX_VERDICT_REASON_BYTES, type Rating, type Verdict } from '../node/protocol/verdict.js';
import { isAfterGrace, SEVERITY, scoreOf, sightingWeight, type WeightOptions, worseRating } from './scoring.js';
import { compareStrings, type TopologyMap } from './topology.js';

/**
 * Origin inference: from verified sightings and the topology map, which peer
 * brought listed content into the network, and which only passed it on.
 * The rule:
 *
 * 1. A sighting counts only if the map has an attested edge between its
 *    reporter and the accused peer around the advert's time
 *    (`TopologyMap.connectedAt`): a reporter can only accuse a neighbour,
 *    and a Sybil cannot invent one. Sightings of oneself, and adverts dated
 *    after the report that carried them (beyond clock skew), are ignored too.
 * 2. A counted sighting "X got entry E from Y at t" is explained if Y itself
 *    has a counted sighting of E dated no later than `t + clockSkewMs`
 *    (Y's earliest one is taken as where Y got it). The walk goes upstream
 *    along explained sightings until one is not explained; a circle (only
 *    possible within clock skew) ends at its earliest sighting.
 * 3. The peer that offered the unexplained sighting is the suspected origin:
 *    - if it has never reported a sighting of E and is not connected (no
 *      report within `reporterMaxAgeMs`), it is an unreporting distributor:
 *      **black** ("suspicious strangers are black");
 *    - if it reports but cannot explain the content (no sighting of E, or
 *      only later ones, or a circle), it is **black**; if all its offers of E
 *      came before `effectiveAt + graceMs` it is only **gray**, as the
 *      version may not have reached it yet (`reportingOriginGrace`, on by default);
 *    - if it is connected but has not reported since its offer, its upstream
 *      may simply not have arrived yet: it is rated like a relay until it reports.
 * 4. Every other accused peer is a relay with a known upstream: **gray** if it
 *    offered E at or after `effectiveAt + graceMs`, **white** if it stopped
 *    before then.
 * 5. A peer's verdict is its worst finding over all entries. Its score is
 *    minus the weight of the sightings against it: its own offers, plus, for
 *    an origin, every downstream sighting traced back to it. A sighting
 *    weighs `afterWeight` after the version took effect (grace included),
 *    `beforeWeight` before, halved every `halfLifeMs`. A finding expires
 *    `verdictTtlMs` after the peer's last offer in it; only new evidence
 *    refreshes it.
 *
 * Pure and deterministic: no I/O, no clock, same input → same output.
 */

/** The grace after a list version takes effect before distributing its entries counts as "after", by default. */
export const DEFAULT_GRACE_MS = 10 * 60_000;

/** Half-life of a sighting's weight by default. */
export const DEFAULT_HALF_LIFE_MS = 6 * 60 * 60_000;

/** How long a finding lasts after the peer's last offer in it, by default. */
export const DEFAULT_VERDICT_TTL_MS = 24 * 60 * 60_000;

/** Weight of a sighting before a version took effect (grace included), by default. */
export const DEFAULT_BEFORE_WEIGHT = 1;

/** Weight of a sighting after a version took effect, by default: distributing what a peer had to know was listed. */
export const DEFAULT_AFTER_WEIGHT = 4;

/** One verified sighting, as the server's store holds it. */
export interface SightingRecord {
  /** A unique, short reference to this sighting, cited as evidence (at most 256 UTF-8 bytes). */
  id: string;
  /** The peer that reported it. */
  reporter: string;
  /** The neighbour that offered the content: its signed advert is the evidence. */
  fromPeer: string;
  /** The listed entry, in any fixed string form (e.g. `0x…` hex). */
  entryId: string;
  /** The content's CID as a string, for the reasons. */
  cid?: string;
  /** The advert's time, set and signed by `fromPeer`. */
  advertTime: number;
  /** The time of the report that carried it. */
  reportedAt: number;
  /** When the list version that lists `entryId` took effect. */
  effectiveAt: number;
}

/** Parameters of {@link inferVerdicts}; only `now` is required. */
export interface InferenceOptions {
  /** The time of the inference: decay, expiry and "connected" are relative to it. */
  now: number;
  /** Default {@link DEFAULT_GRACE_MS}. */
  graceMs?: number;
  /** Default {@link DEFAULT_HALF_LIFE_MS}. */
  halfLifeMs?: number;
  /** Default {@link DEFAULT_VERDICT_TTL_MS}. */
  verdictTtlMs?: number;
  /** How far two peers' clocks may disagree: an upstream advert may be this much later. Default `ADVERT_MAX_SKEW_MS`. */
  clockSkewMs?: number;
  /** Weight of a sighting before `effectiveAt + graceMs`. Default 1. */
  beforeWeight?: number;
  /** Weight of a sighting at or after `effectiveAt + graceMs`. Default 4. */
  afterWeight?: number;
  /** Rate a reporting origin whose offers all fell within the grace gray rather than black. Default true. */
  reportingOriginGrace?: boolean;
}

/** A verdict with the peer as a string: `protocol/verdict.ts`'s `Verdict` otherwise. See {@link toProtocolVerdict}. */
export type InferredVerdict = Omit<Verdict, 'peer'> & { peer: string };

/** What the inference made of one peer's part in one entry's spread. */
export type FindingRole = 'unconnected-origin' | 'reporting-origin' | 'circular-origin' | 'pending' | 'relay';

/** One peer's part in one entry's spread, with the sightings it rests on. */
export interface Finding {
  peer: string;
  entryId: string;
  role: FindingRole;
  rating: Rating;
  /** Whether any of the peer's offers came at or after `effectiveAt + graceMs`. */
  afterGrace: boolean;
  /** Decayed weight of `direct` and `traced`. */
  weight: number;
  /** Ids of the sightings of the peer's own offers, newest first. */
  direct: string[];
  /** For an origin: ids of downstream sightings traced back to it, newest first. */
  traced: string[];
  /** For a relay: the peers it got the content from, sorted. */
  upstream: string[];
  /** The advert time of the peer's last offer. */
  lastOffer: number;
  expiresAt: number;
}

/** Why a sighting did not count. */
export type IgnoredReason = 'duplicate' | 'self' | 'future' | 'no-edge';

export interface IgnoredSighting {
  id: string;
  reason: IgnoredReason;
}

export interface InferenceResult {
  /** One per rated peer, sorted by peer. */
  verdicts: InferredVerdict[];
  /** Unexpired findings, sorted by peer then entry. */
  findings: Finding[];
  /** Sightings that did not count, sorted by id. */
  ignored: IgnoredSighting[];
}

/** A sighting's time is not a finite number, or its id or a peer is empty. */
export class InvalidSightingError extends Error {
  override name = 'InvalidSightingError';
}

type Terminal = 'unconnected-origin' | 'reporting-origin' | 'pending';

/** A counted sighting while the inference runs. */
interface Node {
  s: SightingRecord;
  weight: number;
  after: boolean;
  /** Where the offering peer got the content: its earliest sighting of the entry, if early enough. */
  up: Node | undefined;
  resolution?: Resolution;
}

interface Resolution {
  /** The sighting whose offering peer is the suspected origin (or awaits a report). */
  terminal: Node;
  kind: Terminal | 'circular-origin';
}

interface FindingBuilder {
  peer: string;
  entryId: string;
  cid?: string;
  role: FindingRole;
  /** The origin could not explain because its only sightings of the entry came later. */
  receivedLater: boolean;
  direct: Node[];
  traced: Node[];
  upstream: Set<string>;
}

const ROLE_RANK: Readonly<Record<FindingRole, number>> = {
  relay: 0,
  pending: 1,
  'reporting-origin': 2,
  'circular-origin': 3,
  'unconnected-origin': 4,
};

/**
 * Rates the peers that offered listed content, by tracing each verified
 * sighting back through the peers that report to this server (the rule is
 * in this module's comment and the README). O(sightings · log sightings +
 * path lengths); the topology is only looked up, never scanned.
 *
 * @example
 * const { verdicts } = inferVerdicts(map, store.sightings(), { now: Date.now() });
 * const snapshot = await createVerdictSnapshot(serverKey, { seq, verdicts: verdicts.map(toProtocolVerdict) });
 */
export function inferVerdicts(
  topology: TopologyMap,
  sightings: Iterable<SightingRecord>,
  options: InferenceOptions,
): InferenceResult {
  const now = options.now;
  if (!Number.isFinite(now)) throw new InvalidSightingError(`The inference time must be a finite number, not ${now}`);
  const weights: WeightOptions = {
    now,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    halfLifeMs: options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS,
    beforeWeight: options.beforeWeight ?? DEFAULT_BEFORE_WEIGHT,
    afterWeight: options.afterWeight ?? DEFAULT_AFTER_WEIGHT,
  };
  const ttl = options.verdictTtlMs ?? DEFAULT_VERDICT_TTL_MS;
  const skew = options.clockSkewMs ?? ADVERT_MAX_SKEW_MS;
  const originGrace = options.reportingOriginGrace ?? true;

  // A total order first, so every later choice (earliest sighting, circle, evidence order) is deterministic.
  const sorted = [...sightings];
  for (const s of sorted) checkSighting(s);
  sorted.sort(compareSightings);

  const ignored: IgnoredSighting[] = [];
  const nodes: Node[] = [];
  /** (entry, holder) → the holder's earliest counted sighting of the entry: where it got the content. */
  const earliest = new Map<string, Node>();
  let previousId: string | undefined;
  for (const s of sorted) {
    const reason = ignoreReason(s, previousId, topology, skew);
    previousId = s.id;
    if (reason) {
      ignored.push({ id: s.id, reason });
      continue;
    }
    const node: Node = {
      s,
      weight: sightingWeight(s, weights),
      after: isAfterGrace(s.advertTime, s.effectiveAt, weights.graceMs),
      up: undefined,
    };
    nodes.push(node);
    const key = holderKey(s.entryId, s.reporter);
    const first = earliest.get(key);
    if (!first || s.advertTime < first.s.advertTime) earliest.set(key, node);
  }
  for (const node of nodes) {
    const up = earliest.get(holderKey(node.s.entryId, node.s.fromPeer));
    if (up && up.s.advertTime <= node.s.advertTime + skew) node.up = up;
  }

  const terminalKind = (node: Node): Terminal => {
    const { fromPeer, entryId, advertTime } = node.s;
    // It reported sightings of the entry, only none early enough: it had the content before any neighbour sent it.
    if (earliest.has(holderKey(entryId, fromPeer))) return 'reporting-origin';
    if (!topology.isConnected(fromPeer, now)) return 'unconnected-origin';
    // Connected but silent since its offer: the report naming its source may be on its way.
    return (topology.lastReport(fromPeer) ?? Number.NEGATIVE_INFINITY) >= advertTime ? 'reporting-origin' : 'pending';
  };

  // Each walk stops at the first node already resolved, so all walks together visit each node once.
  for (const start of nodes) {
    if (start.resolution) continue;
    const path: Node[] = [];
    const onPath = new Set<Node>();
    let resolution: Resolution;
    for (let node: Node = start; ; ) {
      if (node.resolution) {
        resolution = node.resolution;
        break;
      }
      path.push(node);
      onPath.add(node);
      const up = node.up;
      if (!up) {
        resolution = { terminal: node, kind: terminalKind(node) };
        break;
      }
      if (onPath.has(up)) {
        // A circle: each claims to have it from the next. Whoever offered first is the one that cannot explain it.
        const circle = path.slice(path.indexOf(up));
        resolution = { terminal: circle.reduce((x, y) => (compareNodes(y, x) < 0 ? y : x)), kind: 'circular-origin' };
        break;
      }
      node = up;
    }
    for (const node of path) node.resolution = resolution;
  }

  const builders = new Map<string, FindingBuilder>();
  const builderOf = (peer: string, node: Node): FindingBuilder => {
    const key = holderKey(node.s.entryId, peer);
    let builder = builders.get(key);
    if (!builder) {
      builder = {
        peer,
        entryId: node.s.entryId,
        role: 'relay',
        receivedLater: false,
        direct: [],
        traced: [],
        upstream: new Set(),
      };
      builders.set(key, builder);
    }
    builder.cid ??= node.s.cid;
    return builder;
  };
  for (const node of nodes) {
    const resolution = node.resolution as Resolution;
    const own = builderOf(node.s.fromPeer, node);
    own.direct.push(node);
    // A sighting without an upstream always ends its own walk, so only a walk's end names an origin.
    const role: FindingRole = resolution.terminal === node ? resolution.kind : 'relay';
    if (role === 'relay' && node.up) own.upstream.add(node.up.s.fromPeer);
    if (ROLE_RANK[role] > ROLE_RANK[own.role]) own.role = role;
    if (role === 'reporting-origin' && !node.up && earliest.has(holderKey(node.s.entryId, node.s.fromPeer))) {
      own.receivedLater = true;
    }
    // The origin answers for the whole spread it started.
    const origin = resolution.terminal.s.fromPeer;
    if (resolution.kind !== 'pending' && origin !== node.s.fromPeer) builderOf(origin, node).traced.push(node);
  }

  const findings: Finding[] = [];
  const byPeer = new Map<string, { finding: Finding; cid?: string; receivedLater: boolean }[]>();
  for (const builder of builders.values()) {
    if (builder.direct.length === 0) continue; // only traced: every origin has an offer of its own, so never
    const lastOffer = builder.direct.reduce((last, node) => Math.max(last, node.s.advertTime), -Infinity);
    const expiresAt = Math.ceil(lastOffer + ttl);
    if (expiresAt <= now) continue;
    const afterGrace = builder.direct.some((node) => node.after);
    const finding: Finding = {
      peer: builder.peer,
      entryId: builder.entryId,
      role: builder.role,
      rating: ratingOf(builder.role, afterGrace, originGrace),
      afterGrace,
      weight: sum(builder.direct) + sum(builder.traced),
      direct: newestFirst(builder.direct),
      traced: newestFirst(builder.traced),
      upstream: [...builder.upstream].sort(compareStrings),
      lastOffer,
      expiresAt,
    };
    findings.push(finding);
    const list = byPeer.get(finding.peer) ?? [];
    list.push({ finding, cid: builder.cid, receivedLater: builder.receivedLater });
    byPeer.set(finding.peer, list);
  }
  findings.sort((x, y) => compareStrings(x.peer, y.peer) || compareStrings(x.entryId, y.entryId));

  const verdicts: InferredVerdict[] = [];
  for (const [peer, list] of byPeer) {
    list.sort((x, y) => compareFindings(x.finding, y.finding));
    const [primary] = list;
    const rating = list.reduce<Rating>((worst, item) => worseRating(worst, item.finding.rating), 'white');
    const expiresAt = Math.max(
      ...list.filter((item) => item.finding.rating === rating).map((item) => item.finding.expiresAt),
    );
    const evidence = new Set<string>();
    for (const { finding } of list) {
      for (const id of [...finding.direct, ...finding.traced]) {
        if (evidence.size < MAX_VERDICT_EVIDENCE) evidence.add(id);
      }
    }
    const more = list.length > 1 ? ` (+${list.length - 1} more finding${list.length > 2 ? 's' : ''})` : '';
    verdicts.push({
      peer,
      rating,
      score: scoreOf(list.reduce((total, item) => total + item.finding.weight, 0)),
      reason: truncateUtf8(
        explain(primary.finding, primary.cid, primary.receivedLater) + more,
        MAX_VERDICT_REASON_BYTES,
      ),
      evidence: [...evidence],
      expiresAt,
    });
  }
  verdicts.sort((x, y) => compareStrings(x.peer, y.peer));
  ignored.sort((x, y) => compareStrings(x.id, y.id));
  return { verdicts, findings, ignored };
}

/**
 * The verdict as `protocol/verdict.ts` signs it: the peer as multihash bytes.
 * Throws a `TypeError` for a peer id that is not an Ed25519 libp2p peer id.
 *
 * @example
 * await createVerdictSnapshot(serverKey, { seq, verdicts: verdicts.map(toProtocolVerdict) });
 */
export function toProtocolVerdict(verdict: InferredVerdict): Verdict {
  return { ...verdict, peer: toPeerIdBytes(verdict.peer), evidence: [...verdict.evidence] };
}

// ─── Topology hints ──────────────────────────────────────────────────────────────────────────────────────────

/** A peer a server suggests connecting to. */
export interface TopologyHint {
  peer: string;
  /** Its current degree in the server's map. */
  degree: number;
}

/** Default number of hints in one answer. */
export const DEFAULT_HINT_LIMIT = 8;

/**
 * Peers worth connecting to, ranked once so that each question costs
 * O(limit + the asker's degree): peers connected to this server (they
 * report), with no gray or black verdict, with at least one current edge,
 * by degree (highest first), then by peer id.
 *
 * @example
 * const hints = new HintIndex(map, verdicts, Date.now());
 * hints.hintsFor(asker, 5); // [{ peer: '12D3KooX…', degree: 31 }, …]
 */
export class HintIndex {
  readonly #topology: TopologyMap;
  readonly #now: number;
  readonly #ranked: TopologyHint[];

  constructor(topology: TopologyMap, verdicts: Iterable<Pick<InferredVerdict, 'peer' | 'rating'>>, now: number) {
    this.#topology = topology;
    this.#now = now;
    const rated = new Set<string>();
    for (const verdict of verdicts) if (verdict.rating !== 'white') rated.add(verdict.peer);
    const ranked: TopologyHint[] = [];
    for (const { peer } of topology.connected(now)) {
      if (rated.has(peer)) continue;
      const degree = topology.degree(peer, now);
      if (degree > 0) ranked.push({ peer, degree });
    }
    this.#ranked = ranked.sort((x, y) => y.degree - x.degree || compareStrings(x.peer, y.peer));
  }

  /** Up to `limit` hints for `peer`: never itself nor one of its current neighbours. */
  hintsFor(peer: string, limit = DEFAULT_HINT_LIMIT): TopologyHint[] {
    const hints: TopologyHint[] = [];
    for (const hint of this.#ranked) {
      if (hints.length >= limit) break;
      if (hint.peer === peer || this.#topology.isLive(peer, hint.peer, this.#now)) continue;
      hints.push({ ...hint });
    }
    return hints;
  }
}

/**
 * Up to `limit` well-rated, well-connected peers for `peer` to connect to:
 * see {@link HintIndex}, which to prefer when answering many peers.
 *
 * @example
 * topologyHints(map, verdicts, asker, { now: Date.now(), limit: 5 });
 */
export function topologyHints(
  topology: TopologyMap,
  verdicts: Iterable<Pick<InferredVerdict, 'peer' | 'rating'>>,
  peer: string,
  options: { now: number; limit?: number },
): TopologyHint[] {
  return new HintIndex(topology, verdicts, options.now).hintsFor(peer, options.limit);
}

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

function checkSighting(s: SightingRecord): void {
  for (const field of ['id', 'reporter', 'fromPeer', 'entryId'] as const) {
    if (typeof s[field] !== 'string' || s[field].length === 0) {
      throw new InvalidSightingError(`A sighting's ${field} must be a non-empty string`);
    }
  }
  for (const field of ['advertTime', 'reportedAt', 'effectiveAt'] as const) {
    if (!Number.isFinite(s[field])) {
      throw new InvalidSightingError(`Sighting ${s.id}'s ${field} must be a finite number, not ${s[field]}`);
    }
  }
}

function ignoreReason(
  s: SightingRecord,
  previousId: string | undefined,
  topology: TopologyMap,
  skew: number,
): IgnoredReason | undefined {
  if (s.id === previousId) return 'duplicate';
  if (s.reporter === s.fromPeer) return 'self';
  if (s.advertTime > s.reportedAt + skew) return 'future';
  // A reporter can only accuse a neighbour: an edge both ends signed, around the advert's time.
  if (!topology.connectedAt(s.reporter, s.fromPeer, s.advertTime)) return 'no-edge';
  return undefined;
}

function ratingOf(role: FindingRole, after: boolean, originGrace: boolean): Rating {
  switch (role) {
    case 'unconnected-origin':
      return 'black';
    case 'reporting-origin':
    case 'circular-origin':
      return after || !originGrace ? 'black' : 'gray';
    default:
      return after ? 'gray' : 'white';
  }
}

function explain(finding: Finding, cid: string | undefined, receivedLater: boolean): string {
  const what = `listed content ${cid ?? shortEntry(finding.entryId)}`;
  const offers = plural(finding.direct.length, 'offer');
  const after = finding.afterGrace;
  const traced =
    finding.traced.length > 0 ? `; ${plural(finding.traced.length, 'downstream sighting')} lead back to it` : '';
  const timing = finding.rating === 'gray' ? ', but only before the list version could reach it (grace)' : '';
  switch (finding.role) {
    case 'unconnected-origin':
      return `Offered ${what} (${offers} seen by its neighbours) and does not report to this server: an unreporting distributor is presumed to be the origin${traced}`;
    case 'reporting-origin':
      return receivedLater
        ? `Offered ${what} (${offers}) before any neighbour it reported had sent it: suspected origin${timing}${traced}`
        : `Offered ${what} (${offers}) and reported no neighbour that sent it: suspected origin${timing}${traced}`;
    case 'circular-origin':
      return `Offered ${what} (${offers}) first, and its reported source leads back in a circle to itself: suspected origin${timing}${traced}`;
    case 'pending':
      return `Offered ${what} (${offers})${after ? ' after the list version took effect' : ''}; where it got it awaits its next report`;
    default: {
      const from = finding.upstream.length > 0 ? ` (from ${listPeers(finding.upstream)})` : '';
      return after
        ? `Relayed ${what} (${offers}) after the list version took effect; its source is known${from}, so it is not the origin`
        : `Relayed ${what} (${offers}) only before the list version took effect, and stopped${from}`;
    }
  }
}

function compareSightings(x: SightingRecord, y: SightingRecord): number {
  return (
    compareStrings(x.id, y.id) ||
    compareStrings(x.entryId, y.entryId) ||
    compareStrings(x.reporter, y.reporter) ||
    compareStrings(x.fromPeer, y.fromPeer) ||
    x.advertTime - y.advertTime ||
    x.reportedAt - y.reportedAt ||
    x.effectiveAt - y.effectiveAt ||
    compareStrings(x.cid ?? '', y.cid ?? '')
  );
}

/** Earliest advert first, then by id. */
function compareNodes(x: Node, y: Node): number {
  return x.s.advertTime - y.s.advertTime || compareStrings(x.s.id, y.s.id);
}

/** Worst first, then heaviest, then by entry. */
function compareFindings(x: Finding, y: Finding): number {
  return (
    SEVERITY[y.rating] - SEVERITY[x.rating] ||
    ROLE_RANK[y.role] - ROLE_RANK[x.role] ||
    y.weight - x.weight ||
    compareStrings(x.entryId, y.entryId)
  );
}

function newestFirst(nodes: Node[]): string[] {
  return [...nodes].sort((x, y) => -compareNodes(x, y)).map((node) => node.s.id);
}

/** Summed in a fixed order, so the floating-point total is the same on every run. */
function sum(nodes: Node[]): number {
  return [...nodes].sort(compareNodes).reduce((total, node) => total + node.weight, 0);
}

function holderKey(entryId: string, peer: string): string {
  return `${entryId}\n${peer}`;
}

function shortEntry(entryId: string): string {
  return entryId.length > 18 ? `${entryId.slice(0, 18)}…` : entryId;
}

function listPeers(peers: string[]): string {
  return peers.length > 2 ? `${peers.slice(0, 2).join(', ')} and ${peers.length - 2} more` : peers.join(', ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

const encoder = new TextEncoder();

function truncateUtf8(text: string, maxBytes: number): string {
  if (encoder.encode(text).length <= maxBytes) return text;
  let cut = text;
  // Drop whole code points until the text and its ellipsis fit.
  while (cut.length > 0 && encoder.encode(`${cut}…`).length > maxBytes) cut = Array.from(cut).slice(0, -8).join('');
  return `${cut}…`;
}
