import { sha256 } from '@noble/hashes/sha2.js';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as createDigest } from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { compareIds, type EntryId, entryId, entryIdToHex } from '../lists/entry-id.js';
import { MembershipIndex } from '../lists/membership-index.js';
import type { Random } from './random.js';

/** A piece of content the simulation follows through the network. */
export interface ContentItem {
  index: number;
  /** What it is for, in the report: `listed` (by every server), `disputed-a` (listed only by camp A's server)… */
  label: string;
  cid: CID;
  cidString: string;
  /** `entryId(cid)`: what the lists hold. */
  entryId: EntryId;
  entryHex: string;
  /** Advertised size in bytes. */
  size: number;
}

/** A CID of `raw` content made from `random`: a CIDv1 over a sha2-256 multihash, like Helia's for a small file. */
export function randomCid(random: Random): CID {
  return CID.createV1(raw.code, createDigest(sha256Hasher.code, sha256(random.bytes(64))));
}

/** A content item named `label`, with a fresh CID. */
export function createItem(index: number, label: string, random: Random): ContentItem {
  const cid = randomCid(random);
  const id = entryId(cid);
  return { index, label, cid, cidString: cid.toString(), entryId: id, entryHex: entryIdToHex(id), size: 1 << 20 };
}

/**
 * A server's list as nodes and the server hold it: the real {@link MembershipIndex}
 * over the entry ids of `items`, plus `filler` random entries that stand for
 * the rest of the list.
 */
export function buildList(items: readonly ContentItem[], filler: number, random: Random): MembershipIndex {
  const ids: EntryId[] = items.map((item) => item.entryId);
  for (let i = 0; i < filler; i++) ids.push(random.bytes(32));
  ids.sort(compareIds);
  const unique = ids.filter((id, i) => i === 0 || compareIds(ids[i - 1], id) !== 0);
  const packed = new Uint8Array(unique.length * 32);
  unique.forEach((id, i) => {
    packed.set(id, i * 32);
  });
  return MembershipIndex.fromSortedIds(packed);
}
