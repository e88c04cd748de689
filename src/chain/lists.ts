import { CID } from 'multiformats/cid';
import { type Address, decodeFunctionData, encodeFunctionData, type Hex, hexToBytes, toHex, zeroAddress } from 'viem';
import { getBlockNumber, readContract } from 'viem/actions';
import { illegalDataListAbi } from './abis.js';
import { decodeContractError } from './describe-error.js';
import { InvalidPayloadCidError, UnknownListVersionError } from './errors.js';
import type { ProposalCall } from './governance.js';
import { type BlockRangeParameters, getEventLogsInPages, type LogPosition, logPosition } from './logs.js';
import type { ReadClient } from './transactions.js';

// ─── Reading a list ──────────────────────────────────────────────────────────────────────────────────────────

export interface GetListInfoParameters {
  list: Address;
}

export interface GetListInfoReturnType {
  list: Address;
  /** The governance timelock, the only account that may publish versions. */
  executor: Address;
  /** CID of the policy document the list enforces. */
  policyCid: string;
  /** The list and version this list forks, or null for an original list. */
  parent: { list: Address; version: bigint } | null;
  /** The latest published version; 0 while the list is empty and unpublished. */
  currentVersion: bigint;
}

/**
 * What a list is: its executor, policy, parent and current version.
 *
 * @example
 * const info = await getListInfo(publicClient, { list: deployment.contracts.IllegalDataList });
 * console.log(`policy ${info.policyCid}, at version ${info.currentVersion}`);
 */
export async function getListInfo(client: ReadClient, { list }: GetListInfoParameters): Promise<GetListInfoReturnType> {
  const read = { address: list, abi: illegalDataListAbi } as const;
  const [executor, policyCid, [parentList, parentVersion], currentVersion] = await Promise.all([
    readContract(client, { ...read, functionName: 'executor' }),
    readContract(client, { ...read, functionName: 'policyCid' }),
    readContract(client, { ...read, functionName: 'parent' }),
    readContract(client, { ...read, functionName: 'currentVersion' }),
  ]);
  const parent = parentList === zeroAddress ? null : { list: parentList, version: parentVersion };
  return { list, executor, policyCid, parent, currentVersion };
}

export interface GetListVersionParameters {
  list: Address;
  /** The version to read. Default: the current one. */
  version?: bigint;
  signal?: AbortSignal;
}

/** One published version of a list. */
export interface ListVersion {
  list: Address;
  version: bigint;
  /** Merkle root of the set of entry ids (OpenZeppelin StandardMerkleTree over bytes32); zero for the empty set. */
  root: Hex;
  /** Entries in the set. */
  count: number;
  /** Entries added relative to the parent version. */
  added: number;
  /** Entries of the parent version removed from this one. */
  removed: number;
  /** The version this one was built on (one less than it). */
  parentVersion: bigint;
  /** Block timestamp, in seconds, at which the version took effect. */
  publishedAt: number;
  /** CID of the payload on IPFS that holds the entry ids. */
  payloadCid: CID;
  /** The payload CID exactly as stored on chain, in binary form. */
  payloadCidHex: Hex;
}

export type GetListVersionReturnType = ListVersion;

/**
 * A published version of a list: the current one unless `version` is given. Throws
 * {@link UnknownListVersionError} if the list has no such version (or none yet), and
 * {@link InvalidPayloadCidError} if the payload CID on chain does not decode.
 *
 * @example
 * const current = await getListVersion(publicClient, { list });
 * const blocks = await helia.blockstore.get(current.payloadCid);
 */
export async function getListVersion(
  client: ReadClient,
  { list, version, signal }: GetListVersionParameters,
): Promise<GetListVersionReturnType> {
  const read = { address: list, abi: illegalDataListAbi } as const;
  const readCurrentVersion = () => readContract(client, { ...read, functionName: 'currentVersion' });
  const wanted = version ?? (await readCurrentVersion());
  signal?.throwIfAborted();
  if (wanted === 0n)
    throw new UnknownListVersionError(list, 0n, version === undefined ? 0n : await readCurrentVersion());
  const stored = await readContract(client, { ...read, functionName: 'getVersion', args: [wanted] }).catch(
    (err: unknown) => {
      const decoded = decodeContractError(err);
      if (decoded?.errorName !== 'IllegalDataListUnknownVersion') throw err;
      throw new UnknownListVersionError(list, wanted, decoded.args[1]);
    },
  );
  return {
    list,
    version: wanted,
    root: stored.root,
    count: stored.count,
    added: stored.added,
    removed: stored.removed,
    parentVersion: stored.parentVersion,
    publishedAt: stored.publishedAt,
    payloadCid: decodePayloadCid(list, wanted, stored.payloadCid),
    payloadCidHex: stored.payloadCid,
  };
}

function tryDecodeCid(payloadCidHex: Hex): CID | null {
  try {
    return CID.decode(hexToBytes(payloadCidHex));
  } catch {
    return null;
  }
}

function decodePayloadCid(list: Address, version: bigint, payloadCidHex: Hex): CID {
  try {
    return CID.decode(hexToBytes(payloadCidHex));
  } catch (err) {
    throw new InvalidPayloadCidError(list, version, payloadCidHex, { cause: err });
  }
}

export interface IsListedOnChainParameters {
  list: Address;
  /** `sha256` of the multihash bytes of the content's CID. */
  entryId: Hex;
  /** The entry's Merkle proof in the version's tree, as `@openzeppelin/merkle-tree` builds it. */
  proof: readonly Hex[];
  /** The version to check against. Default: the current one. */
  version?: bigint;
}

/**
 * Whether the list contract itself confirms that `entryId` is in a version, given its Merkle proof. False for
 * an absent id or a wrong proof. Nodes check proofs locally; this is the on-chain reference, e.g. for disputes.
 *
 * @example
 * const listed = await isListedOnChain(publicClient, { list, entryId, proof: tree.getProof([entryId]) });
 */
export async function isListedOnChain(
  client: ReadClient,
  { list, entryId, proof, version }: IsListedOnChainParameters,
): Promise<boolean> {
  const read = { address: list, abi: illegalDataListAbi } as const;
  if (version === undefined) return readContract(client, { ...read, functionName: 'isListed', args: [entryId, proof] });
  return readContract(client, { ...read, functionName: 'isListedAt', args: [version, entryId, proof] });
}

// ─── Events ──────────────────────────────────────────────────────────────────────────────────────────────────

const versionPublishedEvents = illegalDataListAbi.filter(
  (item): item is Extract<(typeof illegalDataListAbi)[number], { type: 'event'; name: 'VersionPublished' }> =>
    item.type === 'event' && item.name === 'VersionPublished',
);

/**
 * A VersionPublished event: the new version as it was published, and where the event is. `payloadCid` is null
 * when the bytes on chain are not a CID: governance can publish such a version, and a reader must skip it
 * rather than stop reading the events after it.
 */
export type VersionPublishedLog = Omit<ListVersion, 'payloadCid'> & { payloadCid: CID | null } & LogPosition;

export interface GetVersionPublishedLogsParameters extends BlockRangeParameters {
  list: Address;
}

export type GetVersionPublishedLogsReturnType = VersionPublishedLog[];

/**
 * Every version a list published in a block range, oldest first, read from its VersionPublished events in
 * pages of at most `maxBlockRange` blocks. Enough for a node to sync the list.
 *
 * @example
 * const versions = await getVersionPublishedLogs(publicClient, { list, fromBlock: BigInt(deployment.fromBlock) });
 */
export async function getVersionPublishedLogs(
  client: ReadClient,
  { list, ...range }: GetVersionPublishedLogsParameters,
): Promise<GetVersionPublishedLogsReturnType> {
  const logs = await getEventLogsInPages(client, { ...range, address: list, events: versionPublishedEvents });
  return logs.map((log) => ({
    list,
    version: log.args.version,
    root: log.args.root,
    count: log.args.count,
    added: log.args.added,
    removed: log.args.removed,
    parentVersion: log.args.parentVersion,
    publishedAt: log.args.publishedAt,
    payloadCid: tryDecodeCid(log.args.payloadCid),
    payloadCidHex: log.args.payloadCid,
    ...logPosition(log),
  }));
}

export interface WatchVersionPublishedParameters {
  list: Address;
  /** Called with the versions published since the last call, oldest first; never with an empty array. */
  onLogs: (logs: VersionPublishedLog[]) => void;
  /** Called when a poll fails; the next poll retries the same blocks. */
  onError?: (error: Error) => void;
  /** First block to report. Default: the block after the latest one at the first poll. */
  fromBlock?: bigint;
  /** Milliseconds between polls. Default: the client's polling interval. */
  pollingInterval?: number;
  /** Most blocks per `eth_getLogs` request while catching up. */
  maxBlockRange?: bigint;
  /** Stops watching, like the returned function. */
  signal?: AbortSignal;
}

/** Stops watching. */
export type WatchVersionPublishedReturnType = () => void;

/**
 * Calls `onLogs` with each new version of a list as it is published, by polling for new blocks and reading
 * their VersionPublished events in pages. Pass `fromBlock` (the block after the last one synced) to miss
 * nothing between a sync and the start of watching. Reorganisations are not handled: use it on a chain with
 * fast finality, or re-read the list with {@link getListVersion} when it matters.
 *
 * @example
 * const unwatch = watchVersionPublished(publicClient, {
 *   list,
 *   fromBlock: lastSyncedBlock + 1n,
 *   onLogs: (versions) => versions.forEach(syncVersion),
 *   onError: (err) => log.error(err),
 * });
 */
export function watchVersionPublished(
  client: ReadClient,
  { list, onLogs, onError, fromBlock, pollingInterval, maxBlockRange, signal }: WatchVersionPublishedParameters,
): WatchVersionPublishedReturnType {
  const interval = pollingInterval ?? client.pollingInterval;
  let nextBlock = fromBlock;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const poll = async () => {
    try {
      // cacheTime 0: the client otherwise serves a block number up to one polling interval old.
      const latest = await getBlockNumber(client, { cacheTime: 0 });
      nextBlock ??= latest + 1n;
      if (latest >= nextBlock) {
        const logs = await getVersionPublishedLogs(client, {
          list,
          fromBlock: nextBlock,
          toBlock: latest,
          maxBlockRange,
        });
        nextBlock = latest + 1n;
        if (logs.length > 0 && !stopped) onLogs(logs);
      }
    } catch (err) {
      if (!stopped) onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    if (!stopped) timer = setTimeout(poll, interval);
  };

  const unwatch = () => {
    stopped = true;
    clearTimeout(timer);
    signal?.removeEventListener('abort', unwatch);
  };
  if (signal?.aborted) return unwatch;
  signal?.addEventListener('abort', unwatch, { once: true });
  void poll();
  return unwatch;
}

// ─── Proposing a version ─────────────────────────────────────────────────────────────────────────────────────

/** The arguments of `publishVersion`, with the payload CID as a CID. */
export interface PublishVersionParameters {
  /** The version the new set was built on; must still be the current one when the proposal executes. */
  parentVersion: bigint;
  /** Merkle root of the new set; zero only for the empty set. */
  root: Hex;
  /** Entries in the new set: the parent's count plus `added` minus `removed`. */
  count: number;
  added: number;
  removed: number;
  /** CID of the new set's payload on IPFS; stored in binary form. */
  payloadCid: CID;
}

/**
 * Calldata of `publishVersion`, the call a proposal makes to change a list.
 *
 * @example
 * const data = encodePublishVersion({ parentVersion: 1n, root, count: 12, added: 5, removed: 3, payloadCid });
 * await propose(walletClient, { governor, calls: [{ target: list, data }], description: 'List version 2' });
 */
export function encodePublishVersion({
  parentVersion,
  root,
  count,
  added,
  removed,
  payloadCid,
}: PublishVersionParameters): Hex {
  return encodeFunctionData({
    abi: illegalDataListAbi,
    functionName: 'publishVersion',
    args: [parentVersion, root, count, added, removed, toHex(payloadCid.bytes)],
  });
}

/**
 * The arguments of `publishVersion` calldata, e.g. of a proposal's call, to show voters what they vote on.
 * Throws if `calldata` is not a `publishVersion` call or its payload CID does not decode.
 *
 * @example
 * const proposal = await getProposal(publicClient, { governor, proposalId });
 * const version = decodePublishVersion(proposal.calldatas[0]);
 * console.log(`adds ${version.added}, removes ${version.removed}, payload ${version.payloadCid}`);
 */
export function decodePublishVersion(calldata: Hex): PublishVersionParameters {
  const { functionName, args } = decodeFunctionData({ abi: illegalDataListAbi, data: calldata });
  if (functionName !== 'publishVersion') throw new Error(`Expected a publishVersion call, got ${functionName}.`);
  const [parentVersion, root, count, added, removed, payloadCidHex] = args;
  return { parentVersion, root, count, added, removed, payloadCid: CID.decode(hexToBytes(payloadCidHex)) };
}

/**
 * A proposal call that publishes a new version of `list`.
 *
 * @example
 * await propose(walletClient, { governor, calls: [publishVersionCall(list, next)], description });
 */
export function publishVersionCall(list: Address, parameters: PublishVersionParameters): ProposalCall {
  return { target: list, data: encodePublishVersion(parameters), value: 0n };
}
