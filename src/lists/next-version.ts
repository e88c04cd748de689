import type { Address } from 'viem';
import { bytesToHex, type Hex } from 'viem';
import type { PublishVersionParameters } from '../chain/lists.js';
import type { AbortOptions, BlockSink } from './blocks.js';
import { applyListChange, type ListChange, type ListChangeInput } from './change.js';
import { entryIdToHex } from './entry-id.js';
import { EntryMerkleTree, entryMerkleRoot } from './merkle.js';
import { type DecodedPayload, type EncodedPayload, type EntryMetadata, encodePayload } from './payload.js';

export interface BuildNextVersionInput
  extends Pick<ListChangeInput, 'add' | 'remove' | 'category' | 'reason' | 'tips'> {
  chainId: number;
  list: Address;
  /** The version the list is at now; 0 while it has published none. */
  currentVersion: bigint;
  /** That version's payload, verified against the chain; undefined at version 0. */
  current?: DecodedPayload;
  /** Metadata of some added entries, by entry id hex, over `category`, `reason` and `tips` (one tip-off each). */
  entryMetadata?: ReadonlyMap<Hex, EntryMetadata>;
  /** The proposal text; default: a summary of the change, the reason and how to inspect it. */
  description?: string;
}

export interface BuildNextVersionOptions extends AbortOptions {
  /** Progress of the Merkle tree, for a long list. */
  onProgress?: (done: number, total: number) => void;
}

export interface NextListVersion {
  /** What changes: the new set, what is added and removed, and what was asked but changes nothing. */
  change: ListChange;
  /** The payload, whose blocks were written to the sink. */
  payload: EncodedPayload;
  /** The arguments of `publishVersion` that a proposal calls, e.g. with `publishVersionCall`. */
  call: PublishVersionParameters;
  /** The proposal text voters read, unless the proposer writes their own. */
  description: string;
}

/**
 * The next version of a list (the current set plus `add` minus `remove`, with metadata), encoded as a payload
 * into `store`, and the `publishVersion` call and description that propose it. Nothing is sent: pin the
 * payload where voters can fetch it, then `propose`. Throws `ConflictingChangeError` or `EmptyChangeError`.
 *
 * @example
 * const next = await buildNextVersion(helia.blockstore, { chainId, list, currentVersion, current, add, remove: [] });
 * await pinRoot(helia, next.payload.cid);
 * await propose(walletClient, { governor, calls: [publishVersionCall(list, next.call)], description: next.description });
 */
export async function buildNextVersion(
  store: BlockSink,
  input: BuildNextVersionInput,
  options: BuildNextVersionOptions = {},
): Promise<NextListVersion> {
  const { chainId, list, currentVersion, current } = input;
  const change = applyListChange({
    current: current?.ids ?? new Uint8Array(0),
    currentMetadata: current?.metadata,
    currentDoubleHashes: current?.header.doubleHashes,
    add: input.add,
    remove: input.remove,
    category: input.category,
    reason: input.reason,
    tips: input.tips,
  });
  const listedAlready = new Set(change.alreadyListed.map((entry) => entryIdToHex(entry.id)));
  for (const [hex, metadata] of input.entryMetadata ?? []) {
    const added = change.metadata.get(hex);
    if (added && !listedAlready.has(hex)) change.metadata.set(hex, { ...added, ...metadata });
  }
  const root =
    change.ids.length === 0
      ? await entryMerkleRoot(change.ids)
      : (await EntryMerkleTree.build(change.ids, { onProgress: options.onProgress, signal: options.signal })).root;
  const added = change.added.length / 32;
  const removed = change.removed.length / 32;
  const count = change.ids.length / 32;
  const version = currentVersion + 1n;
  const payload = await encodePayload(
    store,
    {
      chainId,
      list,
      version: Number(version),
      ids: change.ids,
      added,
      removed,
      parent: current?.cid ?? null,
      doubleHashes: change.doubleHashes,
      metadata: change.metadata,
      root,
    },
    options,
  );
  const call: PublishVersionParameters = {
    parentVersion: currentVersion,
    root: bytesToHex(root),
    count,
    added,
    removed,
    payloadCid: payload.cid,
  };
  const description =
    input.description ??
    [
      `List ${list}: version ${version}, +${added} −${removed} entries (${count} in all)`,
      '',
      input.reason ?? '',
      input.category ? `Category: ${input.category}` : '',
      `Payload: ${payload.cid}`,
      'Inspect before voting: nrp proposal inspect <id>, or in the web app (nrp web)',
    ]
      .filter((line, i) => i < 2 || line !== '')
      .join('\n');
  return { change, payload, call, description };
}
