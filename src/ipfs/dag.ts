import type { GraphWalkerComponents } from '@helia/interface';
import { depthFirstWalker } from '@helia/utils';
import type { Blockstore } from 'interface-blockstore';
import type { CID } from 'multiformats/cid';

type Components = Pick<GraphWalkerComponents, 'getCodec'> & { blockstore: Blockstore };

/**
 * Fetches every block of the DAG under `root` into the blockstore (from
 * peers over bitswap when the store is Helia's), without pinning it.
 *
 * @returns the number of blocks.
 */
export async function fetchDag(helia: Components, root: CID, options: { signal?: AbortSignal } = {}): Promise<number> {
  let blocks = 0;
  const walker = depthFirstWalker()({ blockstore: helia.blockstore, getCodec: helia.getCodec });
  for await (const _node of walker.walk(root, { signal: options.signal })) blocks++;
  return blocks;
}

/**
 * Deletes every block of the DAG under `root` that is in `blockstore`. Pass
 * the plain store under Helia (never Helia's own, which would fetch missing
 * blocks) and under any enforcing wrapper, which would hide the very blocks
 * to delete.
 *
 * @returns the number of blocks deleted.
 */
export async function deleteDag(components: Components, root: CID): Promise<number> {
  const found: CID[] = [];
  const walker = depthFirstWalker()(components);
  try {
    // A plain store has no network behind it: the walk only reads what is here.
    for await (const node of walker.walk(root)) found.push(node.block.cid);
  } catch (error) {
    // A block missing below the root: delete what is here.
    if ((error as Error).name !== 'NotFoundError') throw error;
  }
  if (found.length === 0 && (await components.blockstore.has(root))) found.push(root);
  for (const cid of found) await components.blockstore.delete(cid);
  return found.length;
}
