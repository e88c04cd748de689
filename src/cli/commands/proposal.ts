import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/proposal.js');

export function proposalCommands(program: Command, context: Context) {
  const proposal = program.command('proposal').description('Governance proposals: list them and inspect them');

  proposal
    .command('list')
    .description('List the Governor’s proposals with their state and tally')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .option('--state <state>', 'only proposals in this state, e.g. active')
    .action(async (options) => (await actions()).list(context(), options));

  proposal
    .command('inspect')
    .description(
      'Check what a proposal really does before voting: decode every call, fetch list payloads, recompute ' +
        'roots and counts, and show the exact entries added and removed. Exits 3 if anything does not match.',
    )
    .argument('<proposal-id>', 'the proposal')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .action(async (id, options) => (await actions()).inspect(context(), id, options));
}
