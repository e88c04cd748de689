import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/dev.js');

export function devCommands(program: Command, context: Context) {
  const dev = program.command('dev').description('Helpers for the local development chain only');

  dev
    .command('advance')
    .description('Move the local chain’s clock forward, e.g. past a voting period or a timelock delay')
    .argument('<seconds>', 'how far')
    .action(async (seconds) => (await actions()).advance(context(), seconds));
}
