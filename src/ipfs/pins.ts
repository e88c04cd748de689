import { depthFirstWalker } from '@helia/utils';
import { logger } from '@libp2p/logger';
import type { AddOptions, Helia, RmOptions } from 'helia';
import type { CID } from 'multiformats/cid';

const log = logger('nrp:ipfs:pins');

/** What the pin helpers need of a Helia node. */
export type PinningHelia = Pick<Helia, 'pins' | 'blockstore' | 'getCodec'>;

export interface PinRootOptions {
  /**
   * How far below the root to pin: 0 pins the root block alone, 1 the root and the blocks it links to, and so on.
   * Default: the whole DAG.
   */
  depth?: number;
  /** Stored with the pin, listed by `helia.pins.ls()`. */
  metadata?: Record<string, string | number | boolean>;
  /** Aborts fetching missing blocks. Once every block is local, pinning runs to its end. */
  signal?: AbortSignal;
}

/**
 * Pin `root` and the blocks below it down to `depth`, so `helia.gc()` keeps them.
 *
 * Blocks that are not local are fetched from connected peers over bitswap first; without a signal that waits
 * for ever if no peer has them. Helia's own `pins.add` is a lazy generator (it does nothing until drained),
 * throws if the root is already pinned, and leaves blocks pinned for good if it stops half-way; this helper
 * drains it, is idempotent, and only starts writing pins once every block is local.
 *
 * @returns true if it pinned `root` or pinned it deeper than before, false if it was already pinned deep enough.
 */
export async function pinRoot(
  helia: PinningHelia,
  root: CID,
  { depth = Number.POSITIVE_INFINITY, metadata, signal }: PinRootOptions = {},
): Promise<boolean> {
  signal?.throwIfAborted();
  const existing = await pinDepth(helia, root, { signal });
  if (existing != null && existing >= depth) return false;

  // Fetch first: this is the part that waits on the network, and aborting it leaves no pin state behind.
  const walker = depthFirstWalker()({ blockstore: helia.blockstore, getCodec: helia.getCodec });
  for await (const _node of walker.walk(root, { depth, signal })) {
    // walking fetches and stores every block
  }

  if (existing != null) {
    // Helia cannot deepen a pin in place; every block is local, so gc is the only thing that could race this.
    log('pinning %c deeper: %d -> %d', root, existing, depth);
    await drain(helia.pins.rm(root, offline<RmOptions>({})));
  }
  // Not abortable: a pin stopped half-way would leave blocks pinned that no pins.rm can release.
  // Offline: every block is already here, and a missing one must fail rather than wait on the network.
  await drain(helia.pins.add(root, offline<AddOptions>({ depth, metadata })));
  log('pinned %c to depth %d', root, depth);
  return true;
}

/**
 * Remove the pin of `root`, so `helia.gc()` may delete its blocks unless another pin holds them.
 *
 * @returns false if `root` was not pinned.
 */
export async function unpinRoot(
  helia: PinningHelia,
  root: CID,
  { signal }: { signal?: AbortSignal } = {},
): Promise<boolean> {
  signal?.throwIfAborted();
  if ((await pinDepth(helia, root, { signal })) == null) return false;
  // Same as in pinRoot: local only, and not abortable half-way.
  await drain(helia.pins.rm(root, offline<RmOptions>({})));
  log('unpinned %c', root);
  return true;
}

/** The depth `root` is pinned to, or undefined if it is not pinned as a root (it may still be inside a pinned DAG). */
export async function pinDepth(
  helia: PinningHelia,
  root: CID,
  { signal }: { signal?: AbortSignal } = {},
): Promise<number | undefined> {
  try {
    return (await helia.pins.get(root, { signal })).depth;
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined;
    throw err;
  }
}

/** Options with Helia's `offline` flag, which its blockstore reads but its pin option types do not declare. */
function offline<T extends object>(options: T): T {
  return Object.assign(options, { offline: true });
}

async function drain(source: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of source) {
    // only the side effects matter
  }
}
