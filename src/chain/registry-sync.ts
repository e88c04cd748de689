import { logger } from '@libp2p/logger';
import { TypedEventEmitter } from 'main-event';
import { type Address, bytesToHex, type Hex, hexToBytes } from 'viem';
import { readJsonFile, writeJsonFile } from '../utils/json-file.js';
import { PollingLoop } from '../utils/polling-loop.js';
import { LogFollower, type LogFollowerState } from './log-follower.js';
import { getRegistryLogs, type RatingServer, type RegistryLog } from './registry.js';
import type { ReadClient } from './transactions.js';

const log = logger('nrp:chain:registry-sync');

/** A server as the registry's events describe it. */
export type RegisteredServer = Omit<RatingServer, 'registeredAt' | 'updatedAt'> & {
  registeredBlock: bigint;
  updatedBlock: bigint;
};

export interface RegistrySyncInit {
  registry: Address;
  chainId: number;
  /** First block that can hold the registry's events: the deployment's `fromBlock`. */
  fromBlock: bigint;
  /** Blocks an event must be buried under before it counts. Default 0, right for a local chain. */
  confirmations?: number;
  pollIntervalMs?: number;
  checkpointPath?: string;
  maxBlockRange?: bigint;
}

export interface RegistrySyncEvents {
  /** The set of servers changed; `detail` is every server, by id. */
  change: CustomEvent<ReadonlyMap<bigint, RegisteredServer>>;
  error: CustomEvent<Error>;
}

type StoredLog = Omit<RegistryLog, 'peerId' | 'previousPeerId'> & { peerId?: Hex; previousPeerId?: Hex };

interface Checkpoint {
  chainId: number;
  registry: Address;
  follower: LogFollowerState;
  logs: StoredLog[];
}

/**
 * Keeps the rating-server registry in sync from its events: backfills from
 * the deployment block, then polls, after N confirmations, rolling back on a
 * reorganisation. Nodes use it to trust a verdict only when its key is that
 * of an active server, without a chain call per verdict.
 *
 * @example
 * const registry = new RegistrySync({ registry, chainId, fromBlock }, { client });
 * await registry.start();
 * registry.isActiveKey(peerIdBytes);
 */
export class RegistrySync extends TypedEventEmitter<RegistrySyncEvents> {
  readonly #init: RegistrySyncInit;
  readonly #client: ReadClient;
  #follower: LogFollower<RegistryLog>;
  #logs: RegistryLog[] = [];
  #servers = new Map<bigint, RegisteredServer>();
  readonly #loop = new PollingLoop();
  #restored = false;

  constructor(init: RegistrySyncInit, components: { client: ReadClient }) {
    super();
    this.#init = init;
    this.#client = components.client;
    this.#follower = this.#createFollower();
  }

  /** Every server ever registered, by id. */
  get servers(): ReadonlyMap<bigint, RegisteredServer> {
    return this.#servers;
  }

  /** The live (not removed) server whose peer id is `peerId`, if any. */
  serverByPeerId(peerId: Uint8Array): RegisteredServer | undefined {
    const hex = bytesToHex(peerId);
    for (const server of this.#servers.values()) {
      if (server.status !== 'removed' && bytesToHex(server.peerId) === hex) return server;
    }
    return undefined;
  }

  /** Whether `peerId` is the key of an active server: only such a key's verdicts count. */
  isActiveKey(peerId: Uint8Array): boolean {
    return this.serverByPeerId(peerId)?.status === 'active';
  }

  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#loop.running) return;
    await this.restore();
    await this.#loop.start((signal) => this.syncOnce({ signal }), {
      intervalMs: this.#init.pollIntervalMs ?? 2_000,
      onError: (error) => this.#report(error),
      signal: options.signal,
    });
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Loads the checkpoint, if any. */
  async restore(): Promise<void> {
    // Once restored or synced, the state in memory is newer than any checkpoint.
    if (this.#restored) return;
    this.#restored = true;
    const { checkpointPath } = this.#init;
    const checkpoint = checkpointPath ? await readJsonFile<Checkpoint>(checkpointPath) : undefined;
    if (!checkpoint) return;
    if (checkpoint.chainId !== this.#init.chainId) return;
    if (checkpoint.registry.toLowerCase() !== this.#init.registry.toLowerCase()) return;
    this.#follower = this.#createFollower(checkpoint.follower);
    this.#logs = checkpoint.logs.map(fromStored);
    this.#rebuild();
  }

  /** Reads new events once; returns the servers. */
  async syncOnce(options: { signal?: AbortSignal } = {}): Promise<ReadonlyMap<bigint, RegisteredServer>> {
    this.#restored = true;
    const update = await this.#follower.poll(options);
    const before = this.#logs.length;
    if (update.reorgedFrom !== undefined) {
      const from = update.reorgedFrom;
      this.#logs = this.#logs.filter((l) => l.blockNumber < from);
      log('reorganisation from block %d', from);
    }
    this.#logs.push(...update.logs);
    if (update.logs.length > 0 || this.#logs.length !== before) {
      this.#rebuild();
      this.safeDispatchEvent('change', { detail: this.#servers });
    }
    if (this.#init.checkpointPath) {
      const checkpoint: Checkpoint = {
        chainId: this.#init.chainId,
        registry: this.#init.registry,
        follower: this.#follower.state,
        logs: this.#logs.map(toStored),
      };
      await writeJsonFile(this.#init.checkpointPath, checkpoint);
    }
    return this.#servers;
  }

  #createFollower(state?: LogFollowerState) {
    const { registry, fromBlock, confirmations, maxBlockRange } = this.#init;
    return new LogFollower<RegistryLog>(this.#client, {
      fromBlock,
      confirmations,
      state,
      fetchLogs: (range) => getRegistryLogs(this.#client, { registry, ...range, maxBlockRange }),
    });
  }

  /** Replays every event in order: the registry's state is nothing but its history. */
  #rebuild() {
    const servers = new Map<bigint, RegisteredServer>();
    for (const event of this.#logs) {
      const server = servers.get(event.serverId);
      if (event.eventName === 'ServerRegistered') {
        servers.set(event.serverId, {
          serverId: event.serverId,
          operator: event.operator,
          status: 'applied',
          list: event.list,
          peerId: event.peerId,
          policyCid: event.policyCid,
          multiaddrs: event.multiaddrs,
          registeredBlock: event.blockNumber,
          updatedBlock: event.blockNumber,
        });
        continue;
      }
      if (!server) continue;
      server.updatedBlock = event.blockNumber;
      if (event.eventName === 'ServerStatusChanged') server.status = event.current;
      else if (event.eventName === 'ServerEndpointsUpdated') server.multiaddrs = event.multiaddrs;
      else server.peerId = event.peerId;
    }
    this.#servers = servers;
  }

  #report(error: Error) {
    log.error('%s', error.message);
    this.safeDispatchEvent('error', { detail: error });
  }
}

function toStored(event: RegistryLog): StoredLog {
  const stored = { ...event } as Record<string, unknown>;
  for (const key of ['peerId', 'previousPeerId']) {
    if (stored[key] instanceof Uint8Array) stored[key] = bytesToHex(stored[key] as Uint8Array);
  }
  return stored as unknown as StoredLog;
}

function fromStored(stored: StoredLog): RegistryLog {
  const event = { ...stored } as Record<string, unknown>;
  for (const key of ['peerId', 'previousPeerId']) {
    if (typeof event[key] === 'string') event[key] = hexToBytes(event[key] as Hex);
  }
  return event as unknown as RegistryLog;
}
