import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatTime } from '../format.js';

const LOCAL_CHAIN_ID = 31337;

export async function advance(ctx: CliContext, secondsText: string) {
  const seconds = Number(secondsText);
  if (!Number.isInteger(seconds) || seconds <= 0) throw new CliError(`<seconds> must be a positive whole number`);
  const client = await ctx.publicClient();
  if (client.chain.id !== LOCAL_CHAIN_ID) {
    throw new CliError(`Refusing: chain ${client.chain.id} is not the local development chain (${LOCAL_CHAIN_ID}).`);
  }
  // Hardhat's development methods; viem's public client has no types for them.
  const request = client.request as (args: { method: string; params: unknown[] }) => Promise<unknown>;
  await request({ method: 'evm_increaseTime', params: [seconds] });
  await request({ method: 'evm_mine', params: [] });
  const block = await client.getBlock();
  ctx.output.result({ timestamp: block.timestamp, blockNumber: block.number }, (r) =>
    ctx.output.line(`The local chain is now at ${formatTime(r.timestamp)} (block ${r.blockNumber}).`),
  );
}
