import type { CID } from 'multiformats/cid';
import { type Address, bytesToHex } from 'viem';
import type { ProposalCall } from '../chain/governance.js';
import { decodePublishVersion, getListInfo, getListVersion, publishVersionCall } from '../chain/lists.js';
import { pinRoot } from '../ipfs/pins.js';
import { applyListChange } from '../lists/change.js';
import { parseEntryList } from '../lists/denylist.js';
import { inspectListChange, type ListChangeInspection } from '../lists/inspect.js';
import { entryMerkleRoot } from '../lists/merkle.js';
import { type DecodedPayload, decodePayload, encodePayload, expectedOnChain } from '../lists/payload.js';
import type { DemoChain } from './chain.js';
import type { DemoIpfsHost } from './ipfs-host.js';

export interface ListVersionProposal {
  call: ProposalCall;
  version: bigint;
  payloadCid: CID;
  count: number;
}

/** What the demo reads of a list version: the chain's record and its payload, verified against it. */
export async function readListVersion(
  chain: DemoChain,
  host: DemoIpfsHost,
  list: Address,
  version: bigint,
): Promise<DecodedPayload> {
  const onChain = await getListVersion(chain.publicClient, { list, version });
  return decodePayload(host.helia.blockstore, onChain.payloadCid, {
    metadata: true,
    signal: AbortSignal.timeout(30_000),
    expected: expectedOnChain(onChain, { chainId: chain.deployment.chainId, list }),
  });
}

/**
 * Builds the next version of `list` as `nrp list propose` does: the current set plus `add` (CIDs), with their
 * category and reason as metadata; computes its Merkle root and pins its payload in the proposers' IPFS node,
 * which serves it while the vote runs. Returns the Governor call that publishes it.
 *
 * @example
 * const proposal = await buildListVersion(chain, host, list, { add: [cid], category: 'malware', reason });
 */
export async function buildListVersion(
  chain: DemoChain,
  host: DemoIpfsHost,
  list: Address,
  change: { add: string[]; category: string; reason: string },
): Promise<ListVersionProposal> {
  const { currentVersion } = await getListInfo(chain.publicClient, { list });
  const current = currentVersion > 0n ? await readListVersion(chain, host, list, currentVersion) : undefined;
  const next = applyListChange({
    current: current?.ids ?? new Uint8Array(0),
    currentMetadata: current?.metadata,
    currentDoubleHashes: current?.header.doubleHashes,
    add: parseEntryList(change.add.join('\n')).entries,
    remove: [],
    category: change.category,
    reason: change.reason,
  });
  const root = await entryMerkleRoot(next.ids);
  const version = currentVersion + 1n;
  const count = next.ids.length / 32;
  const added = next.added.length / 32;
  const removed = next.removed.length / 32;
  const encoded = await encodePayload(host.helia.blockstore, {
    chainId: chain.deployment.chainId,
    list,
    version: Number(version),
    ids: next.ids,
    added,
    removed,
    parent: current?.cid ?? null,
    doubleHashes: next.doubleHashes,
    metadata: next.metadata,
    root,
  });
  await pinRoot(host.helia, encoded.cid);
  const call = publishVersionCall(list, {
    parentVersion: currentVersion,
    root: bytesToHex(root),
    count,
    added,
    removed,
    payloadCid: encoded.cid,
  });
  return { call, version, payloadCid: encoded.cid, count };
}

/** A voter's inspection of the proposal, as `nrp proposal inspect` runs it: the exact entries it adds and removes. */
export async function inspectProposal(
  chain: DemoChain,
  host: DemoIpfsHost,
  list: Address,
  proposal: ListVersionProposal,
): Promise<ListChangeInspection> {
  return inspectListChange(chain.publicClient, host.helia.blockstore, list, decodePublishVersion(proposal.call.data), {
    chainId: chain.deployment.chainId,
    signal: AbortSignal.timeout(30_000),
  });
}
