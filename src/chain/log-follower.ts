import type { Hash } from 'viem';
import { getBlock, getBlockNumber } from 'viem/actions';
import type { LogPosition } from './logs.js';
import type { ReadClient } from './transactions.js';

/** A block the follower has seen, to tell later whether the chain still contains it. */
export interface BlockAnchor {
  blockNumber: bigint;
  blockHash: Hash;
}

/** What a follower must remember across restarts. */
export interface LogFollowerState {
  /** The last block read, or null before the first read. */
  cursor: BlockAnchor | null;
  /** Blocks that held logs, and recent cursors, newest last: the points a reorganisation can roll back to. */
  anchors: BlockAnchor[];
}

export interface LogFollowerInit<L extends LogPosition> {
  /** First block that can hold the logs: the deployment's `fromBlock`. */
  fromBlock: bigint;
  /** Blocks a log must be buried under before it is read. 0 on a local chain. */
  confirmations?: number;
  /** Reads the logs of a block range, oldest first. */
  fetchLogs: (range: { fromBlock: bigint; toBlock: bigint; signal?: AbortSignal }) => Promise<L[]>;
  /** Where to resume, from a checkpoint. */
  state?: LogFollowerState;
  /** How many anchors to keep; a reorganisation deeper than the oldest one rescans from `fromBlock`. */
  maxAnchors?: number;
}

export interface LogFollowerUpdate<L> {
  /** Set when a reorganisation was found: every log at or after this block is no longer on chain. */
  reorgedFrom?: bigint;
  /** New confirmed logs, oldest first. */
  logs: L[];
}

/**
 * Reads an event stream from the chain in order, only once events have
 * enough confirmations, and notices when the chain reorganised under logs it
 * already returned. Each {@link poll} checks that the last block read is still
 * on chain; if not, it rolls back to the newest anchor that still is, reports
 * `reorgedFrom`, and reads forward again from there.
 */
export class LogFollower<L extends LogPosition> {
  readonly #init: LogFollowerInit<L>;
  readonly #client: ReadClient;
  #cursor: BlockAnchor | null;
  #anchors: BlockAnchor[];

  constructor(client: ReadClient, init: LogFollowerInit<L>) {
    this.#client = client;
    this.#init = init;
    this.#cursor = init.state?.cursor ?? null;
    this.#anchors = [...(init.state?.anchors ?? [])];
  }

  /** The state to persist for resuming. */
  get state(): LogFollowerState {
    return { cursor: this.#cursor, anchors: [...this.#anchors] };
  }

  /** Checks for a reorganisation, then reads the confirmed logs since the last poll. */
  async poll(options: { signal?: AbortSignal } = {}): Promise<LogFollowerUpdate<L>> {
    const { signal } = options;
    const update: LogFollowerUpdate<L> = { logs: [] };
    if (this.#cursor && !(await this.#onChain(this.#cursor))) {
      update.reorgedFrom = await this.#rollBack();
    }
    signal?.throwIfAborted();

    const head = await getBlockNumber(this.#client, { cacheTime: 0 });
    const safe = head - BigInt(this.#init.confirmations ?? 0);
    const from = this.#cursor ? this.#cursor.blockNumber + 1n : this.#init.fromBlock;
    if (safe < from) return update;

    const logs = await this.#init.fetchLogs({ fromBlock: from, toBlock: safe, signal });
    const safeBlock = await getBlock(this.#client, { blockNumber: safe });
    for (const log of logs) this.#remember({ blockNumber: log.blockNumber, blockHash: log.blockHash });
    this.#cursor = { blockNumber: safe, blockHash: safeBlock.hash };
    this.#remember(this.#cursor);
    // A log from a block replaced while we read is caught by the next poll's cursor check.
    update.logs = logs;
    return update;
  }

  async #onChain(anchor: BlockAnchor): Promise<boolean> {
    try {
      const block = await getBlock(this.#client, { blockNumber: anchor.blockNumber });
      return block.hash === anchor.blockHash;
    } catch {
      // The chain is now shorter than the anchor.
      return false;
    }
  }

  /** Moves the cursor back to the newest anchor still on chain; returns the first block to read again. */
  async #rollBack(): Promise<bigint> {
    while (this.#anchors.length > 0) {
      const anchor = this.#anchors[this.#anchors.length - 1];
      if (await this.#onChain(anchor)) {
        this.#cursor = anchor;
        return anchor.blockNumber + 1n;
      }
      this.#anchors.pop();
    }
    this.#cursor = null;
    return this.#init.fromBlock;
  }

  #remember(anchor: BlockAnchor) {
    const last = this.#anchors.at(-1);
    if (last?.blockNumber === anchor.blockNumber) this.#anchors[this.#anchors.length - 1] = anchor;
    else this.#anchors.push(anchor);
    const max = this.#init.maxAnchors ?? 64;
    if (this.#anchors.length > max) this.#anchors.splice(0, this.#anchors.length - max);
  }
}
