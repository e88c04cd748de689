import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import { CID } from 'multiformats/cid';
import { type Address, type Hex, hexToBytes } from 'viem';
import { InvalidPayloadCidError } from '../chain/errors.js';
import { getVersionPublishedLogs, type VersionPublishedLog } from '../chain/lists.js';
import { LogFollower, type LogFollowerState } from '../chain/log-follower.js';
import type { ReadClient } from '../chain/transactions.js';
import { readJsonFile, writeJsonFile } from '../utils/json-file.js';
import { PollingLoop } from '../utils/polling-loop.js';
import {
  type AbortOptions,
  BlockHashMismatchError,
  type BlockSource,
  isBlockUnavailable,
  UnsupportedHashError,
} from './blocks.js';
import type { EntryId } from './entry-id.js';
import { MembershipIndex } from './membership-index.js';
import { decodePayload, expectedOnChain, PayloadError, type PayloadHeader } from './payload.js';

const log = logger('nrp:lists:sync');

export interface ListSyncInit {
  /** The list contract. */
  list: Address;
  chainId: number;
  /** First block that can hold the list's events: the deployment's `fromBlock`. */
  fromBlock: bigint;
  /** Blocks a version must be buried under before it applies. Default 0, right for a local chain. */
  confirmations?: number;
  /** Milliseconds between polls of the chain once started. Default 2,000. */
  pollIntervalMs?: number;
  /** Milliseconds to wait for a payload before giving up on this attempt. Default 30,000. */
  fetchTimeoutMs?: number;
  /** First delay before retrying a payload that could not be fetched; it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** File to persist progress in, so a restart resumes without reading the chain or IPFS again. */
  checkpointPath?: string;
  /** Most blocks per `eth_getLogs` request. */
  maxBlockRange?: bigint;
}

export interface ListSyncComponents {
  client: ReadClient;
  /** Where payload blocks come from: a Helia blockstore fetches missing ones from peers over bitswap. */
  blockstore: BlockSource;
  /** Keeps a block of every synced version, so this process can serve it to others and restart offline. */
  pin?: (cid: CID, options: AbortOptions & { depth: number }) => Promise<unknown>;
  /**
   * Runs a version's fetch as urgent traffic, ahead of a node's content fetches (`TrafficPriority.urgent`).
   * Default: runs it as is.
   */
  urgent?: <T>(work: () => Promise<T>) => Promise<T>;
}

/** A version in force: what the chain published, and the verified set of its entries. */
export interface SyncedVersion {
  list: Address;
  /** 0 for the empty list before any version. */
  version: bigint;
  root: Hex;
  count: number;
  added: number;
  removed: number;
  publishedAt: number;
  payloadCid?: CID;
  blockNumber?: bigint;
  header?: PayloadHeader;
  index: MembershipIndex;
}

export interface VersionEvent {
  synced: SyncedVersion;
  /** `new`: a newer version; `restored`: loaded from the checkpoint; `rollback`: a reorganisation removed newer ones. */
  reason: 'new' | 'restored' | 'rollback';
}

export interface SyncErrorEvent {
  error: Error;
  version?: bigint;
  payloadCid?: CID;
  /** The payload can never be right (it does not match the chain): the version is skipped. */
  permanent: boolean;
  /** For a failure that may pass, when the next attempt is. */
  retryInMs?: number;
}

export interface ListSyncEvents {
  version: CustomEvent<VersionEvent>;
  error: CustomEvent<SyncErrorEvent>;
}

interface Checkpoint {
  chainId: number;
  list: Address;
  follower: LogFollowerState;
  versions: Omit<VersionPublishedLog, 'payloadCid'>[];
  bad: bigint[];
  applied: bigint;
}

/**
 * Keeps one list in sync: reads its `VersionPublished` events (backfilling
 * from the deployment block, then polling), waits for confirmations, fetches
 * and verifies each new version's payload, and swaps in the new membership
 * index only when it matches the root and count on chain. On any failure the
 * last good version stays in force; fetch failures are retried with backoff,
 * payloads that can never match are skipped. A reorganisation rolls the list
 * back. Progress is checkpointed so a restart resumes from disk.
 *
 * @example
 * const sync = new ListSync(
 *   { list, chainId, fromBlock },
 *   { client: publicClient, blockstore: helia.blockstore, pin: (cid, o) => pinRoot(helia, cid, o) },
 * );
 * sync.addEventListener('version', ({ detail }) => console.log('now at', detail.synced.version));
 * await sync.start();
 * sync.hasCid(cid);
 */
export class ListSync extends TypedEventEmitter<ListSyncEvents> {
  readonly #init: ListSyncInit;
  readonly #components: ListSyncComponents;
  readonly #versions = new Map<bigint, VersionPublishedLog>();
  readonly #bad = new Set<bigint>();
  #follower: LogFollower<VersionPublishedLog>;
  #current: SyncedVersion;
  #failures = 0;
  #notBefore = 0;
  readonly #loop = new PollingLoop();
  #restored = false;

  constructor(init: ListSyncInit, components: ListSyncComponents) {
    super();
    this.#init = init;
    this.#components = components;
    this.#follower = this.#createFollower();
    this.#current = emptyVersion(init.list);
  }

  /** The version in force; version 0 (empty) until one is synced. */
  get current(): SyncedVersion {
    return this.#current;
  }

  /**
   * Every version published on chain that this sync has read (confirmed), oldest first, each with whether it
   * was skipped because its payload can never match the chain.
   */
  knownVersions(): { published: VersionPublishedLog; skipped: boolean }[] {
    return [...this.#versions.values()]
      .sort((x, y) => (x.version < y.version ? -1 : x.version > y.version ? 1 : 0))
      .map((published) => ({ published, skipped: this.#bad.has(published.version) }));
  }

  /** Whether `id` is listed in the version in force. */
  has(id: EntryId): boolean {
    return this.#current.index.has(id);
  }

  /** Whether the content `cid` names is listed in the version in force. */
  hasCid(cid: CID | string): boolean {
    return this.#current.index.hasCid(cid);
  }

  /**
   * Restores the checkpoint, syncs once, then keeps polling until {@link stop}.
   * Resolves after the first sync attempt, whether or not it reached a version.
   */
  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#loop.running) return;
    await this.restore(options);
    await this.#loop.start((signal) => this.syncOnce({ signal }), {
      intervalMs: this.#init.pollIntervalMs ?? 2_000,
      onError: (error) => this.#emitError({ error, permanent: false }),
      signal: options.signal,
    });
  }

  /** Stops polling and waits for the current poll to end. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Loads the checkpoint, if any, and puts its version back in force from the local blockstore. */
  async restore(options: AbortOptions = {}): Promise<void> {
    // Once restored or synced, the state in memory is newer than any checkpoint.
    if (this.#restored) return;
    this.#restored = true;
    const { checkpointPath } = this.#init;
    if (!checkpointPath) return;
    const checkpoint = await readJsonFile<Checkpoint>(checkpointPath);
    if (!checkpoint) return;
    if (checkpoint.chainId !== this.#init.chainId || checkpoint.list.toLowerCase() !== this.#init.list.toLowerCase()) {
      log('checkpoint %s is for another list or chain; starting over', checkpointPath);
      return;
    }
    this.#follower = this.#createFollower(checkpoint.follower);
    for (const version of checkpoint.versions) {
      this.#versions.set(version.version, { ...version, payloadCid: cidOf(version.payloadCidHex) });
    }
    for (const version of checkpoint.bad) this.#bad.add(version);
    const applied = this.#versions.get(checkpoint.applied);
    if (applied) {
      await this.#apply(applied, 'restored', options).catch((error) => {
        log('could not restore version %d: %s', applied.version, error.message);
      });
    }
  }

  /**
   * Reads the chain once and applies the newest good version it knows, if it
   * is not in force yet. Throws only if the chain cannot be read.
   */
  async syncOnce(options: AbortOptions = {}): Promise<SyncedVersion> {
    this.#restored = true;
    const update = await this.#follower.poll({ signal: options.signal });
    if (update.reorgedFrom !== undefined) {
      for (const [version, published] of this.#versions) {
        if (published.blockNumber >= update.reorgedFrom) {
          this.#versions.delete(version);
          this.#bad.delete(version);
        }
      }
      log('reorganisation from block %d', update.reorgedFrom);
    }
    for (const published of update.logs) this.#versions.set(published.version, published);

    while (true) {
      const target = this.#target();
      if (target === undefined) {
        if (this.#current.version !== 0n) this.#swap(emptyVersion(this.#init.list), 'rollback');
        break;
      }
      if (target.version === this.#current.version && target.payloadCidHex === this.#currentCidHex()) break;
      if (Date.now() < this.#notBefore) break;
      const reason = target.version < this.#current.version ? 'rollback' : 'new';
      const applied = await this.#apply(target, reason, options).then(
        () => true,
        (error) => this.#onFetchError(target, error),
      );
      // A permanently bad payload is skipped: try the next newest version at once.
      if (applied || this.#notBefore > Date.now() || options.signal?.aborted) break;
    }
    await this.#saveCheckpoint();
    return this.#current;
  }

  #createFollower(state?: LogFollowerState) {
    const { list, fromBlock, confirmations, maxBlockRange } = this.#init;
    return new LogFollower<VersionPublishedLog>(this.#components.client, {
      fromBlock,
      confirmations,
      state,
      fetchLogs: (range) => getVersionPublishedLogs(this.#components.client, { list, ...range, maxBlockRange }),
    });
  }

  #target(): VersionPublishedLog | undefined {
    let best: VersionPublishedLog | undefined;
    for (const published of this.#versions.values()) {
      if (this.#bad.has(published.version)) continue;
      if (!best || published.version > best.version) best = published;
    }
    return best;
  }

  #currentCidHex(): Hex | undefined {
    return this.#versions.get(this.#current.version)?.payloadCidHex;
  }

  async #apply(published: VersionPublishedLog, reason: VersionEvent['reason'], options: AbortOptions) {
    if (!published.payloadCid) {
      throw new InvalidPayloadCidError(this.#init.list, published.version, published.payloadCidHex);
    }
    const timeout = AbortSignal.timeout(this.#init.fetchTimeoutMs ?? 30_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    log('fetching version %d payload %c', published.version, published.payloadCid);
    const payloadCid = published.payloadCid;
    const fetch = async () => {
      const payload = await decodePayload(this.#components.blockstore, payloadCid, {
        signal,
        expected: expectedOnChain(published, this.#init),
      });
      await this.#pin(payload.cid, payload.header, signal);
      return payload;
    };
    const payload = await (this.#components.urgent ? this.#components.urgent(fetch) : fetch());
    const index = MembershipIndex.fromSortedIds(payload.ids, { doubleHashes: payload.header.doubleHashes });
    this.#failures = 0;
    this.#notBefore = 0;
    this.#swap(
      {
        list: this.#init.list,
        version: published.version,
        root: published.root,
        count: published.count,
        added: published.added,
        removed: published.removed,
        publishedAt: published.publishedAt,
        payloadCid: published.payloadCid,
        blockNumber: published.blockNumber,
        header: payload.header,
        index,
      },
      reason,
    );
  }

  /** Pins the header and the id chunks, not the metadata, which a node never needs. */
  async #pin(cid: CID, header: PayloadHeader, signal: AbortSignal) {
    const { pin } = this.#components;
    if (!pin) return;
    try {
      for (const block of [cid, ...header.chunks]) await pin(block, { depth: 0, signal });
    } catch (error) {
      // The version is verified and in force; a pin failure only means we do not keep a copy.
      this.#emitError({ error: error as Error, payloadCid: cid, permanent: false });
    }
  }

  #swap(synced: SyncedVersion, reason: VersionEvent['reason']) {
    this.#current = synced;
    log('version %d in force (%s, %d entries)', synced.version, reason, synced.count);
    this.safeDispatchEvent('version', { detail: { synced, reason } });
  }

  /** Returns false so the caller stops; records a permanent failure so the next target is tried. */
  #onFetchError(published: VersionPublishedLog, error: Error): boolean {
    const permanent =
      error instanceof PayloadError ||
      error instanceof BlockHashMismatchError ||
      error instanceof UnsupportedHashError ||
      error instanceof InvalidPayloadCidError;
    if (permanent) {
      this.#bad.add(published.version);
      this.#emitError({ error, version: published.version, payloadCid: published.payloadCid ?? undefined, permanent });
      return false;
    }
    this.#failures++;
    const delay = Math.min(
      (this.#init.retryDelayMs ?? 1_000) * 2 ** (this.#failures - 1),
      this.#init.maxRetryDelayMs ?? 60_000,
    );
    this.#notBefore = Date.now() + delay;
    const reason = isBlockUnavailable(error) ? new PayloadUnavailableError(published, error) : error;
    this.#emitError({
      error: reason,
      version: published.version,
      payloadCid: published.payloadCid ?? undefined,
      permanent,
      retryInMs: delay,
    });
    return false;
  }

  #emitError(detail: SyncErrorEvent) {
    log.error('%s', detail.error.message);
    this.safeDispatchEvent('error', { detail });
  }

  async #saveCheckpoint() {
    const { checkpointPath } = this.#init;
    if (!checkpointPath) return;
    const checkpoint: Checkpoint = {
      chainId: this.#init.chainId,
      list: this.#init.list,
      follower: this.#follower.state,
      versions: [...this.#versions.values()].map(({ payloadCid: _, ...rest }) => rest),
      bad: [...this.#bad],
      applied: this.#current.version,
    };
    await writeJsonFile(checkpointPath, checkpoint);
  }
}

/** A payload could not be fetched: it timed out, or no connected peer has it yet. The sync retries later. */
export class PayloadUnavailableError extends Error {
  override name = 'PayloadUnavailableError';
  constructor(published: VersionPublishedLog, cause: Error) {
    super(
      `Could not fetch the payload ${published.payloadCid} of version ${published.version}: ` +
        `no connected peer has it yet (${cause.name}). The last good version stays in force; retrying.`,
      { cause },
    );
  }
}

function emptyVersion(list: Address): SyncedVersion {
  return {
    list,
    version: 0n,
    root: `0x${'00'.repeat(32)}`,
    count: 0,
    added: 0,
    removed: 0,
    publishedAt: 0,
    index: MembershipIndex.empty(),
  };
}

function cidOf(hex: Hex): CID | null {
  try {
    return CID.decode(hexToBytes(hex));
  } catch {
    return null;
  }
}
