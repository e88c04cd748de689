import type { Address, Hex } from 'viem';
import { bytesToHex } from 'viem';
import { isListedOnChain } from '../chain/lists.js';
import type { ReadClient } from '../chain/transactions.js';
import type { AbortOptions } from './blocks.js';
import {
  type EntryId,
  entryId,
  entryIdFromHex,
  entryIdToHex,
  ipip383DoubleHash,
  ipip383LegacyHash,
  parseCid,
} from './entry-id.js';
import { MembershipIndex } from './membership-index.js';
import { EntryMerkleTree } from './merkle.js';
import type { DecodedPayload } from './payload.js';

/** One id under which an item may be listed, and what kind of id it is. */
export interface EntryCandidate {
  form: 'entry id' | 'IPIP-383 double hash' | 'IPIP-383 legacy hash';
  id: EntryId;
}

/**
 * The ids under which `item` (a CID in any base, or an entry id as `0x` and 64 hex digits) may be listed: its
 * entry id, and for a CID also its IPIP-383 double hashes, which lists that imported denylists hold. Throws
 * `InvalidCidError` or `InvalidEntryIdError` for anything else.
 *
 * @example
 * entryCandidates('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG').map((c) => c.form);
 * // ['entry id', 'IPIP-383 double hash', 'IPIP-383 legacy hash']
 */
export function entryCandidates(item: string): EntryCandidate[] {
  const text = item.trim();
  if (text.startsWith('0x')) return [{ form: 'entry id', id: entryIdFromHex(text) }];
  const cid = parseCid(text);
  return [
    { form: 'entry id', id: entryId(cid) },
    { form: 'IPIP-383 double hash', id: ipip383DoubleHash(cid) },
    { form: 'IPIP-383 legacy hash', id: ipip383LegacyHash(cid) },
  ];
}

export interface CheckListedParameters extends AbortOptions {
  list: Address;
  /** The version `payload` belongs to. */
  version: bigint;
  /** The version's payload, already verified against the chain (see `decodePayload`'s `expected`). */
  payload: DecodedPayload;
  /** A CID or an entry id. */
  item: string;
  /** Progress of building the Merkle tree, for a long list. */
  onProgress?: (done: number, total: number) => void;
}

export type CheckListedReturnType =
  | { listed: false; version: bigint }
  | {
      listed: true;
      version: bigint;
      entryId: Hex;
      form: EntryCandidate['form'];
      /** The Merkle proof of the entry in the version's tree. */
      proof: Hex[];
      /** Whether the list contract itself accepted the proof (`isListedAt`): the on-chain answer. */
      provedOnChain: boolean;
    };

/**
 * Whether `item` is in a version of a list, and if so, whether the list contract confirms it with the entry's
 * Merkle proof. The payload answers the question; the chain proves the answer to anyone.
 *
 * @example
 * const { payload } = await fetchVerifiedVersion(…);
 * const result = await checkListed(publicClient, { list, version, payload, item: 'bafy…' });
 * if (result.listed && result.provedOnChain) console.log('listed, proved on chain');
 */
export async function checkListed(
  client: ReadClient,
  { list, version, payload, item, onProgress, signal }: CheckListedParameters,
): Promise<CheckListedReturnType> {
  const candidates = entryCandidates(item);
  const index = MembershipIndex.fromSortedIds(payload.ids, { doubleHashes: payload.header.doubleHashes });
  const match = candidates.find((candidate) => index.has(candidate.id));
  if (!match) return { listed: false, version };
  const tree = await EntryMerkleTree.build(payload.ids, { onProgress, signal });
  const proof = (tree.proof(match.id) ?? []).map((node) => bytesToHex(node));
  const id = entryIdToHex(match.id);
  signal?.throwIfAborted();
  const provedOnChain = await isListedOnChain(client, { list, entryId: id, proof, version });
  return { listed: true, version, entryId: id, form: match.form, proof, provedOnChain };
}
