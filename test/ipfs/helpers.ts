import * as dagCbor from '@ipld/dag-cbor';
import type { Blockstore } from 'interface-blockstore';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { concat } from 'uint8arrays/concat';

/** A dag-cbor block of `value`, addressed by its CIDv1 with sha2-256. */
export async function cborBlock(value: unknown): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = dagCbor.encode(value);
  return { cid: CID.create(1, dagCbor.code, await sha256.digest(bytes)), bytes };
}

/** The whole block that `get` streams: Helia 7 blockstores yield a block in chunks. */
export async function getBlock(
  blockstore: Pick<Blockstore, 'get'>,
  cid: CID,
  options: { signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of blockstore.get(cid, options)) chunks.push(chunk);
  return concat(chunks);
}
