import { logger } from '@libp2p/logger';
import type { MembershipIndex } from '../lists/membership-index.js';
import { type PenaltyKind, type PenaltyVerdict, penaltyFromVerdicts } from '../node/penalties.js';
import { priorityOf, resolveConfig, type SimulationConfig } from './config.js';
import { buildList, type ContentItem, createItem } from './content.js';
import { EventQueue } from './event-queue.js';
import { buildGraph, type Graph } from './graph.js';
import { createIdentities, type VirtualIdentity } from './identities.js';
import { type EdgeRef, type Evidence, MessageFactory } from './messages.js';
import { Random } from './random.js';
import { computeResult, type SimulationResult, type SimulationState, type TimelinePoint } from './results.js';
import { DirectServer, type PublishedVerdicts, type SimServer, VerifiedServer } from './servers.js';

const log = logger('nrp:sim');

/**
 * The network simulator: thousands of virtual nodes and a few rating servers
 * in one process, on a virtual clock. Only the transport and the clock are
 * simulated; entry ids, list membership, protocol messages, verification,
 * the topology map, the origin inference and the penalty decision are the
 * node's and the server's own code.
 *
 * The model, per virtual node:
 * - **Content** spreads as on the real network: a holder advertises it to
 *   each neighbour (one hop, `advertLatencyMs`); a neighbour that wants it
 *   fetches it from that neighbour (`fetchLatencyMs`), then advertises it
 *   under its own signature. Adverts are never forwarded.
 * - **Followers** (nodes that follow at least one server) enforce the lists
 *   of their servers once a version reaches them (`syncLagMs` after it takes
 *   effect): an advert for listed content is refused and kept as evidence
 *   against the neighbour that sent it; content already held is purged.
 *   Every `intervalMs` they report their attested edges and new evidence to
 *   each server they follow; every `pollIntervalMs` they take the servers'
 *   verdicts and apply `penaltyFromVerdicts` to their neighbours: a
 *   `disconnect` hangs up (and refuses redials until the verdict expires), a
 *   `delay` holds that neighbour's adverts, and its own adverts to it, `delayMs`.
 * - **Strangers** (honest nodes that follow no server) fetch and relay
 *   everything, report nothing and penalise nobody.
 * - **Malicious distributors** push listed content to every neighbour every
 *   `pushIntervalMs`, never report, and dial random nodes to replace the
 *   connections they lose (`redial` per push); a node whose high-priority
 *   server rates them black refuses. With `evasive`, they also refuse to
 *   countersign edge attestations.
 * - **Lying reporters** are followers that, besides their honest reports,
 *   send each server a signed report of made-up evidence every interval:
 *   adverts "from" honest neighbours that they signed themselves, and edges
 *   with far nodes that the other end never signed.
 * - **Servers** take reports, run the inference every `inferenceIntervalMs`
 *   and publish the verdicts (see `servers.ts` for what is real in each
 *   `verify` mode).
 *
 * Edges are attested when a connection opens and again every
 * `edgeRefreshMs`, and a report carries those attested within
 * `edgeReportMaxAgeMs`, including closed connections, as the node's edge
 * service does. Honest nodes do not replace lost connections.
 */

/** The virtual clock's origin: the first push of the listed content (ms since the epoch, as message times are). */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

export const HONEST = 0;
export const MALICIOUS = 1;
export const LIAR = 2;

/** A node that originates content: a malicious distributor, or in a split an honest node sharing its camp's item. */
export interface Origin {
  node: number;
  kind: 'malicious' | 'seeder';
  items: number[];
  firstPush?: number;
  /** When it last lost its last connection to a follower of a high-priority server, if it has none now. */
  isolatedAt?: number;
  /** Its current neighbours that follow some server at high priority. */
  highNeighbours: number;
  highNeighboursAtStart: number;
  /** Connections it lost to penalties. */
  disconnections: number;
  /** Connections it made by redialling. */
  redials: number;
}

export interface SimulationProgress {
  round: number;
  rounds: number;
  /** Reach of the listed content so far. */
  reach: number;
  /** Nodes black by some server now. */
  black: number;
  isolatedOrigins: number;
  origins: number;
  elapsedMs: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: SimulationProgress) => void;
}

type SimEvent =
  | { kind: 'advert'; to: number; from: number; item: number; signedAt: number; delayed: boolean }
  | { kind: 'fetched'; node: number; from: number; item: number }
  | { kind: 'push'; origin: Origin }
  | { kind: 'seed'; origin: Origin }
  | { kind: 'report'; node: number }
  | { kind: 'poll'; node: number }
  | { kind: 'infer'; server: number }
  | { kind: 'sync'; node: number }
  | { kind: 'round'; round: number };

/**
 * Runs one simulation and returns its measurements.
 *
 * @example
 * const result = await runSimulation({ nodes: 10_000, coverage: 0.9, seed: 1 });
 * result.summary; // { nodes: 10000, coverage: 0.9, reach: 0.004, roundsToIsolate: 2, falsePositiveRate: 0 }
 */
export async function runSimulation(
  overrides: Partial<SimulationConfig> = {},
  options: RunOptions = {},
): Promise<SimulationResult> {
  const simulation = new Simulation(resolveConfig(overrides));
  try {
    return await simulation.run(options);
  } finally {
    simulation.close();
  }
}

export class Simulation {
  readonly config: SimulationConfig;
  readonly graph: Graph;
  readonly identities: VirtualIdentity[];
  readonly servers: SimServer[];
  readonly items: ContentItem[];
  readonly origins: Origin[] = [];
  readonly role: Uint8Array;
  /** The servers each node follows, by index. */
  readonly follows: number[][];
  /** Bit `s` set: the node follows (and enforces the list of) server `s`. */
  readonly followMask: Uint32Array;
  /** 1 for a non-malicious node that follows some server at high priority. */
  readonly highFollower: Uint8Array;
  /** In a split: 0 or 1 for the camp a follower is in, -1 for others. */
  readonly camp: Int8Array;
  /** Bit `s` set: server `s`'s list holds the item (by the real `MembershipIndex`). */
  readonly listedBy: number[];
  /** Per item, 1 where a node holds it. */
  readonly has: Uint8Array[];
  /** Bit `s` set: server `s` rated the node black at some point. */
  readonly blackBy: Uint32Array;
  readonly grayBy: Uint32Array;
  /** Edges at the start, for the report. */
  readonly initialEdges: [number, number][];
  readonly startDegree: Uint16Array;
  readonly timeline: TimelinePoint[] = [];
  readonly start: number;
  readonly end: number;
  readonly messages: MessageFactory;
  readonly setupMs: number;
  events = 0;
  edgesCut = 0;

  readonly #queue = new EventQueue<SimEvent>();
  readonly #latency: Random;
  readonly #rewire: Random;
  readonly #lies: Random;
  readonly #fetching: Uint8Array[];
  readonly #enforceFrom: Float64Array;
  readonly #evidence: Evidence[][];
  readonly #views: PublishedVerdicts[][];
  readonly #originOf: Int32Array;
  /** Time of the first attestation of each open connection, by edge key; absent for unattested ones. */
  readonly #edgeStart = new Map<number, number>();
  /** Attested edges of closed connections, still reported while recent. */
  readonly #closed: EdgeRef[][];
  readonly #seqs: Float64Array;
  readonly #reportsSent: Uint32Array;
  #now: number;

  constructor(config: SimulationConfig) {
    const started = performance.now();
    this.config = config;
    const n = config.nodes;
    const { seed } = config;
    this.start = SIM_EPOCH - 2 * config.intervalMs;
    this.end = SIM_EPOCH + config.rounds * config.intervalMs;
    this.#now = this.start;
    this.#latency = Random.stream(seed, 'latency');
    this.#rewire = Random.stream(seed, 'rewire');
    this.#lies = Random.stream(seed, 'lies');

    this.graph = buildGraph(config.topology, n, config.degree, Random.stream(seed, 'topology'));
    this.initialEdges = [...this.graph.edges()];
    this.startDegree = Uint16Array.from({ length: n }, (_, v) => this.graph.degree(v));
    const keys = Random.stream(seed, 'keys');
    this.identities = createIdentities(n, keys);
    const serverIdentities = createIdentities(config.servers, keys);

    // Who follows which server: one draw per node and server, taken for every node so that the same seed
    // gives nested sets of followers as coverage grows.
    const followDraws = Random.stream(seed, 'follow');
    this.follows = Array.from({ length: n }, () => [] as number[]);
    this.camp = new Int8Array(n).fill(-1);
    for (let v = 0; v < n; v++) {
      if (config.split) {
        const follower = followDraws.next() < config.coverage;
        const campA = followDraws.next() < config.campShare;
        if (follower) {
          this.camp[v] = campA ? 0 : 1;
          this.follows[v].push(this.camp[v]);
        }
      } else {
        for (let s = 0; s < config.servers; s++) if (followDraws.next() < config.coverage) this.follows[v].push(s);
      }
    }

    // Roles, in one random order: malicious nodes first, then liars among the followers, then seeders.
    const order = Random.stream(seed, 'roles').shuffle(Array.from({ length: n }, (_, v) => v));
    this.role = new Uint8Array(n);
    const maliciousCount = config.malicious > 0 ? Math.max(1, Math.round(config.malicious * n)) : 0;
    for (const v of order.slice(0, maliciousCount)) {
      this.role[v] = MALICIOUS;
      this.follows[v] = [];
      this.camp[v] = -1;
    }
    let liarsLeft = Math.round(config.liars * n);
    for (const v of order.slice(maliciousCount)) {
      if (liarsLeft === 0) break;
      if (this.follows[v].length === 0) continue;
      this.role[v] = LIAR;
      liarsLeft--;
    }
    this.followMask = Uint32Array.from(this.follows, (servers) => servers.reduce((mask, s) => mask | (1 << s), 0));
    this.highFollower = Uint8Array.from(this.follows, (servers, v) =>
      this.role[v] !== MALICIOUS && servers.some((s) => priorityOf(config, s) === 'high') ? 1 : 0,
    );

    // Content and lists. Without a split, every server lists the one item; in a split, each camp's server also
    // lists the item the other camp's allows.
    const contentRandom = Random.stream(seed, 'content');
    this.items = [];
    const common = maliciousCount > 0 || !config.split ? createItem(0, 'listed', contentRandom) : undefined;
    if (common) this.items.push(common);
    const disputed = config.split
      ? [0, 1].map((c) => createItem(this.items.length + c, `disputed-${'ab'[c]}`, contentRandom))
      : [];
    this.items.push(...disputed);
    const lists: MembershipIndex[] = [];
    for (let s = 0; s < config.servers; s++) {
      const listed = [...(common ? [common] : []), ...(config.split ? [disputed[s]] : [])];
      lists.push(buildList(listed, 1_000, contentRandom));
    }
    this.messages = new MessageFactory(this.identities, this.items);
    const context = {
      identities: this.identities,
      items: this.items,
      messages: this.messages,
      inference: config.inference,
    };
    const effectiveAt = SIM_EPOCH + config.listAtMs;
    this.servers = serverIdentities.map((identity, index) => {
      const init = { index, identity, priority: priorityOf(config, index), list: lists[index], effectiveAt };
      return config.verify === 'all'
        ? new VerifiedServer(init, context)
        : new DirectServer(init, context, { verifyLies: config.verifyLies });
    });
    this.listedBy = this.items.map((item) =>
      this.servers.reduce((mask, server) => {
        return server.isListed({ entryId: item.entryId, cid: item.cid }) ? mask | (1 << server.index) : mask;
      }, 0),
    );

    this.has = this.items.map(() => new Uint8Array(n));
    this.#fetching = this.items.map(() => new Uint8Array(n));
    this.blackBy = new Uint32Array(n);
    this.grayBy = new Uint32Array(n);
    this.#evidence = Array.from({ length: n }, () => []);
    this.#closed = Array.from({ length: n }, () => []);
    this.#views = this.follows.map((servers) => servers.map(() => this.servers[0].published));
    this.#seqs = new Float64Array(n * config.servers);
    this.#reportsSent = new Uint32Array(n);
    this.#originOf = new Int32Array(n).fill(-1);

    // Origins: the malicious distributors push the commonly listed item; in a split, honest seeders of each camp
    // share the item the other camp's server lists.
    for (let v = 0; v < n; v++) {
      if (this.role[v] === MALICIOUS && common) this.#addOrigin(v, 'malicious', [common.index]);
    }
    if (config.split) {
      for (const c of [0, 1]) {
        const sharers = order.filter((v) => this.role[v] === HONEST && this.camp[v] === 1 - c);
        for (const v of sharers.slice(0, config.seeders)) this.#addOrigin(v, 'seeder', [disputed[c].index]);
      }
    }

    // The clock: connections opened before the start (attestations out of phase), then reports, polls,
    // inference passes and list syncs, each on its own phase.
    const timing = Random.stream(seed, 'timing');
    for (const [a, b] of this.initialEdges) this.#openEdge(a, b, this.start - timing.between(0, config.edgeRefreshMs));
    for (const origin of this.origins) origin.highNeighboursAtStart = origin.highNeighbours;
    this.#enforceFrom = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    for (let v = 0; v < n; v++) {
      const lag = timing.between(0, config.syncLagMs);
      const reportAt = this.start + timing.between(0, config.intervalMs);
      const pollAt = this.start + timing.between(0, config.pollIntervalMs);
      if (this.follows[v].length === 0) continue;
      this.#enforceFrom[v] = effectiveAt + lag;
      if (this.#enforceFrom[v] > this.start) this.#schedule(this.#enforceFrom[v], { kind: 'sync', node: v });
      this.#schedule(reportAt, { kind: 'report', node: v });
      this.#schedule(pollAt, { kind: 'poll', node: v });
    }
    for (const server of this.servers) {
      this.#schedule(this.start + timing.between(0, config.inferenceIntervalMs), {
        kind: 'infer',
        server: server.index,
      });
    }
    for (const origin of this.origins) {
      const at = SIM_EPOCH + timing.between(0, 1_000);
      this.#schedule(at, origin.kind === 'malicious' ? { kind: 'push', origin } : { kind: 'seed', origin });
    }
    for (let round = 0; round <= config.rounds; round++) {
      this.#schedule(SIM_EPOCH + round * config.intervalMs, { kind: 'round', round });
    }
    this.setupMs = performance.now() - started;
  }

  /** Runs the event loop to the end and measures. */
  async run(options: RunOptions = {}): Promise<SimulationResult> {
    const started = performance.now();
    options.signal?.throwIfAborted();
    for (;;) {
      const time = this.#queue.peekTime();
      if (time === undefined || time > this.end) break;
      const { event } = this.#queue.next() as { time: number; event: SimEvent };
      this.#now = time;
      this.events++;
      const pending = this.#handle(event, options, started);
      if (pending) await pending;
      if ((this.events & 0x3fff) === 0) {
        options.signal?.throwIfAborted();
        // Let timers and I/O run (progress output, an abort) in long runs.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.#now = this.end;
    return computeResult(this.#state(), { elapsedMs: performance.now() - started + this.setupMs });
  }

  close(): void {
    for (const server of this.servers) server.close();
  }

  /** The current time of the virtual clock. */
  get now(): number {
    return this.#now;
  }

  /** Whether node `v` refuses `item` at `time`: it enforces a list that holds it, and the version reached it. */
  enforces(v: number, item: number, time: number): boolean {
    return (this.followMask[v] & this.listedBy[item]) !== 0 && time >= this.#enforceFrom[v];
  }

  /** The penalty `v` applies to neighbour `u` now, by the real penalty rule, from the verdicts `v` last polled. */
  penalty(v: number, u: number, time: number): PenaltyKind {
    const views = this.#views[v];
    if (views.length === 0) return 'none';
    const peer = this.identities[u].peerId;
    let verdicts: PenaltyVerdict[] | undefined;
    for (let k = 0; k < views.length; k++) {
      const verdict = views[k].byPeer.get(peer);
      if (verdict === undefined) continue;
      const server = this.servers[this.follows[v][k]];
      verdicts ??= [];
      verdicts.push({
        server: server.peerId,
        priority: server.priority,
        rating: verdict.rating,
        score: verdict.score,
        reason: verdict.reason,
        evidence: verdict.evidence,
        expiresAt: verdict.expiresAt,
      });
    }
    return verdicts === undefined ? 'none' : penaltyFromVerdicts(verdicts, time).kind;
  }

  #handle(event: SimEvent, options: RunOptions, started: number): Promise<void> | undefined {
    const now = this.#now;
    switch (event.kind) {
      case 'advert':
        this.#onAdvert(event, now);
        return undefined;
      case 'fetched':
        this.#onFetched(event.node, event.from, event.item, now);
        return undefined;
      case 'push':
        this.#onPush(event.origin, now);
        return undefined;
      case 'seed':
        this.#onSeed(event.origin, now);
        return undefined;
      case 'report':
        return this.#onReport(event.node, now);
      case 'poll':
        this.#onPoll(event.node, now);
        return undefined;
      case 'infer':
        return this.#onInfer(event.server, now);
      case 'sync':
        this.#onSync(event.node);
        return undefined;
      case 'round':
        this.#onRound(event.round, now, options, started);
        return undefined;
    }
  }

  // ─── Content ──────────────────────────────────────────────────────────────────────────────────────────────

  #advertise(v: number, item: number, now: number, to: Iterable<number> = this.graph.neighbours(v)) {
    const [min, max] = this.config.advertLatencyMs;
    for (const w of to) {
      // A node holds its own adverts to a neighbour it delays, as it holds that neighbour's (DelayedAdverts).
      const penalty = this.penalty(v, w, now);
      if (penalty === 'disconnect') continue;
      const hold = penalty === 'delay' ? this.config.delayMs : 0;
      this.#schedule(now + hold + this.#latency.between(min, max), {
        kind: 'advert',
        to: w,
        from: v,
        item,
        signedAt: now,
        delayed: false,
      });
    }
  }

  #onAdvert(event: Extract<SimEvent, { kind: 'advert' }>, now: number) {
    const { to: v, from: u, item } = event;
    // The connection closed while the advert was on its way.
    if (!this.graph.has(u, v) || this.role[v] === MALICIOUS) return;
    if (!event.delayed && this.#views[v].length > 0) {
      const penalty = this.penalty(v, u, now);
      // A neighbour to disconnect is hung up on at the poll that brought its verdict; this advert is lost.
      if (penalty === 'disconnect') return;
      if (penalty === 'delay' && this.config.delayMs > 0) {
        this.#schedule(now + this.config.delayMs, { ...event, delayed: true });
        return;
      }
    }
    if (this.enforces(v, item, now)) {
      // Refused; the signed advert is the evidence against `u` in the next report.
      this.#evidence[v].push({ from: u, item, advertTime: event.signedAt });
      return;
    }
    if (this.has[item][v] || this.#fetching[item][v]) return;
    this.#fetching[item][v] = 1;
    const [min, max] = this.config.fetchLatencyMs;
    this.#schedule(now + this.#latency.between(min, max), { kind: 'fetched', node: v, from: u, item });
  }

  #onFetched(v: number, from: number, item: number, now: number) {
    this.#fetching[item][v] = 0;
    // The source hung up before the transfer finished: another advert may bring it again.
    if (!this.graph.has(from, v)) return;
    // The list may have changed while the content was on its way.
    if (this.enforces(v, item, now) || this.has[item][v]) return;
    this.has[item][v] = 1;
    this.#advertise(v, item, now);
  }

  #onSeed(origin: Origin, now: number) {
    origin.firstPush = now;
    if (origin.highNeighbours === 0) origin.isolatedAt = now;
    for (const item of origin.items) {
      this.has[item][origin.node] = 1;
      this.#advertise(origin.node, item, now);
    }
  }

  #onPush(origin: Origin, now: number) {
    const m = origin.node;
    if (origin.firstPush === undefined) {
      origin.firstPush = now;
      if (origin.highNeighbours === 0) origin.isolatedAt = now;
    }
    for (const item of origin.items) {
      this.has[item][m] = 1;
      this.#advertise(m, item, now);
    }
    // Replace lost connections; a node whose verdicts call for a disconnect refuses (its connection gater).
    const attempts = Math.min(this.config.redial, this.startDegree[m] - this.graph.degree(m));
    for (let i = 0; i < attempts; i++) {
      const w = this.#rewire.int(this.config.nodes);
      if (w === m || this.graph.has(m, w)) continue;
      if (this.role[w] !== MALICIOUS && this.penalty(w, m, now) === 'disconnect') continue;
      this.#openEdge(m, w, now);
      origin.redials++;
      for (const item of origin.items) this.#advertise(m, item, now, [w]);
    }
    const next = now + this.config.pushIntervalMs;
    if (next <= this.end) this.#schedule(next, { kind: 'push', origin });
  }

  #onSync(v: number) {
    // A new version reached the node: what it now lists is dropped from its store.
    for (let item = 0; item < this.items.length; item++) {
      if ((this.followMask[v] & this.listedBy[item]) !== 0) this.has[item][v] = 0;
    }
  }

  // ─── Reports, verdicts, penalties ─────────────────────────────────────────────────────────────────────────

  async #onReport(v: number, now: number): Promise<void> {
    const edges = this.#currentEdges(v, now);
    const sightings = this.#evidence[v];
    this.#evidence[v] = [];
    const content = { reporter: v, time: now, edges, sightings };
    for (const s of this.follows[v]) {
      const pending = this.servers[s].report(content, this.#nextSeq(v, s));
      if (pending) await pending;
    }
    if (this.role[v] === LIAR) await this.#lie(v, now);
    this.#reportsSent[v]++;
    this.#schedule(now + this.config.intervalMs, { kind: 'report', node: v });
  }

  /** A liar's made-up evidence, to each server it follows: in turn against its neighbours and against strangers. */
  async #lie(v: number, now: number) {
    const honest = [...this.graph.neighbours(v)].filter(
      (u) => this.role[u] !== MALICIOUS && this.#edgeStart.has(key(v, u, this.config.nodes)),
    );
    const againstNeighbours = this.#reportsSent[v] % 2 === 0 && honest.length > 0;
    const accused = againstNeighbours
      ? [this.#lies.pick(honest)].map((u) => ({ peer: u, edgeTime: this.#attestedAt(v, u, now) as number }))
      : [];
    const fakeEdgeWith: number[] = [];
    while (!againstNeighbours && fakeEdgeWith.length === 0) {
      const w = this.#lies.int(this.config.nodes);
      if (w !== v && !this.graph.has(v, w)) fakeEdgeWith.push(w);
    }
    for (const s of this.follows[v]) {
      const item = this.items.findIndex((_, i) => (this.listedBy[i] & (1 << s)) !== 0);
      if (item < 0) continue;
      const report = await this.messages.lie(v, this.#nextSeq(v, s), now, { accused, fakeEdgeWith, item });
      await this.servers[s].lie(report);
    }
  }

  async #onInfer(s: number, now: number): Promise<void> {
    const before = this.servers[s].published;
    const published = await this.servers[s].infer(now);
    if (published !== before) {
      const bit = 1 << s;
      for (const [peer, verdict] of published.byPeer) {
        const v = this.#indexOf(peer);
        if (v === undefined) continue;
        if (verdict.rating === 'black') this.blackBy[v] |= bit;
        else if (verdict.rating === 'gray') this.grayBy[v] |= bit;
      }
    }
    this.#schedule(now + this.config.inferenceIntervalMs, { kind: 'infer', server: s });
  }

  #onPoll(v: number, now: number) {
    const views = this.#views[v];
    let changed = false;
    for (let k = 0; k < views.length; k++) {
      const published = this.servers[this.follows[v][k]].published;
      if (views[k] !== published) {
        views[k] = published;
        changed = true;
      }
    }
    // Penalties change with new verdicts; expiries (a day by default) are re-checked with the next change.
    if (changed) {
      for (const u of [...this.graph.neighbours(v)]) {
        if (this.penalty(v, u, now) === 'disconnect') this.#closeEdge(v, u, now);
      }
    }
    this.#schedule(now + this.config.pollIntervalMs, { kind: 'poll', node: v });
  }

  #onRound(round: number, now: number, options: RunOptions, started: number) {
    // No report carries an attestation or an advert this old any more.
    this.messages.prune(now - this.config.edgeReportMaxAgeMs - this.config.edgeRefreshMs - this.config.intervalMs);
    const main = this.items.findIndex((item) => item.label === 'listed');
    const black = this.#currentlyBlack();
    const isolated = this.origins.filter((o) => o.kind === 'malicious' && o.isolatedAt !== undefined).length;
    const point: TimelinePoint = {
      round,
      time: now,
      reach: main >= 0 ? this.#reach(main) : 0,
      black,
      isolatedOrigins: isolated,
      edgesCut: this.edgesCut,
      crossCampEdges: this.config.split ? this.#crossCampEdges() : undefined,
    };
    this.timeline.push(point);
    const progress: SimulationProgress = {
      round,
      rounds: this.config.rounds,
      reach: point.reach,
      black,
      isolatedOrigins: isolated,
      origins: this.origins.filter((o) => o.kind === 'malicious').length,
      elapsedMs: performance.now() - started,
    };
    log(
      'round %d/%d: reach %f, %d black, %d origins isolated',
      round,
      this.config.rounds,
      point.reach,
      black,
      isolated,
    );
    options.onProgress?.(progress);
  }

  // ─── Connections ──────────────────────────────────────────────────────────────────────────────────────────

  #openEdge(a: number, b: number, time: number) {
    this.graph.add(a, b);
    const evasive = this.config.evasive && (this.role[a] === MALICIOUS || this.role[b] === MALICIOUS);
    if (!evasive) this.#edgeStart.set(key(a, b, this.config.nodes), Math.round(time));
    this.#countHigh(a, b, +1, time);
  }

  #closeEdge(a: number, b: number, time: number) {
    if (!this.graph.remove(a, b)) return;
    this.edgesCut++;
    const k = key(a, b, this.config.nodes);
    const start = this.#edgeStart.get(k);
    if (start !== undefined) {
      const last = lastAttestation(start, time, this.config.edgeRefreshMs);
      this.#closed[a].push({ peer: b, time: last });
      this.#closed[b].push({ peer: a, time: last });
      this.#edgeStart.delete(k);
    }
    this.#countHigh(a, b, -1, time);
    for (const x of [a, b]) {
      const o = this.#originOf[x];
      if (o >= 0) this.origins[o].disconnections++;
    }
  }

  #countHigh(a: number, b: number, delta: number, time: number) {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const index = this.#originOf[x];
      if (index < 0 || this.highFollower[y] === 0) continue;
      const origin = this.origins[index];
      origin.highNeighbours += delta;
      if (origin.highNeighbours > 0) origin.isolatedAt = undefined;
      else if (origin.firstPush !== undefined) origin.isolatedAt = time;
    }
  }

  /** The time of the newest attestation of the open edge `v`–`u` at `now`, if it is attested. */
  #attestedAt(v: number, u: number, now: number): number | undefined {
    const start = this.#edgeStart.get(key(v, u, this.config.nodes));
    return start === undefined ? undefined : lastAttestation(start, now, this.config.edgeRefreshMs);
  }

  /** The edges a report of `v` carries: attested within `edgeReportMaxAgeMs`, open or since closed. */
  #currentEdges(v: number, now: number): EdgeRef[] {
    const edges: EdgeRef[] = [];
    for (const u of this.graph.neighbours(v)) {
      const time = this.#attestedAt(v, u, now);
      if (time !== undefined) edges.push({ peer: u, time });
    }
    if (this.#closed[v].length === 0) return edges;
    const limit = now - this.config.edgeReportMaxAgeMs;
    const closed = this.#closed[v].filter((edge) => edge.time >= limit);
    this.#closed[v] = closed;
    for (const edge of closed) if (!this.graph.has(v, edge.peer)) edges.push(edge);
    return edges;
  }

  // ─── Bookkeeping ──────────────────────────────────────────────────────────────────────────────────────────

  #addOrigin(node: number, kind: Origin['kind'], items: number[]) {
    this.#originOf[node] = this.origins.length;
    this.origins.push({
      node,
      kind,
      items,
      highNeighbours: 0,
      highNeighboursAtStart: 0,
      disconnections: 0,
      redials: 0,
    });
  }

  #nextSeq(v: number, s: number): number {
    return ++this.#seqs[v * this.config.servers + s];
  }

  /** Schedules on whole milliseconds: message times are integers. */
  #schedule(time: number, event: SimEvent) {
    const at = Math.round(time);
    if (at <= this.end) this.#queue.schedule(at, event);
  }

  #peerIndex?: Map<string, number>;

  #indexOf(peer: string): number | undefined {
    this.#peerIndex ??= new Map(this.identities.map((identity, v) => [identity.peerId, v]));
    return this.#peerIndex.get(peer);
  }

  #reach(item: number): number {
    let holders = 0;
    let population = 0;
    for (let v = 0; v < this.config.nodes; v++) {
      if (this.role[v] === MALICIOUS) continue;
      population++;
      holders += this.has[item][v];
    }
    return population === 0 ? 0 : holders / population;
  }

  #currentlyBlack(): number {
    const black = new Set<string>();
    for (const server of this.servers) {
      for (const [peer, verdict] of server.published.byPeer) if (verdict.rating === 'black') black.add(peer);
    }
    return black.size;
  }

  #crossCampEdges(): number {
    let count = 0;
    for (const [a, b] of this.graph.edges())
      if (this.camp[a] >= 0 && this.camp[b] >= 0 && this.camp[a] !== this.camp[b]) count++;
    return count;
  }

  #state(): SimulationState {
    return {
      config: this.config,
      graph: this.graph,
      initialEdges: this.initialEdges,
      identities: this.identities,
      servers: this.servers,
      items: this.items,
      origins: this.origins,
      role: this.role,
      follows: this.follows,
      highFollower: this.highFollower,
      camp: this.camp,
      listedBy: this.listedBy,
      has: this.has,
      blackBy: this.blackBy,
      grayBy: this.grayBy,
      timeline: this.timeline,
      events: this.events,
      edgesCut: this.edgesCut,
      signatures: this.messages.signatures,
      setupMs: this.setupMs,
    };
  }
}

/** An edge's key in maps: its ends in order, as one number. */
function key(a: number, b: number, n: number): number {
  return a < b ? a * n + b : b * n + a;
}

/** Edges are attested when they open and every `refreshMs` after: the newest attestation at `now`. */
function lastAttestation(start: number, now: number, refreshMs: number): number {
  return now <= start ? start : start + Math.floor((now - start) / refreshMs) * refreshMs;
}
