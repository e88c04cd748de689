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

/** The error a blockstore throws for a block it does not have, as bitswap recognises it (by name). */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/**
 * A blockstore that pretends not to have the blocks `refuses` picks, and will not store them, the way the
 * enforcement layer will wrap a node's store.
 */
export function refusingBlockstore(store: Blockstore, refuses: (cid: CID) => boolean): Blockstore {
  return {
    has: (cid, options) => (refuses(cid) ? false : store.has(cid, options)),
    get: (cid, options) => {
      if (!refuses(cid)) return store.get(cid, options);
      // biome-ignore lint/correctness/useYield: a generator that fails at its first step, like a missing block
      return (async function* () {
        throw new NotFoundError(`refused ${cid}`);
      })();
    },
    put: (cid, bytes, options) => {
      if (refuses(cid)) throw new Error(`refused ${cid}`);
      return store.put(cid, bytes, options);
    },
    putMany: (source, options) => store.putMany(source, options),
    getMany: (source, options) => store.getMany(source, options),
    getAll: (options) => store.getAll(options),
    delete: (cid, options) => store.delete(cid, options),
    deleteMany: (source, options) => store.deleteMany(source, options),
  };
}
