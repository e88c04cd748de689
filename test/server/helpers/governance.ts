import { id } from 'ethers';
import type { CID } from 'multiformats/cid';
import { bytesToHex } from 'viem';
import { waitForTransactionReceipt } from 'viem/actions';
import type { ProposalCall } from '../../../src/chain/governance.js';
import { publishVersionCall } from '../../../src/chain/lists.js';
import type { BlockSink } from '../../../src/lists/blocks.js';
import { compareIds, type EntryId } from '../../../src/lists/entry-id.js';
import { type EncodedPayload, type EntryMetadata, encodePayload } from '../../../src/lists/payload.js';
import { impersonatedWallet, publicClient, type ViemDao } from '../../chain/helpers.js';
import { passProposal } from '../../helpers/dao.js';

/** A policy document CID for test registrations. */
export const POLICY_CID = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';

/**
 * Executes `calls` as the DAO's timelock: by a whole Governor cycle (propose, every holder votes for, queue,
 * wait out the delay, execute) when `vote` is true, else by impersonating the timelock, which is quicker.
 */
export async function governance(
  dao: ViemDao,
  calls: ProposalCall[],
  description: string,
  options: { vote?: boolean } = {},
): Promise<void> {
  if (options.vote) {
    await passProposal(dao.dao, {
      targets: calls.map((call) => call.target),
      values: calls.map((call) => call.value ?? 0n),
      calldatas: calls.map((call) => call.data),
      description,
      descriptionHash: id(description),
    });
    return;
  }
  const timelock = await impersonatedWallet(dao.timelock);
  for (const call of calls) {
    const hash = await timelock.sendTransaction({ to: call.target, data: call.data, value: call.value ?? 0n });
    await waitForTransactionReceipt(publicClient, { hash });
  }
}

export interface ListVersionInput {
  /** The version being published: the parent is the one before. */
  version: number;
  /** Every entry of the new set, in any order. */
  ids: EntryId[];
  added: number;
  removed: number;
  parent?: CID;
  /** Metadata by entry id hex (`0x…`). */
  metadata?: Map<string, EntryMetadata>;
  /** Publish by a real vote rather than as the impersonated timelock. */
  vote?: boolean;
}

/**
 * Encodes a list version's payload into `blockstore` (the proposer's, which then serves it) and publishes it on
 * the DAO's list through governance. Resolves once the version is on chain.
 *
 * @example
 * const payload = await publishListVersion(dao, holder.blockstore, { version: 1, ids: [id], added: 1, removed: 0 });
 */
export async function publishListVersion(
  dao: ViemDao,
  blockstore: BlockSink,
  input: ListVersionInput,
): Promise<EncodedPayload> {
  const { payload, call } = await listVersionCall(dao, blockstore, input);
  await governance(dao, [call], `Publish version ${input.version} of the list`, { vote: input.vote });
  return payload;
}

/**
 * Encodes a list version's payload into `blockstore` and returns it with the `publishVersion` call that would
 * publish it, for a proposal.
 */
export async function listVersionCall(
  dao: ViemDao,
  blockstore: BlockSink,
  input: Omit<ListVersionInput, 'vote'>,
): Promise<{ payload: EncodedPayload; call: ProposalCall }> {
  const sorted = [...input.ids].sort(compareIds);
  const ids = new Uint8Array(sorted.length * 32);
  sorted.forEach((entry, i) => {
    ids.set(entry, i * 32);
  });
  const payload = await encodePayload(blockstore, {
    chainId: 31337,
    list: dao.list,
    version: input.version,
    ids,
    added: input.added,
    removed: input.removed,
    parent: input.parent ?? null,
    metadata: input.metadata,
  });
  const call = publishVersionCall(dao.list, {
    parentVersion: BigInt(input.version - 1),
    root: bytesToHex(payload.header.root),
    count: sorted.length,
    added: input.added,
    removed: input.removed,
    payloadCid: payload.cid,
  });
  return { payload, call };
}
