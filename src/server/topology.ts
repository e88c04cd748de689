import { EDGE_MAX_AGE_MS } from '../node/protocol/edge.js';
import { SIGHTING_MAX_AGE_MS } from '../node/protocol/sighting.js';

/**
 * A rating server's map of the network: the edges its reporters attested,
 * and which peers report to it. Pure and synchronous: no I/O, no clock (every
 * time-dependent question takes `now`), so the server feeds it from its store
 * and the simulator feeds it virtual peers. Peer ids are opaque strings (the
 * server uses the `12D3Koo…` form).
 */

/** How long a peer counts as connected to the server after its last report, by default. */
export const REPORTER_MAX_AGE_MS = 60 * 60_000;

/** Options of a {@link TopologyMap}. */
export interface TopologyOptions {
  /**
   * How old an edge's newest attestation may be for the edge to be current
   * (neighbours, degree, hints), and how far an advert's time may lie outside
   * an edge's attested span for a sighting over it to count. Default
   * `EDGE_MAX_AGE_MS`: neighbours re-attest at least this often.
   */
  edgeMaxAgeMs?: number;
  /**
   * How long an edge is remembered after its newest attestation, so sightings
   * over a connection that has since closed still count. Never below
   * `edgeMaxAgeMs`. Default `SIGHTING_MAX_AGE_MS`, the oldest evidence a report may carry.
   */
  edgeRetentionMs?: number;
  /** How long a peer counts as connected after its last report. Default {@link REPORTER_MAX_AGE_MS}. */
  reporterMaxAgeMs?: number;
}

/** One attested edge, as a server has it from verified attestations. */
export interface EdgeInput {
  a: string;
  b: string;
  /** The attestation's time, in ms since the epoch. */
  time: number;
}

/** An edge in the map: its ends in canonical order (`a < b`) and the span of its attestations. */
export interface EdgeSpan {
  a: string;
  b: string;
  firstSeen: number;
  lastSeen: number;
}

/** A peer that reports to the server, and when it last did. */
export interface ConnectedPeer {
  peer: string;
  lastReport: number;
}

/** What {@link TopologyMap.expire} forgot. */
export interface ExpiryResult {
  edges: number;
  reporters: number;
}

/** An edge or report the map cannot record: a self-loop, an empty peer id, a time that is not a finite number. */
export class InvalidTopologyInputError extends Error {
  override name = 'InvalidTopologyInputError';
}

interface Span {
  first: number;
  last: number;
}

/**
 * A graph of attested edges with the span of their attestation times, and
 * the peers that report to the server ("connected") with their last report
 * time. Peers seen only as the other end of a reporter's edges are
 * "unconnected". Adjacency is a map of peer → (neighbour → span), so
 * lookups and updates are O(1) and a peer's neighbours cost O(degree).
 *
 * @example
 * const map = new TopologyMap({ edgeMaxAgeMs: 60 * 60_000 });
 * map.addReport(reporter, report.time);
 * for (const edge of report.edges) map.addEdge(peerIdToString(edge.a), peerIdToString(edge.b), edge.time);
 * map.neighbours(reporter, Date.now()); // ['12D3KooA…', '12D3KooB…']
 * map.unconnected(Date.now()); // peers that never reported but are someone's neighbour
 */
export class TopologyMap {
  readonly edgeMaxAgeMs: number;
  readonly edgeRetentionMs: number;
  readonly reporterMaxAgeMs: number;
  readonly #adjacency = new Map<string, Map<string, Span>>();
  readonly #reports = new Map<string, number>();
  #edgeCount = 0;

  constructor(options: TopologyOptions = {}) {
    this.edgeMaxAgeMs = nonNegative(options.edgeMaxAgeMs ?? EDGE_MAX_AGE_MS, 'edgeMaxAgeMs');
    this.edgeRetentionMs = Math.max(
      this.edgeMaxAgeMs,
      nonNegative(options.edgeRetentionMs ?? SIGHTING_MAX_AGE_MS, 'edgeRetentionMs'),
    );
    this.reporterMaxAgeMs = nonNegative(options.reporterMaxAgeMs ?? REPORTER_MAX_AGE_MS, 'reporterMaxAgeMs');
  }

  /** Peers with at least one remembered edge or report. */
  get peerCount(): number {
    let count = this.#adjacency.size;
    for (const peer of this.#reports.keys()) if (!this.#adjacency.has(peer)) count++;
    return count;
  }

  /** Remembered edges, current or not. */
  get edgeCount(): number {
    return this.#edgeCount;
  }

  /**
   * Records an attestation of the edge between `a` and `b` at `time`, in either
   * order. Returns whether the edge is new to the map.
   */
  addEdge(a: string, b: string, time: number): boolean {
    checkPeer(a);
    checkPeer(b);
    checkTime(time);
    if (a === b) throw new InvalidTopologyInputError(`An edge joins two different peers, not ${a} to itself`);
    const span = this.#adjacency.get(a)?.get(b);
    if (span) {
      if (time > span.last) span.last = time;
      if (time < span.first) span.first = time;
      return false;
    }
    // One span object, shared by both directions, so an update is seen from either end.
    const fresh: Span = { first: time, last: time };
    this.#neighbourMap(a).set(b, fresh);
    this.#neighbourMap(b).set(a, fresh);
    this.#edgeCount++;
    return true;
  }

  /** Records many attestations; returns how many edges were new. */
  addEdges(edges: Iterable<EdgeInput>): number {
    let added = 0;
    for (const edge of edges) if (this.addEdge(edge.a, edge.b, edge.time)) added++;
    return added;
  }

  /** Records that `reporter` sent a report dated `time`; an older time than one already known changes nothing. */
  addReport(reporter: string, time: number): void {
    checkPeer(reporter);
    checkTime(time);
    const last = this.#reports.get(reporter);
    if (last === undefined || time > last) this.#reports.set(reporter, time);
  }

  /**
   * Forgets edges last attested before `now - edgeRetentionMs` and reporters
   * whose last report is before `now - reporterMaxAgeMs`. O(edges + reporters):
   * meant for a periodic pass, not every report.
   */
  expire(now: number): ExpiryResult {
    checkTime(now);
    const edgeLimit = now - this.edgeRetentionMs;
    let edges = 0;
    for (const [peer, neighbours] of this.#adjacency) {
      for (const [other, span] of neighbours) {
        if (span.last >= edgeLimit) continue;
        neighbours.delete(other);
        // Each edge is seen from both ends: count it once, from its canonical end.
        if (peer < other) edges++;
      }
      if (neighbours.size === 0) this.#adjacency.delete(peer);
    }
    this.#edgeCount -= edges;
    const reportLimit = now - this.reporterMaxAgeMs;
    let reporters = 0;
    for (const [peer, last] of this.#reports) {
      if (last >= reportLimit) continue;
      this.#reports.delete(peer);
      reporters++;
    }
    return { edges, reporters };
  }

  /** The edge between `a` and `b`, current or not, with its ends in canonical order. */
  edge(a: string, b: string): EdgeSpan | undefined {
    const span = this.#adjacency.get(a)?.get(b);
    if (!span) return undefined;
    return a < b
      ? { a, b, firstSeen: span.first, lastSeen: span.last }
      : { a: b, b: a, firstSeen: span.first, lastSeen: span.last };
  }

  /** Whether `a` and `b` have a current edge at `now`: attested within `edgeMaxAgeMs`. */
  isLive(a: string, b: string, now: number): boolean {
    const span = this.#adjacency.get(a)?.get(b);
    return span !== undefined && span.last >= now - this.edgeMaxAgeMs;
  }

  /**
   * Whether `a` and `b` were plausibly connected at `time`: the map has their
   * edge, and `time` lies within its attested span widened by `edgeMaxAgeMs`
   * on each side (a connection is attested when it opens and re-attested
   * within that interval while it lasts). The rule that a reporter can only
   * accuse a neighbour rests on this.
   */
  connectedAt(a: string, b: string, time: number): boolean {
    const span = this.#adjacency.get(a)?.get(b);
    return span !== undefined && time >= span.first - this.edgeMaxAgeMs && time <= span.last + this.edgeMaxAgeMs;
  }

  /** `peer`'s current neighbours at `now`, sorted. */
  neighbours(peer: string, now: number): string[] {
    const limit = now - this.edgeMaxAgeMs;
    const result: string[] = [];
    for (const [other, span] of this.#adjacency.get(peer) ?? []) if (span.last >= limit) result.push(other);
    return result.sort(compareStrings);
  }

  /** How many current neighbours `peer` has at `now`. O(degree). */
  degree(peer: string, now: number): number {
    const limit = now - this.edgeMaxAgeMs;
    let count = 0;
    for (const span of this.#adjacency.get(peer)?.values() ?? []) if (span.last >= limit) count++;
    return count;
  }

  /** When `peer` last reported, if the map still remembers it. */
  lastReport(peer: string): number | undefined {
    return this.#reports.get(peer);
  }

  /** Whether `peer` is connected to this server at `now`: it reported within `reporterMaxAgeMs`. */
  isConnected(peer: string, now: number): boolean {
    const last = this.#reports.get(peer);
    return last !== undefined && last >= now - this.reporterMaxAgeMs;
  }

  /** The peers connected to this server at `now`, sorted by peer. */
  connected(now: number): ConnectedPeer[] {
    const limit = now - this.reporterMaxAgeMs;
    const result: ConnectedPeer[] = [];
    for (const [peer, lastReport] of this.#reports) if (lastReport >= limit) result.push({ peer, lastReport });
    return result.sort((x, y) => compareStrings(x.peer, y.peer));
  }

  /** The peers known at `now` only through a current edge of someone else, not by their own reports; sorted. */
  unconnected(now: number): string[] {
    const result: string[] = [];
    for (const peer of this.#adjacency.keys()) {
      if (!this.isConnected(peer, now) && this.degree(peer, now) > 0) result.push(peer);
    }
    return result.sort(compareStrings);
  }

  /** Every remembered edge, current or not, in canonical order (`a < b`), sorted: for storage and dashboards. */
  edges(): EdgeSpan[] {
    const result: EdgeSpan[] = [];
    for (const [a, neighbours] of this.#adjacency) {
      for (const [b, span] of neighbours) if (a < b) result.push({ a, b, firstSeen: span.first, lastSeen: span.last });
    }
    return result.sort((x, y) => compareStrings(x.a, y.a) || compareStrings(x.b, y.b));
  }

  #neighbourMap(peer: string): Map<string, Span> {
    let neighbours = this.#adjacency.get(peer);
    if (!neighbours) {
      neighbours = new Map();
      this.#adjacency.set(peer, neighbours);
    }
    return neighbours;
  }
}

/** Code-unit order of strings: locale-independent, so outputs are the same on every machine. */
export function compareStrings(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function checkPeer(peer: string): void {
  if (typeof peer !== 'string' || peer.length === 0) {
    throw new InvalidTopologyInputError('A peer id must be a non-empty string');
  }
}

function checkTime(time: number): void {
  if (!Number.isFinite(time)) throw new InvalidTopologyInputError(`A time must be a finite number, not ${time}`);
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidTopologyInputError(`${name} must be a non-negative number, not ${value}`);
  }
  return value;
}
