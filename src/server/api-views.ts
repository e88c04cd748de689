import type { AbortOptions } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { type Address, bytesToHex, type Hex } from 'viem';
import { getServers, SERVER_STATUSES, type ServerStatus } from '../chain/registry.js';
import { entryIdToHex } from '../lists/entry-id.js';
import { decodeAdvert } from '../node/protocol/advert.js';
import { peerIdToString, toPeerIdBytes } from '../node/protocol/peer.js';
import { HttpApiError, type HttpRoute } from '../utils/http-api.js';
import type { RatingServer } from './server.js';
import type { ReportSummary } from './store.js';

const log = logger('nrp:server:api');

/** Rows a page of `/reports`, `/list` or `/registry` holds unless `limit` says otherwise. */
export const DEFAULT_PAGE_LIMIT = 50;

/** Most rows one page holds. */
export const MAX_PAGE_LIMIT = 500;

/** How long `GET /registry` answers from what it last read, so a dashboard's refreshes do not hammer the RPC. */
export const REGISTRY_CACHE_MS = 15_000;

/** A page of a list that grows: `next`, when present, is the `before` that reads the following page. */
export interface Page {
  next?: string;
}

/** `GET /reports`: the newest reports first, without their signed bytes. */
export interface ReportsView extends Page {
  reports: ReportSummary[];
}

/** One piece of evidence a verdict cites: a sighting, with the accused peer's own signed advert. */
export interface SightingEvidenceView {
  /** The reference as the verdict cites it, `sighting:<id>`. */
  ref: string;
  kind: 'sighting';
  id: number;
  /** The node that reported it… */
  reporter: string;
  /** …that this neighbour offered it the content. */
  fromPeer: string;
  cid: string;
  /** The listed entry, `0x…`. */
  entryId: Hex;
  /** The advert's time, as `fromPeer` signed it (ms). */
  advertTime: number;
  /** `fromPeer`'s Ed25519 signature over the advert, hex. */
  advertSignature: Hex;
  /** The signed advert as stored (dag-cbor), hex: anyone can check it against `fromPeer`'s key. */
  advert: Hex;
  /** The report that carried it, if still stored. */
  report?: { id: number; seq: number; time: number; receivedAt: number };
}

/** A reference a verdict cites that this server cannot resolve (not a sighting, or no longer stored). */
export interface UnresolvedEvidenceView {
  ref: string;
  kind: 'unknown' | 'missing';
}

export type EvidenceView = SightingEvidenceView | UnresolvedEvidenceView;

/** `GET /evidence?peer=`: the served verdict on a peer, with every evidence reference resolved. */
export interface VerdictEvidenceView {
  peer: string;
  rating: string;
  score: number;
  reason: string;
  expiresAt: number;
  evidence: EvidenceView[];
}

export type ListVersionStatus = 'in-force' | 'superseded' | 'pending' | 'skipped';

/** One version of the list, as this server read it from the chain. */
export interface ListVersionView {
  version: string;
  count: number;
  added: number;
  removed: number;
  /** When it took effect, ms since the epoch (chain time). */
  publishedAt: number;
  /** Null when what the chain holds is not a CID. */
  payloadCid: string | null;
  root: Hex;
  blockNumber: string;
  transactionHash: Hex;
  /**
   * `in-force`: the version the server enforces; `superseded`: an older one; `pending`: newer, its payload not
   * fetched yet; `skipped`: its payload can never match the chain.
   */
  status: ListVersionStatus;
  /** Whether the payload's header block is in this server's blockstore (it pins every version it synced). */
  stored: boolean;
}

/** `GET /list`: the versions of the enforced list, newest first. */
export interface ListView extends Page {
  address: Address;
  /** The version in force, "0" before any. */
  current: string;
  versions: ListVersionView[];
}

/** A rating server's registration, as `GET /registry` shows it. */
export interface RegistryServerView {
  serverId: string;
  operator: Address;
  status: ServerStatus;
  /** ms since the epoch (chain time). */
  registeredAt: number;
  updatedAt: number;
  list: Address;
  /** The peer id, `12D3Koo…` for an Ed25519 key. */
  peerId: string;
  policyCid: string;
  multiaddrs: string[];
  /** Whether it is this server. */
  self: boolean;
}

/** `GET /registry`: the registry's servers by id. */
export interface RegistryView extends Page {
  /** Null when the server was started without a registry address. */
  registry: Address | null;
  servers: RegistryServerView[];
  /** When the registry was read (ms); answers are cached for {@link REGISTRY_CACHE_MS}. */
  readAt?: number;
  /** Why the list is empty, when the server cannot read a registry. */
  note?: string;
}

/**
 * The JSON routes the dashboard's tables need, beside the read-only ones in `server.ts`: `GET /reports`,
 * `GET /evidence/<ref>`, `GET /evidence?peer=`, `GET /list` and `GET /registry`. All read-only; the schema is in
 * `docs/rating-server-api.md`.
 *
 * @example
 * startHttpApi([...readOnlyRoutes(server), ...apiRoutes(server)], { token });
 */
export function apiRoutes(server: RatingServer): HttpRoute[] {
  const registry = new RegistryReader(server);
  return [
    {
      method: 'GET',
      path: '/reports',
      query: ['limit', 'before', 'reporter'],
      handle: ({ query }) => reportsView(server, query),
    },
    {
      method: 'GET',
      path: '/evidence',
      query: ['peer'],
      handle: ({ query }) => {
        const peer = query.get('peer');
        if (peer === null) throw new HttpApiError('give the peer whose evidence to show: /evidence?peer=<peer id>');
        return verdictEvidenceView(server, peer);
      },
    },
    {
      method: 'GET',
      path: /^\/evidence\/(.+)$/,
      handle: ({ params }) => evidenceView(server, params[0] as string),
    },
    {
      method: 'GET',
      path: '/list',
      query: ['limit', 'before'],
      handle: ({ query }) => listView(server, query),
    },
    {
      method: 'GET',
      path: '/registry',
      query: ['limit', 'before', 'status'],
      handle: ({ query }) => registry.view(query),
    },
  ];
}

// ─── Reports ─────────────────────────────────────────────────────────────────────────────────────────────────

function reportsView(server: RatingServer, query: URLSearchParams): ReportsView {
  const { limit, before } = pageQuery(query);
  const reporter = query.get('reporter');
  const rows = server.store.recentReports({
    limit: limit + 1,
    before: before === undefined ? undefined : Number(before),
    reporter: reporter === null ? undefined : parsePeer(reporter),
  });
  const reports = rows.slice(0, limit);
  const last = reports.at(-1);
  return { reports, ...(rows.length > limit && last && { next: String(last.id) }) };
}

// ─── Evidence ────────────────────────────────────────────────────────────────────────────────────────────────

const SIGHTING_REF = /^(?:sighting:)?(\d{1,15})$/;

/** The evidence `ref` names: `sighting:<id>` (or the bare id). 400 for anything else, 404 if not stored. */
function evidenceView(server: RatingServer, ref: string): SightingEvidenceView {
  const found = SIGHTING_REF.exec(ref);
  if (!found) throw new HttpApiError(`"${ref}" is not an evidence reference: they look like sighting:12`);
  const view = sightingView(server, Number(found[1]));
  if (!view) throw new HttpApiError(`no sighting ${found[1]} is stored here`, 404);
  return view;
}

function verdictEvidenceView(server: RatingServer, peer: string): VerdictEvidenceView {
  const [verdict] = server.verdicts({ peer }).verdicts;
  if (!verdict) throw new HttpApiError(`this server has no verdict on ${peer}`, 404);
  const evidence = verdict.evidence.map((ref): EvidenceView => {
    const found = SIGHTING_REF.exec(ref);
    if (!found || !ref.startsWith('sighting:')) return { ref, kind: 'unknown' };
    return sightingView(server, Number(found[1])) ?? { ref, kind: 'missing' };
  });
  const { rating, score, reason, expiresAt } = verdict;
  return { peer: verdict.peer, rating, score, reason, expiresAt, evidence };
}

function sightingView(server: RatingServer, id: number): SightingEvidenceView | undefined {
  const sighting = server.store.sighting(id);
  if (!sighting) return undefined;
  let advertSignature: Hex = '0x';
  try {
    advertSignature = bytesToHex(decodeAdvert(sighting.advert).signature);
  } catch (error) {
    // Verified when it arrived; a stored advert that no longer decodes is still shown, without its signature.
    log.error('stored advert of sighting %d does not decode: %e', id, error);
  }
  const report = server.store.reportSummary(sighting.reportId);
  return {
    ref: `sighting:${id}`,
    kind: 'sighting',
    id,
    reporter: sighting.reporter,
    fromPeer: sighting.fromPeer,
    cid: sighting.cid,
    entryId: entryIdToHex(sighting.entryId) as Hex,
    advertTime: sighting.advertTime,
    advertSignature,
    advert: bytesToHex(sighting.advert),
    ...(report && {
      report: { id: report.id, seq: report.seq, time: report.time, receivedAt: report.receivedAt },
    }),
  };
}

// ─── The list ────────────────────────────────────────────────────────────────────────────────────────────────

async function listView(server: RatingServer, query: URLSearchParams): Promise<ListView> {
  const { limit, before } = pageQuery(query);
  const current = server.list.current;
  const newestFirst = server.list
    .knownVersions()
    .reverse()
    .filter(({ published }) => before === undefined || published.version < BigInt(before));
  const page = newestFirst.slice(0, limit);
  const versions = await Promise.all(
    page.map(async ({ published, skipped }): Promise<ListVersionView> => {
      const cid = published.payloadCid;
      const status: ListVersionStatus = skipped
        ? 'skipped'
        : published.version === current.version
          ? 'in-force'
          : published.version < current.version
            ? 'superseded'
            : 'pending';
      return {
        version: published.version.toString(),
        count: published.count,
        added: published.added,
        removed: published.removed,
        publishedAt: published.publishedAt * 1000,
        payloadCid: cid?.toString() ?? null,
        root: published.root,
        blockNumber: published.blockNumber.toString(),
        transactionHash: published.transactionHash,
        status,
        stored: cid ? await Promise.resolve(server.helia.blockstore.has(cid)).catch(() => false) : false,
      };
    }),
  );
  const last = page.at(-1);
  return {
    address: current.list,
    current: current.version.toString(),
    versions,
    ...(newestFirst.length > limit && last && { next: last.published.version.toString() }),
  };
}

// ─── The registry ────────────────────────────────────────────────────────────────────────────────────────────

/** Reads the registry's servers through the server's chain client, at most once per {@link REGISTRY_CACHE_MS}. */
class RegistryReader {
  readonly #server: RatingServer;
  #cached?: { at: number; servers: Promise<RegistryServerView[]> };

  constructor(server: RatingServer) {
    this.#server = server;
  }

  async view(query: URLSearchParams): Promise<RegistryView> {
    const { limit, before } = pageQuery(query);
    const status = query.get('status');
    if (status !== null && !(SERVER_STATUSES as readonly string[]).includes(status)) {
      throw new HttpApiError(`status must be one of ${SERVER_STATUSES.join(', ')}, not ${status}`);
    }
    const registry = this.#server.registry;
    if (!registry) {
      return {
        registry: null,
        servers: [],
        note: 'This server was started without a registry address (chain.deployment or chain.registry).',
      };
    }
    const { at, servers } = await this.#read(registry);
    const matching = servers
      .filter((s) => status === null || s.status === status)
      .filter((s) => before === undefined || BigInt(s.serverId) < BigInt(before))
      .reverse();
    const page = matching.slice(0, limit);
    const last = page.at(-1);
    return {
      registry,
      servers: page,
      readAt: at,
      ...(matching.length > limit && last && { next: last.serverId }),
    };
  }

  async #read(registry: Address, options: AbortOptions = {}) {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at > REGISTRY_CACHE_MS) {
      const servers = getServers(this.#server.client, { registry, signal: options.signal }).then((found) =>
        found.map((entry): RegistryServerView => {
          const peerId = peerIdToString(entry.peerId);
          return {
            serverId: entry.serverId.toString(),
            operator: entry.operator,
            status: entry.status,
            registeredAt: entry.registeredAt * 1000,
            updatedAt: entry.updatedAt * 1000,
            list: entry.list,
            peerId,
            policyCid: entry.policyCid,
            multiaddrs: entry.multiaddrs,
            self: peerId === this.#server.peerId,
          };
        }),
      );
      this.#cached = { at: now, servers };
      // A failed read is not cached: the next request tries again.
      servers.catch(() => {
        if (this.#cached?.servers === servers) this.#cached = undefined;
      });
    }
    const { at, servers } = this.#cached;
    try {
      return { at, servers: await servers };
    } catch (error) {
      log.error('cannot read the registry %s: %e', registry, error);
      throw new HttpApiError(`cannot read the registry ${registry}: ${(error as Error).message.split('\n')[0]}`, 502);
    }
  }
}

// ─── Query parameters ────────────────────────────────────────────────────────────────────────────────────────

/** `limit` (1 to {@link MAX_PAGE_LIMIT}, default {@link DEFAULT_PAGE_LIMIT}) and `before` (a whole number). */
function pageQuery(query: URLSearchParams): { limit: number; before?: string } {
  const limitText = query.get('limit');
  const before = query.get('before') ?? undefined;
  let limit = DEFAULT_PAGE_LIMIT;
  if (limitText !== null) {
    limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
      throw new HttpApiError(`limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}, not ${limitText}`);
    }
  }
  if (before !== undefined && !/^\d{1,20}$/.test(before)) {
    throw new HttpApiError(`before must be a whole number (a page's "next"), not ${before}`);
  }
  return { limit, before };
}

/** The canonical string form of an Ed25519 peer id; {@link HttpApiError} (400) for anything else. */
function parsePeer(text: string): string {
  try {
    return peerIdToString(toPeerIdBytes(text));
  } catch {
    throw new HttpApiError(`"${text}" is not an Ed25519 libp2p peer id`);
  }
}
