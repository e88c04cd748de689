import type { CliContext } from '../context.js';

export async function serve(ctx: CliContext, options: { listen: string[] }) {
  const helia = await ctx.helia(options.listen);
  const addresses = helia.libp2p.getMultiaddrs().map(String);
  let pins = 0;
  for await (const _pin of helia.pins.ls()) pins++;
  ctx.output.result({ peerId: helia.libp2p.peerId.toString(), addresses, pins }, () => {
    ctx.output.line(`IPFS node ${helia.libp2p.peerId} serving ${pins} pinned roots from ${ctx.dataDir()}`);
    for (const address of addresses) ctx.output.line(`  ${address}`);
    ctx.output.line('Others fetch from it with --peer <one of the addresses above>. Ctrl-C stops it.');
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
