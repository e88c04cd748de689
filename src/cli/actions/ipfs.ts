import type { CliContext } from '../context.js';

export async function serve(ctx: CliContext, options: { listen: string[] }) {
  const helia = await ctx.helia(options.listen);
  const addresses = helia.libp2p.getMultiaddrs().map(String);
  let pins = 0;
  for await (const _pin of helia.pins.ls()) pins++;
  const servers = await noteRegistryServers(ctx);
  ctx.output.result({ peerId: helia.libp2p.peerId.toString(), addresses, pins, servers: servers ?? 0 }, () => {
    ctx.output.line(`IPFS node ${helia.libp2p.peerId} serving ${pins} pinned roots from ${ctx.dataDir()}`);
    for (const address of addresses) ctx.output.line(`  ${address}`);
    ctx.output.line('Others fetch from it with --peer <one of the addresses above>. Ctrl-C stops it.');
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/**
 * Connects to the registry's active rating servers (see `CliContext.connectRegistryServers`) for a command that
 * keeps this user's IPFS node up, and tells the user: those servers keep the payloads of versions proposed for
 * their lists, fetched from the proposer while the vote runs. A chain out of reach is only a note: serving what
 * is pinned needs no chain.
 */
export async function noteRegistryServers(ctx: CliContext): Promise<number | undefined> {
  let servers: number | undefined;
  try {
    servers = await ctx.connectRegistryServers();
  } catch (error) {
    ctx.output.note(`not connected to the registry's rating servers: ${(error as Error).message}`);
    return undefined;
  }
  if (servers !== undefined) {
    ctx.output.note(
      `connected to ${servers} rating server${servers === 1 ? '' : 's'} active in the registry: they fetch from ` +
        'here, and keep, the payloads of versions proposed for their lists',
    );
  }
  return servers;
}
