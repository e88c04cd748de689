import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import type { AbortOptions, PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import { CID } from 'multiformats/cid';
import type { Address } from 'viem';
import { getVersionPublishedLogs } from '../chain/lists.js';
import type { ReadClient } from '../chain/transactions.js';
import { createNrpHelia, DEFAULT_LISTEN, type NrpHelia, type NrpHeliaInit } from '../ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../ipfs/keys.js';
import { pinRoot } from '../ipfs/pins.js';
import { type BlockSource, isBlockUnavailable, readBlock } from '../lists/blocks.js';
import {
  decodePayload,
  expectedOnChain,
  type OnChainVersion,
  PAYLOAD_FORMAT,
  PayloadError,
  type PayloadHeader,
} from '../lists/payload.js';
import { ListSync, type ListSyncInit, type VersionEvent } from '../lists/sync.js';
import { peerIdToString, toPeerIdBytes } from '../node/protocol/peer.js';
import type { Rating, Verdict, VerdictSnapshot } from '../node/protocol/verdict.js';
import { RATINGS_PROTOCOL, serveRatings } from '../node/ratings.js';
import type { HandleOptions } from '../node/rpc.js';
import { type HttpApi, HttpApiError, type HttpRoute, startHttpApi } from '../utils/http-api.js';
import { writeJsonFile } from '../utils/json-file.js';
import { PollingLoop } from '../utils/polling-loop.js';
import { apiRoutes } from './api-views.js';
import { DEFAULT_SERVER_MAX_CONNECTIONS, DEFAULT_SERVER_PING_INTERVAL_MS } from './config.js';
import { dashboardRoutes } from './dashboard.js';
import { type ServerEndpoint, serverEndpointFile } from './endpoint.js';
import {
  DEFAULT_HINT_LIMIT,
  HintIndex,
  type InferenceOptions,
  type InferredVerdict,
  type TopologyHint,
  toProtocolVerdict,
} from './inference.js';
import { listedIn, ReportIntake, type ReportIntakeInit } from './intake.js';
import { connectListPeers } from './list-peers.js';
import { metricsRoutes, ServerMetrics } from './metrics.js';
import { type ProposedPayloadStatus, ProposedPayloads, type ProposedPayloadsInit } from './proposed-payloads.js';
import { ServerStore, type ServerStoreStats } from './store.js';
import { TipDesk, type TipDeskInit, tipRoutes } from './tips.js';
import type { TopologyOptions } from './topology.js';
import { EntryEffectiveTimes, EvidenceFeed, inferFromFeed, VerdictIssuer, type VerdictIssuerInit } from './verdicts.js';

const log = logger('nrp:server');

/** Default milliseconds between inference passes. */
export const DEFAULT_INFERENCE_INTERVAL_MS = 10_000;

/** Verdict snapshots kept in the store by default: nodes that hold an older one get the whole snapshot. */
export const DEFAULT_KEEP_VERDICT_SNAPSHOTS = 100;

/** Most hints one `GET /hints/<peer>` answers with. */
export const MAX_HINT_LIMIT = 100;

export interface RatingServerInit {
  /**
   * Folder that keeps the server's state: its libp2p key and blocks in `ipfs/` (`ipfs/peer.key`, mode 0600),
   * reports, evidence and issued snapshots in `server.db`, the list's checkpoint in `sync/`, and where its HTTP
   * API answers in `server.json`.
   */
  dataDir: string;
  /** libp2p listen addresses: fixed ones in production, since the registry lists them. Default loopback, any port. */
  listen?: readonly string[];
  /**
   * The addresses to tell peers and register instead of the listen addresses, e.g. `/dns4/rating.example.org/tcp/4100`
   * for a server listening on `/ip4/0.0.0.0/tcp/4100`. Default: the listen addresses as bound.
   */
  announce?: readonly string[];
  /** Peers to dial at start (`/p2p/<peer id>` addresses). */
  bootstrap?: readonly string[];
  /** The list this server enforces: reports of anything else are refused. */
  list: Address;
  chainId: number;
  /** The deployment's first block. */
  fromBlock: bigint;
  /** The rest of the list sync's options (confirmations, poll interval, fetch timeout, retries). */
  sync?: Omit<ListSyncInit, 'list' | 'chainId' | 'fromBlock' | 'checkpointPath'>;
  /** Port of the HTTP API, always on 127.0.0.1. Default 0: any free port (see {@link RatingServer.httpUrl}). */
  httpPort?: number;
  /** Milliseconds between inference passes. Default {@link DEFAULT_INFERENCE_INTERVAL_MS}. */
  inferenceIntervalMs?: number;
  /** Rating parameters (grace, half-life, verdict lifetime, weights). */
  inference?: Omit<InferenceOptions, 'now'>;
  topology?: TopologyOptions;
  intake?: ReportIntakeInit;
  /** How tip-offs are taken (`/nrp/tip/1.0.0` and `POST /tips`): rate limits, the pending queue's size. */
  tips?: TipDeskInit;
  /** How `/nrp/ratings/1.0.0` is served. */
  ratings?: HandleOptions;
  verdicts?: VerdictIssuerInit;
  /**
   * libp2p connection limits. By default a server keeps up to {@link DEFAULT_SERVER_MAX_CONNECTIONS} connections
   * (libp2p's 300 would make most nodes of a large network dial again, with a new handshake, for every report),
   * takes 1,000 inbound connections a second from one address (libp2p's 5 would refuse nodes behind one NAT)
   * and 256 pending at once.
   */
  connectionManager?: NonNullable<NrpHeliaInit['libp2p']>['connectionManager'];
  /**
   * Milliseconds between libp2p's pings of each connection, which notice dead ones. Default
   * {@link DEFAULT_SERVER_PING_INTERVAL_MS}: libp2p's 10 s would cost a server with 10,000 connected nodes a
   * thousand ping streams a second.
   */
  pingIntervalMs?: number;
  /** More HTTP routes (tips, metrics, the dashboard), added after the read-only ones. */
  routes?: (server: RatingServer) => HttpRoute[];
  /**
   * The rating-server registry: for the dashboard's list of servers (`GET /registry`), and to connect at start to
   * the other servers active for the same list, which have its payloads.
   */
  registry?: Address;
  /**
   * The Governor whose proposals publish versions of the list: the server then keeps each proposed version's
   * payload while the vote runs ({@link ProposedPayloads}), so it outlives the proposer's own IPFS node.
   */
  governor?: Address;
  /** How proposed payloads are followed: poll interval, fetch timeout, the largest version kept unvoted. */
  proposals?: Pick<ProposedPayloadsInit, 'pollIntervalMs' | 'fetchTimeoutMs' | 'maxEntries'>;
  /** Verdict snapshots kept in the store; older ones are deleted after each new one. Default 100. */
  keepVerdictSnapshots?: number;
  /** Aborts the start; what was started is stopped again. Stop a running server with `stop`. */
  signal?: AbortSignal;
  /**
   * Called with the list's sync before the server starts, to watch its `version` and `error` events from the
   * first sync on: a start waits for that sync, which can take the payload fetch's whole timeout.
   */
  onList?: (list: ListSync) => void;
  /** Called with the proposed-payload follower (with a `governor`) before it starts, to watch its events. */
  onProposals?: (proposals: ProposedPayloads) => void;
}

export interface RatingServerComponents {
  /** Reads the list's events. */
  client: ReadClient;
}

/** What one inference pass did. */
export interface InferenceOutcome {
  /** The time of the pass (ms): verdicts are as of then. */
  at: number;
  durationMs: number;
  /** Every verdict inferred, peers as strings. */
  verdicts: InferredVerdict[];
  /** The snapshot served after the pass. */
  snapshot: VerdictSnapshot;
  /** Whether the pass signed a new snapshot. */
  issued: boolean;
  /** Sightings the inference weighed, left out (no edge, self, future, duplicate), or set aside as no longer listed. */
  sightings: { counted: number; ignored: number; unlisted: number };
}

export interface RatingServerEvents {
  /** A new snapshot was signed and stored; nodes get it on their next poll. */
  snapshot: CustomEvent<VerdictSnapshot>;
  /** An inference pass finished. */
  inference: CustomEvent<InferenceOutcome>;
}

/** A verdict as the HTTP API shows it: the peer as a string. */
export type VerdictView = InferredVerdict;

/** `GET /verdicts`: the snapshot nodes are served. */
export interface VerdictsView {
  server: string;
  seq: number;
  issuedAt: number;
  verdicts: VerdictView[];
}

/** `GET /status`. */
export interface RatingServerStatus {
  peerId: string;
  addresses: string[];
  http: string;
  list: {
    address: Address;
    chainId: number;
    version: string;
    count: number;
    /** When the version took effect, ms since the epoch (chain time). */
    publishedAt: number;
    payloadCid?: string;
  };
  verdicts: { seq: number; issuedAt: number } & Record<Rating, number>;
  inference?: { at: number; durationMs: number } & InferenceOutcome['sightings'];
  topology: { peers: number; edges: number; reporters: number };
  store: ServerStoreStats;
  connections: number;
}

/** A peer on the map, for the dashboard. */
export interface TopologyNode {
  peer: string;
  /** Whether it reports to this server (a report within the reporter age). */
  reporting: boolean;
  lastReport?: number;
  /** Current neighbours. */
  degree: number;
  rating?: Rating;
  score?: number;
}

/** `GET /topology`. */
export interface TopologyView {
  at: number;
  nodes: TopologyNode[];
  edges: { a: string; b: string; firstSeen: number; lastSeen: number; live: boolean }[];
}

/** `GET /hints/<peer>`. */
export interface HintsView {
  peer: string;
  hints: TopologyHint[];
}

/** The server was stopped; it does not start again (create a new one on the same data dir). */
export class RatingServerStoppedError extends Error {
  override name = 'RatingServerStoppedError';
}

export { HttpApiError, HttpListenError } from '../utils/http-api.js';

/**
 * A running rating server: one libp2p host with a persistent key (the one the
 * registry lists) that receives reports (`/nrp/report/1.0.0`), serves signed
 * verdicts (`/nrp/ratings/1.0.0`) and, over bitswap, every version of its
 * list it synced; an inference pass every `inferenceIntervalMs` that turns
 * the stored evidence into verdicts and signs a new snapshot when they
 * change; and a read-only HTTP API on 127.0.0.1 for operators and the
 * dashboard. Create it with {@link createRatingServer}.
 */
export class RatingServer extends TypedEventEmitter<RatingServerEvents> {
  readonly helia: NrpHelia;
  readonly store: ServerStore;
  /** The list this server enforces, as synced. */
  readonly list: ListSync;
  readonly intake: ReportIntake;
  /** Prometheus metrics, served at `GET /metrics`. */
  readonly metrics: ServerMetrics;
  /** Tip-offs: the tip protocol, and the operator's queue. */
  readonly tips: TipDesk;
  /** The payloads of versions proposed for the list, kept while the vote runs; undefined without a `governor`. */
  readonly proposals?: ProposedPayloads;
  readonly peerId: string;
  readonly #init: RatingServerInit;
  readonly #client: ReadClient;
  readonly #feed: EvidenceFeed;
  readonly #issuer: VerdictIssuer;
  readonly #effective = new EntryEffectiveTimes();
  readonly #loop = new PollingLoop();
  #inferring: Promise<unknown> = Promise.resolve();
  #last?: { outcome: InferenceOutcome; hints: HintIndex };
  /** The served snapshot's verdicts by peer string, computed once per snapshot. */
  #views?: { snapshot: VerdictSnapshot; byPeer: Map<string, VerdictView> };
  #http?: HttpApi;
  readonly #cleanups: (() => Promise<unknown> | unknown)[] = [];
  #stopped = false;

  /** Use {@link createRatingServer}. */
  constructor(
    init: RatingServerInit,
    components: RatingServerComponents & { helia: NrpHelia; store: ServerStore; privateKey: PrivateKey },
  ) {
    super();
    this.#init = init;
    this.#client = components.client;
    this.helia = components.helia;
    this.store = components.store;
    this.peerId = components.helia.libp2p.peerId.toString();
    const { helia } = components;
    this.list = new ListSync(
      {
        ...init.sync,
        list: init.list,
        chainId: init.chainId,
        fromBlock: init.fromBlock,
        checkpointPath: join(init.dataDir, 'sync', `${init.chainId}-${init.list.toLowerCase()}.json`),
      },
      { client: components.client, blockstore: helia.blockstore, pin: (cid, o) => pinVersionBlock(helia, cid, o) },
    );
    this.intake = new ReportIntake(
      { libp2p: helia.libp2p, store: this.store, isListed: listedIn(this.list) },
      init.intake,
    );
    this.tips = new TipDesk({ libp2p: helia.libp2p, store: this.store }, init.tips);
    if (init.governor) {
      this.proposals = new ProposedPayloads(
        {
          ...init.proposals,
          governor: init.governor,
          list: init.list,
          fromBlock: init.fromBlock,
          confirmations: init.sync?.confirmations,
          maxBlockRange: init.sync?.maxBlockRange,
        },
        { client: components.client, keep: (cid, options) => this.keepPayload(cid, options) },
      );
    }
    this.metrics = new ServerMetrics({ intake: this.intake, store: this.store, server: this });
    this.#feed = new EvidenceFeed({ store: this.store }, init.topology);
    this.#issuer = new VerdictIssuer({ store: this.store, privateKey: components.privateKey }, init.verdicts);
  }

  /** Where the HTTP API answers, e.g. `http://127.0.0.1:8080`. */
  get httpUrl(): string {
    return this.#http?.url ?? '';
  }

  /** The multiaddrs nodes reach this server at, each ending in `/p2p/<peer id>`: what to register. */
  getMultiaddrs(): string[] {
    return this.helia.libp2p.getMultiaddrs().map(String);
  }

  /** The chain client the server reads the list (and the registry) through. */
  get client(): ReadClient {
    return this.#client;
  }

  /** The rating-server registry, if configured. */
  get registry(): Address | undefined {
    return this.#init.registry;
  }

  /** The Governor whose proposed versions this server keeps, if configured. */
  get governor(): Address | undefined {
    return this.#init.governor;
  }

  /** The snapshot nodes are served now. */
  get snapshot(): VerdictSnapshot | undefined {
    return this.#issuer.current;
  }

  /** The last inference pass, if any. */
  get lastInference(): InferenceOutcome | undefined {
    return this.#last?.outcome;
  }

  /**
   * When the entry took effect (ms, chain time): the publication of the first version, in the unbroken run up
   * to the one in force, that lists it. Undefined for an entry the version in force does not list.
   */
  effectiveAt(entryId: Uint8Array, cid?: CID | string): number | undefined {
    return this.#effective.effectiveAt(entryId, cid);
  }

  /** Starts everything in order; on failure stops what it started and throws. Called by {@link createRatingServer}. */
  async start(): Promise<void> {
    const { signal } = this.#init;
    try {
      // The list first: a report arriving before it would have its sightings refused as unlisted.
      this.list.addEventListener('version', this.#onVersion);
      this.#cleanups.push(() => this.list.removeEventListener('version', this.#onVersion));
      this.#cleanups.push(() => this.list.stop());
      // Other servers of the list pin its versions: connected first, the first sync can fetch from them.
      if (this.#init.registry) {
        await connectListPeers(
          this.helia,
          this.#client,
          { registry: this.#init.registry, list: this.#init.list },
          { signal },
        );
      }
      // The loops get no signal: it aborts the start, not a running server (that is what stop is for).
      await this.list.start();
      signal?.throwIfAborted();
      await this.#backdate({ signal }).catch((error) => log.error('could not date older list versions: %e', error));
      this.#issuer.load();
      await this.#loop.start((loopSignal) => this.infer({ signal: loopSignal }), {
        intervalMs: this.#init.inferenceIntervalMs ?? DEFAULT_INFERENCE_INTERVAL_MS,
        onError: (error) => log.error('inference failed: %e', error),
      });
      // Reversed on stop: the loop first, then a pass started by hand.
      this.#cleanups.push(
        () => this.#inferring,
        () => this.#loop.stop(),
      );
      signal?.throwIfAborted();
      await serveRatings(this.helia.libp2p, this.#issuer.source, this.#init.ratings);
      this.#cleanups.push(() => this.helia.libp2p.unhandle(RATINGS_PROTOCOL));
      await this.intake.start();
      this.#cleanups.push(() => this.intake.stop());
      await this.tips.start();
      this.#cleanups.push(() => this.tips.stop());
      const { proposals } = this;
      if (proposals) {
        // Not awaited: a proposer offline now must not hold the start up for a fetch timeout.
        void proposals.start();
        this.#cleanups.push(() => proposals.stop());
      }
      const token = randomBytes(24).toString('hex');
      const routes = [
        ...readOnlyRoutes(this),
        ...apiRoutes(this),
        ...dashboardRoutes(this),
        ...tipRoutes(this.tips),
        ...payloadRoutes(this),
        ...metricsRoutes(this.metrics),
      ];
      this.#http = await startHttpApi([...routes, ...(this.#init.routes?.(this) ?? [])], {
        port: this.#init.httpPort ?? 0,
        token,
      });
      const http = this.#http;
      this.#cleanups.push(() => http.close());
      const endpointFile = serverEndpointFile(this.#init.dataDir);
      await writeJsonFile(endpointFile, {
        url: http.url,
        token,
        peerId: this.peerId,
        pid: process.pid,
      } satisfies ServerEndpoint);
      await chmod(endpointFile, 0o600);
      signal?.throwIfAborted();
    } catch (error) {
      await this.stop();
      throw error;
    }
    log('rating server %s on %s, HTTP %s', this.peerId, this.getMultiaddrs().join(', '), this.httpUrl);
  }

  /**
   * Stops the HTTP API, the inference loop (waiting for a pass under way), the intake (waiting for reports
   * being stored), the ratings protocol and the list sync, then the libp2p host, and closes the store.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.error('error while stopping: %e', error);
      }
    }
    await this.helia.stop().catch((error: Error) => log.error('could not stop libp2p: %e', error));
    this.store.close();
    log('stopped');
  }

  /**
   * Runs one inference pass now (the loop runs one every `inferenceIntervalMs`): reads new evidence from the
   * store, infers every peer's verdict, and signs a new snapshot if they changed. Passes run one at a time.
   *
   * @example
   * const { snapshot, issued } = await server.infer();
   */
  infer(options: AbortOptions = {}): Promise<InferenceOutcome> {
    if (this.#stopped) return Promise.reject(new RatingServerStoppedError('The rating server is stopped'));
    const run = this.#inferring.then(() => this.#infer(options));
    this.#inferring = run.catch(() => {});
    return run;
  }

  async #infer(options: AbortOptions): Promise<InferenceOutcome> {
    options.signal?.throwIfAborted();
    const at = Date.now();
    const { result, weighed, unlisted } = inferFromFeed(this.#feed, this.#effective, {
      ...this.#init.inference,
      now: at,
    });
    const verdicts: Verdict[] = [];
    for (const verdict of result.verdicts) {
      try {
        verdicts.push(toProtocolVerdict(verdict));
      } catch {
        log.error('cannot rate %s: not an Ed25519 peer id', verdict.peer);
      }
    }
    const issued = await this.#issuer.issue(verdicts, { now: at });
    if (issued) this.store.pruneVerdictSnapshots(this.#init.keepVerdictSnapshots ?? DEFAULT_KEEP_VERDICT_SNAPSHOTS);
    const snapshot = this.#issuer.current as VerdictSnapshot;
    const outcome: InferenceOutcome = {
      at,
      durationMs: Date.now() - at,
      verdicts: result.verdicts,
      snapshot,
      issued: issued !== undefined,
      sightings: { counted: weighed - result.ignored.length, ignored: result.ignored.length, unlisted },
    };
    this.#last = { outcome, hints: new HintIndex(this.#feed.topology, result.verdicts, at) };
    if (issued) this.safeDispatchEvent('snapshot', { detail: issued });
    this.safeDispatchEvent('inference', { detail: outcome });
    return outcome;
  }

  // ─── Views (the HTTP API) ──────────────────────────────────────────────────────────────────────────────────

  /** The served snapshot with peers as strings, optionally only the verdict on `peer`. */
  verdicts(options: { peer?: string } = {}): VerdictsView {
    const snapshot = this.#snapshotOrThrow();
    const byPeer = this.#byPeer(snapshot);
    const verdicts =
      options.peer === undefined ? [...byPeer.values()] : [byPeer.get(parsePeer(options.peer))].filter(isDefined);
    return { server: this.peerId, seq: snapshot.seq, issuedAt: snapshot.issuedAt, verdicts };
  }

  status(): RatingServerStatus {
    const snapshot = this.#snapshotOrThrow();
    const counts: Record<Rating, number> = { white: 0, gray: 0, black: 0 };
    for (const verdict of snapshot.verdicts) counts[verdict.rating]++;
    const current = this.list.current;
    const last = this.#last?.outcome;
    const topology = this.#feed.topology;
    return {
      peerId: this.peerId,
      addresses: this.getMultiaddrs(),
      http: this.httpUrl,
      list: {
        address: this.#init.list,
        chainId: this.#init.chainId,
        version: current.version.toString(),
        count: current.count,
        publishedAt: current.publishedAt * 1000,
        ...(current.payloadCid && { payloadCid: current.payloadCid.toString() }),
      },
      verdicts: { seq: snapshot.seq, issuedAt: snapshot.issuedAt, ...counts },
      ...(last && { inference: { at: last.at, durationMs: last.durationMs, ...last.sightings } }),
      topology: {
        peers: topology.peerCount,
        edges: topology.edgeCount,
        reporters: topology.connected(Date.now()).length,
      },
      store: this.store.stats(),
      connections: this.helia.libp2p.getConnections().length,
    };
  }

  /** Every peer on the map with its rating and whether it reports, and every remembered edge. */
  topology(): TopologyView {
    const at = Date.now();
    const map = this.#feed.topology;
    const byPeer = this.#byPeer(this.#snapshotOrThrow());
    const peers = new Set<string>();
    const edges = map.edges().map((edge) => {
      peers.add(edge.a).add(edge.b);
      return { ...edge, live: map.isLive(edge.a, edge.b, at) };
    });
    for (const { peer } of map.connected(at)) peers.add(peer);
    const nodes = [...peers].sort().map((peer): TopologyNode => {
      const verdict = byPeer.get(peer);
      const lastReport = map.lastReport(peer);
      return {
        peer,
        reporting: map.isConnected(peer, at),
        ...(lastReport !== undefined && { lastReport }),
        degree: map.degree(peer, at),
        ...(verdict && { rating: verdict.rating, score: verdict.score }),
      };
    });
    return { at, nodes, edges };
  }

  /** Up to `limit` well-rated, well-connected peers for `peer` to connect to, as of the last inference pass. */
  hints(peer: string, limit = DEFAULT_HINT_LIMIT): HintsView {
    const id = parsePeer(peer);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HINT_LIMIT) {
      throw new HttpApiError(`limit must be a whole number from 1 to ${MAX_HINT_LIMIT}`);
    }
    return { peer: id, hints: this.#last?.hints.hintsFor(id, limit) ?? [] };
  }

  /**
   * Keeps a proposed version's payload: fetches it whole (header, id chunks, metadata) from the connected peers,
   * typically the proposer's `nrp server propose`, and pins it as a synced version is pinned. Voters can then
   * inspect the proposal, and nodes sync the version once it passes, from this server. A payload for another
   * list or chain, or one that does not match the version `proposed` (a proposal's root, count and version), is
   * refused with a {@link PayloadError}.
   */
  async keepPayload(cid: CID, options: AbortOptions & { proposed?: OnChainVersion } = {}): Promise<PayloadHeader> {
    const { list, chainId } = this.#init;
    const { header } = await decodePayload(this.helia.blockstore, cid, {
      metadata: true,
      expected: options.proposed ? expectedOnChain(options.proposed, { list, chainId }) : { list, chainId },
      signal: options.signal,
    });
    for (const block of [cid, ...header.chunks]) await pinVersionBlock(this.helia, block, options);
    log('kept proposed payload %c (version %d of %s)', cid, header.version, list);
    return header;
  }

  #snapshotOrThrow(): VerdictSnapshot {
    const snapshot = this.#issuer.current;
    if (!snapshot) throw new HttpApiError('This server has no verdict snapshot yet', 503);
    return snapshot;
  }

  #byPeer(snapshot: VerdictSnapshot): Map<string, VerdictView> {
    if (this.#views?.snapshot !== snapshot) {
      const byPeer = new Map(
        snapshot.verdicts.map((verdict): [string, VerdictView] => {
          const peer = peerIdToString(verdict.peer);
          return [peer, { ...verdict, peer }];
        }),
      );
      this.#views = { snapshot, byPeer };
    }
    return this.#views.byPeer;
  }

  // ─── The list ──────────────────────────────────────────────────────────────────────────────────────────────

  readonly #onVersion = ({ detail }: CustomEvent<VersionEvent>) => {
    const { synced, reason } = detail;
    const { added, removed } = this.#effective.update(synced.index.ids, synced.publishedAt * 1000, {
      doubleHashes: synced.index.doubleHashes,
    });
    log('list version %d (%s): %d entries, %d new, %d dropped', synced.version, reason, synced.count, added, removed);
  };

  /**
   * Dates entries listed before the version in force from the earliest version that lists them without a
   * break, reading older versions only from the local blockstore: the server pinned each one it synced, so
   * after a restart every entry keeps the time it first took effect.
   */
  async #backdate(options: AbortOptions) {
    const current = this.list.current;
    if (current.version <= 1n) return;
    const { list, chainId, fromBlock } = this.#init;
    const logs = await getVersionPublishedLogs(this.#client, {
      list,
      fromBlock,
      maxBlockRange: this.#init.sync?.maxBlockRange,
    });
    const byVersion = new Map(logs.map((published) => [published.version, published]));
    const local = localBlocks(this.helia);
    const backdate = this.#effective.backdater();
    for (let version = current.version - 1n; version >= 1n; version--) {
      const published = byVersion.get(version);
      if (!published?.payloadCid) return;
      let ids: Uint8Array;
      try {
        ({ ids } = await decodePayload(local, published.payloadCid, {
          signal: options.signal,
          expected: expectedOnChain({ ...published, version }, { chainId, list }),
        }));
      } catch (error) {
        log('version %d is not here (%s): entries date from version %d at the earliest', version, error, version + 1n);
        return;
      }
      if (!backdate(ids, published.publishedAt * 1000)) return;
    }
  }
}

/**
 * Creates and starts a rating server on `init.dataDir`: its key (`ipfs/peer.key`, created on first start),
 * its store, its libp2p host on `init.listen`, the list sync, the intake, the ratings protocol, the first
 * inference pass and the HTTP API on 127.0.0.1. A restart on the same data dir keeps the peer id, the
 * reports and the verdict sequence.
 *
 * @example
 * const server = await createRatingServer(
 *   { dataDir, listen: ['/ip4/0.0.0.0/tcp/4010'], list, chainId, fromBlock, httpPort: 8080 },
 *   { client: publicClient },
 * );
 * console.info(server.peerId, server.getMultiaddrs(), server.httpUrl);
 * process.once('SIGINT', () => server.stop());
 */
export async function createRatingServer(
  init: RatingServerInit,
  components: RatingServerComponents,
): Promise<RatingServer> {
  const { signal } = init;
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 });
  const ipfsDir = join(init.dataDir, 'ipfs');
  const privateKey = await loadOrCreatePrivateKey(join(ipfsDir, 'peer.key'), { signal });
  const store = ServerStore.open(join(init.dataDir, 'server.db'));
  let helia: NrpHelia;
  try {
    helia = await createNrpHelia({
      dataDir: ipfsDir,
      privateKey,
      listen: init.listen ?? DEFAULT_LISTEN,
      bootstrap: init.bootstrap,
      signal,
      libp2p: {
        ...(init.announce?.length && { addresses: { announce: [...init.announce] } }),
        connectionManager: {
          maxConnections: DEFAULT_SERVER_MAX_CONNECTIONS,
          inboundConnectionThreshold: 1_000,
          maxIncomingPendingConnections: 256,
          ...init.connectionManager,
        },
        connectionMonitor: { pingInterval: init.pingIntervalMs ?? DEFAULT_SERVER_PING_INTERVAL_MS },
      },
    });
  } catch (error) {
    store.close();
    throw error;
  }
  let server: RatingServer;
  try {
    server = new RatingServer(init, { ...components, helia, store, privateKey });
  } catch (error) {
    // Nothing of the server runs yet, but the host and the store are open.
    await helia.stop().catch(() => {});
    store.close();
    throw error;
  }
  init.onList?.(server.list);
  if (server.proposals) init.onProposals?.(server.proposals);
  await server.start();
  return server;
}

// ─── Blocks ──────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Pins one block of a synced version. The sync pins the header and the id chunks; a header's metadata blocks
 * are pinned too, so proposers and voters can fetch them from the server. Not `pinRoot` with infinite depth:
 * that would follow the header's `parent` link through every earlier version (and, for a fork, into the
 * parent list). Metadata that cannot be fetched is only logged: the version is verified and in force.
 */
async function pinVersionBlock(helia: NrpHelia, cid: CID, options: AbortOptions) {
  await pinRoot(helia, cid, { depth: 0, signal: options.signal });
  const metadata = await payloadMetadataOf(helia, cid);
  for (const block of metadata) {
    await pinRoot(helia, block, { depth: 0, signal: options.signal }).catch((error: Error) => {
      log('could not pin metadata block %c of %c: %s', block, cid, error.message);
    });
  }
}

/** The metadata blocks a local payload header links to; none for any other block. */
async function payloadMetadataOf(helia: NrpHelia, cid: CID): Promise<CID[]> {
  if (cid.code !== dagCbor.code) return [];
  const value = dagCbor.decode(await readBlock(localBlocks(helia), cid)) as { format?: unknown; metadata?: unknown };
  if (value?.format !== PAYLOAD_FORMAT || !Array.isArray(value.metadata)) return [];
  return value.metadata.map((link) => CID.asCID(link)).filter(isDefined);
}

/** A block source that never waits on the network: a block that is not local is an error. */
function localBlocks(helia: NrpHelia): BlockSource {
  return {
    async *get(cid, options) {
      if (!(await helia.blockstore.has(cid, options))) throw new BlockNotLocalError(`Block ${cid} is not stored here`);
      yield* helia.blockstore.get(cid, options);
    },
  };
}

class BlockNotLocalError extends Error {
  override name = 'BlockNotLocalError';
}

// ─── HTTP API ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The read-only routes of the HTTP API: `GET /verdicts[?peer=]`, `GET /status`, `GET /topology` and
 * `GET /hints/<peer>[?limit=]`, all JSON.
 */
function readOnlyRoutes(server: RatingServer): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/verdicts',
      query: ['peer'],
      handle: ({ query }) => server.verdicts({ peer: query.get('peer') ?? undefined }),
    },
    { method: 'GET', path: '/status', handle: () => server.status() },
    { method: 'GET', path: '/topology', handle: () => server.topology() },
    {
      method: 'GET',
      path: /^\/hints\/(.+)$/,
      query: ['limit'],
      handle: ({ params, query }) => {
        const limit = query.get('limit');
        if (limit !== null && !/^\d{1,6}$/.test(limit))
          throw new HttpApiError(`limit must be a whole number, not ${limit}`);
        return server.hints(params[0] as string, limit === null ? undefined : Number(limit));
      },
    },
  ];
}

/** How long `POST /payloads` waits for the proposer's node to send the payload. */
const KEEP_PAYLOAD_TIMEOUT_MS = 60_000;

/** `GET /proposals`: the versions proposed for the list whose votes still run, and whether this server keeps them. */
export interface ProposedPayloadsView {
  /** The Governor followed; null if the server follows none (no `governor` configured). */
  governor: Address | null;
  proposals: {
    proposalId: string;
    call: number;
    cid: string;
    version: string;
    count: number;
    status: ProposedPayloadStatus;
    attempts: number;
    error?: string;
    createdBlock: string;
  }[];
}

/**
 * `GET /proposals` ({@link ProposedPayloadsView}), and `POST /payloads` (operator) with `{ cid }`: keeps a proposed
 * payload ({@link RatingServer.keepPayload}) and answers with its list, version and count; 400 for a bad CID or a
 * payload that is not one of this list's, 504 when no connected peer sent it in time.
 */
function payloadRoutes(server: RatingServer): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/proposals',
      handle: (): ProposedPayloadsView => ({
        governor: server.governor ?? null,
        proposals: (server.proposals?.payloads ?? []).map((payload) => ({
          proposalId: payload.proposalId.toString(),
          call: payload.call,
          cid: payload.cid.toString(),
          version: payload.proposed.version.toString(),
          count: payload.proposed.count,
          status: payload.status,
          attempts: payload.attempts,
          ...(payload.error !== undefined && { error: payload.error }),
          createdBlock: payload.created.blockNumber.toString(),
        })),
      }),
    },
    {
      method: 'POST',
      path: '/payloads',
      auth: true,
      handle: async (request) => {
        const body = (await request.json()) as { cid?: unknown } | null;
        let cid: CID;
        try {
          cid = CID.parse(String(body?.cid));
        } catch {
          throw new HttpApiError(`"${body?.cid}" is not a CID`);
        }
        try {
          const header = await server.keepPayload(cid, { signal: AbortSignal.timeout(KEEP_PAYLOAD_TIMEOUT_MS) });
          return { cid: cid.toString(), list: header.list, version: header.version, count: header.count };
        } catch (error) {
          if (error instanceof PayloadError) throw new HttpApiError(`${error.name}: ${error.message}`);
          if (isBlockUnavailable(error)) {
            throw new HttpApiError(`No connected peer sent the payload ${cid} in time`, 504);
          }
          throw error;
        }
      },
    },
  ];
}

/** The canonical string form of an Ed25519 peer id; {@link HttpApiError} (400) for anything else. */
function parsePeer(text: string): string {
  try {
    return peerIdToString(toPeerIdBytes(text));
  } catch {
    throw new HttpApiError(`"${text}" is not an Ed25519 libp2p peer id`);
  }
}

function isDefined<T>(value: T | undefined | null): value is T {
  return value !== undefined && value !== null;
}
