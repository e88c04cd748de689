import type { AbiEvent, Address, BlockTag, Chain, Client, GetLogsReturnType, Hash, Transport } from 'viem';
import { getBlock, iterateLogs } from 'viem/actions';

/**
 * Most blocks per `eth_getLogs` request by default. Public RPCs cap the range (often at 10,000 blocks, some
 * lower); viem's `iterateLogs` also halves a page that the RPC rejects as too large.
 */
export const DEFAULT_MAX_BLOCK_RANGE = 10_000n;

/** Which blocks to read events from, and how many blocks to ask the RPC for at once. */
export interface BlockRangeParameters {
  /** First block to read, inclusive: usually the deployment's `fromBlock`. */
  fromBlock: bigint;
  /** Last block to read, inclusive. Default: the latest block when the call starts. */
  toBlock?: bigint | Exclude<BlockTag, 'pending'>;
  /** Most blocks per `eth_getLogs` request. Default {@link DEFAULT_MAX_BLOCK_RANGE}. */
  maxBlockRange?: bigint;
  /** Stops between pages. */
  signal?: AbortSignal;
}

/** Where a mined log is. */
export interface LogPosition {
  blockNumber: bigint;
  blockHash: Hash;
  logIndex: number;
  transactionHash: Hash;
}

interface MaybePendingLog {
  blockNumber: bigint | null;
  blockHash: Hash | null;
  logIndex: number | null;
  transactionHash: Hash | null;
}

/** The position of a mined log; logs read by block range are always mined. */
export function logPosition(log: MaybePendingLog): LogPosition {
  const { blockNumber, blockHash, logIndex, transactionHash } = log;
  if (blockNumber === null || blockHash === null || logIndex === null || transactionHash === null) {
    throw new Error('Expected a mined log, got a pending one.');
  }
  return { blockNumber, blockHash, logIndex, transactionHash };
}

/**
 * Every log of `events` emitted by `address` in a block range, oldest first, decoded strictly (logs that do not
 * match an event's indexed arguments are skipped), fetched in pages of at most `maxBlockRange` blocks.
 *
 * @example
 * const logs = await getEventLogsInPages(client, {
 *   address: list,
 *   events: illegalDataListAbi.filter((item) => item.type === 'event'),
 *   fromBlock: deployment.fromBlock,
 * });
 */
export async function getEventLogsInPages<const abiEvents extends readonly AbiEvent[]>(
  client: Client<Transport, Chain | undefined>,
  parameters: BlockRangeParameters & { address: Address; events: abiEvents },
): Promise<GetLogsReturnType<undefined, abiEvents, true>> {
  const { address, events, fromBlock, toBlock, maxBlockRange = DEFAULT_MAX_BLOCK_RANGE, signal } = parameters;
  signal?.throwIfAborted();
  const logs: GetLogsReturnType<undefined, abiEvents, true> = [];
  const pages = iterateLogs(client, { address, events, strict: true, fromBlock, toBlock, blockRange: maxBlockRange });
  for await (const page of pages) {
    logs.push(...page.logs);
    signal?.throwIfAborted();
  }
  return logs;
}

/**
 * Searches a block range from its newest block back to its oldest, one page at a time, and returns the newest
 * log of `events` that `matches`, or undefined. Finding a recent event this way takes a request or two
 * however old the contract is.
 */
export async function findLatestEventLog<const abiEvents extends readonly AbiEvent[]>(
  client: Client<Transport, Chain | undefined>,
  parameters: BlockRangeParameters & { address: Address; events: abiEvents },
  matches: (log: GetLogsReturnType<undefined, abiEvents, true>[number]) => boolean,
): Promise<GetLogsReturnType<undefined, abiEvents, true>[number] | undefined> {
  const { fromBlock, toBlock = 'latest', maxBlockRange = DEFAULT_MAX_BLOCK_RANGE } = parameters;
  const lastBlock = typeof toBlock === 'bigint' ? toBlock : (await getBlock(client, { blockTag: toBlock })).number;
  for (let pageEnd = lastBlock; pageEnd >= fromBlock; pageEnd -= maxBlockRange) {
    const pageStart = pageEnd - maxBlockRange + 1n > fromBlock ? pageEnd - maxBlockRange + 1n : fromBlock;
    const logs = await getEventLogsInPages(client, { ...parameters, fromBlock: pageStart, toBlock: pageEnd });
    const found = logs.findLast(matches);
    if (found) return found;
  }
  return undefined;
}
