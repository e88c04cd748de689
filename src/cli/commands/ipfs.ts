import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/ipfs.js');

export function ipfsCommands(program: Command, context: Context) {
  const ipfs = program.command('ipfs').description('This user’s IPFS node (Helia) on the data dir');

  ipfs
    .command('serve')
    .description('Run the IPFS node until Ctrl-C, so peers can fetch the payloads pinned here')
    .option('--listen <multiaddr...>', 'addresses to listen on', ['/ip4/127.0.0.1/tcp/4010'])
    .action(async (options: { listen: string[] }) => (await actions()).serve(context(), options));
}
