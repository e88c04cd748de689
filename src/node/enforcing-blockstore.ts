import type { Blockstore, InputPair, Pair } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';

/** The error a blockstore throws for a block it does not have; bitswap recognises it by name. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** A listed block was about to be stored. */
export class RefusedBlockError extends Error {
  override name = 'RefusedBlockError';
  constructor(readonly cid: CID) {
    super(`Refused to store ${cid}: it is listed`);
  }
}

/**
 * Wraps a blockstore so that blocks `refuses` picks do not exist for anyone:
 * `has` says no, `get` throws {@link NotFoundError} (so bitswap answers
 * DONT_HAVE instead of serving them), reads of many skip them, and they can
 * never be stored. Everything Helia and bitswap do goes through this store,
 * so listed content cannot leak from it.
 *
 * @example
 * const helia = await createNrpHelia({ wrapBlockstore: (store) => enforcingBlockstore(store, (cid) => lists.hasCid(cid)) });
 */
export function enforcingBlockstore(store: Blockstore, refuses: (cid: CID) => boolean): Blockstore {
  return {
    has: (cid, options) => (refuses(cid) ? false : store.has(cid, options)),
    get: (cid, options) => {
      if (!refuses(cid)) return store.get(cid, options);
      // biome-ignore lint/correctness/useYield: fails at its first step, like a missing block
      return (async function* () {
        throw new NotFoundError(`Not found: ${cid}`);
      })();
    },
    put: (cid, bytes, options) => {
      if (refuses(cid)) throw new RefusedBlockError(cid);
      return store.put(cid, bytes, options);
    },
    putMany: (source, options) => store.putMany(allowed(source, refuses), options),
    getMany: (source, options) => filterPairs(store.getMany(allowedCids(source, refuses), options)),
    getAll: (options) => filterPairs(store.getAll(options), refuses),
    delete: (cid, options) => store.delete(cid, options),
    deleteMany: (source, options) => store.deleteMany(source, options),
  };
}

async function* allowed(source: Iterable<InputPair> | AsyncIterable<InputPair>, refuses: (cid: CID) => boolean) {
  for await (const pair of source) {
    if (refuses(pair.cid)) throw new RefusedBlockError(pair.cid);
    yield pair;
  }
}

async function* allowedCids(source: Iterable<CID> | AsyncIterable<CID>, refuses: (cid: CID) => boolean) {
  for await (const cid of source) if (!refuses(cid)) yield cid;
}

async function* filterPairs(source: Iterable<Pair> | AsyncIterable<Pair>, refuses?: (cid: CID) => boolean) {
  for await (const pair of source) if (!refuses?.(pair.cid)) yield pair;
}
