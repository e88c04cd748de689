import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/sync.js');

export function syncCommands(list: Command, context: Context) {
  list
    .command('sync')
    .description('Sync a list from chain and IPFS into this data dir, verifying every version; resumes after restarts')
    .option('--list <address>', 'the list (default: the deployment’s)')
    .option('--confirmations <n>', 'blocks a version must be buried under before it applies', '0')
    .option('--watch', 'keep following new versions until Ctrl-C')
    .action(async (options) => (await actions()).sync(context(), options));
}
