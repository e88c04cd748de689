import { connectListPeers } from '../../server/list-peers.js';
import type { CliContext } from '../context.js';

export async function serve(ctx: CliContext, options: { listen: string[] }) {
  const helia = await ctx.helia(options.listen);
  const addresses = helia.libp2p.getMultiaddrs().map(String);
  let pins = 0;
  for await (const _pin of helia.pins.ls()) pins++;
  // The registry's servers keep the payloads of versions proposed for their lists, fetched from the proposer:
  // connected (and reconnected) to them, this node is where they find a payload proposed from this data dir.
  const registry = ctx.peers().length === 0 ? (await ctx.deployment())?.contracts.RatingServerRegistry : undefined;
  let servers = 0;
  if (registry) {
    try {
      servers = await connectListPeers(helia, await ctx.publicClient(), { registry });
    } catch (error) {
      // Serving what is pinned needs no chain.
      ctx.output.note(`not connecting to the registry's rating servers: ${(error as Error).message}`);
    }
  }
  ctx.output.result({ peerId: helia.libp2p.peerId.toString(), addresses, pins, servers }, () => {
    ctx.output.line(`IPFS node ${helia.libp2p.peerId} serving ${pins} pinned roots from ${ctx.dataDir()}`);
    for (const address of addresses) ctx.output.line(`  ${address}`);
    if (registry) {
      ctx.output.line(
        `Connected to ${servers} rating server${servers === 1 ? '' : 's'} active in the registry: they fetch ` +
          'from here the payloads of versions proposed for their lists.',
      );
    }
    ctx.output.line('Others fetch from it with --peer <one of the addresses above>. Ctrl-C stops it.');
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
