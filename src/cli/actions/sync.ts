import { join } from 'node:path';
import { pinRoot } from '../../ipfs/pins.js';
import { ListSync, type SyncErrorEvent, type VersionEvent } from '../../lists/sync.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatTime } from '../format.js';

export async function sync(ctx: CliContext, options: { list?: string; confirmations: string; watch?: boolean }) {
  const list = await ctx.contract('IllegalDataList', options.list);
  const confirmations = Number(options.confirmations);
  if (!Number.isInteger(confirmations) || confirmations < 0) {
    throw new CliError(`--confirmations must be a whole number, not ${options.confirmations}`);
  }
  const client = await ctx.publicClient();
  const helia = await ctx.helia();
  const listSync = new ListSync(
    {
      list,
      chainId: client.chain.id,
      fromBlock: await ctx.fromBlock(),
      confirmations,
      checkpointPath: join(ctx.dataDir(), 'sync', `${client.chain.id}-${list.toLowerCase()}.json`),
    },
    { client, blockstore: await ctx.blockSource(), pin: (cid, o) => pinRoot(helia, cid, o) },
  );
  const errors: SyncErrorEvent[] = [];
  listSync.addEventListener('version', ({ detail }: CustomEvent<VersionEvent>) => {
    const { synced, reason } = detail;
    ctx.output.note(
      `version ${synced.version} in force (${reason}): ${synced.count} entries, published ${formatTime(synced.publishedAt)}`,
    );
  });
  listSync.addEventListener('error', ({ detail }: CustomEvent<SyncErrorEvent>) => {
    errors.push(detail);
    const retry = detail.retryInMs ? `; retrying in ${Math.round(detail.retryInMs / 1000)} s` : '';
    ctx.output.note(`${detail.permanent ? 'rejected' : 'failed'}: ${detail.error.message}${retry}`);
  });

  if (options.watch) {
    await listSync.start();
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await listSync.stop();
  } else {
    await listSync.restore();
    await listSync.syncOnce().catch((error) => {
      throw new CliError(`Cannot read the chain: ${(error as Error).message}`, 1, { cause: error });
    });
  }
  const { current } = listSync;
  ctx.output.result(
    {
      list,
      version: current.version,
      count: current.count,
      payloadCid: current.payloadCid?.toString(),
      errors: errors.map((e) => ({ name: e.error.name, message: e.error.message, version: e.version })),
    },
    (r) => ctx.output.line(`List ${list} is at version ${r.version} with ${r.count} entries.`),
  );
  if (!options.watch && errors.some((e) => !e.permanent) && current.version === 0n) {
    throw new CliError('No version could be synced yet; see the errors above.');
  }
}
