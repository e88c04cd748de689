import type { Command } from 'commander';
import { VOTE_SUPPORTS } from '../../chain/enums.js';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/governance.js');

export function governanceCommands(program: Command, context: Context) {
  program
    .command('vote')
    .description('Vote on a proposal with your voting power at its snapshot')
    .argument('<proposal-id>', 'the proposal')
    .argument('<support>', `one of ${VOTE_SUPPORTS.join(', ')}`)
    .option('--reason <text>', 'why; recorded on chain with the vote')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .action(async (id, support, options) => (await actions()).vote(context(), id, support, options));

  program
    .command('queue')
    .description('Queue a proposal that passed in the timelock')
    .argument('<proposal-id>', 'the proposal')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .action(async (id, options) => (await actions()).queue(context(), id, options));

  program
    .command('execute')
    .description('Execute a queued proposal whose timelock delay has passed; anyone may')
    .argument('<proposal-id>', 'the proposal')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .action(async (id, options) => (await actions()).execute(context(), id, options));

  program
    .command('delegate')
    .description('Let another account vote with your tokens (or yourself again, with your own address)')
    .argument('<address>', 'the delegate')
    .option('--token <address>', 'the governance token (default: the deployment’s)')
    .action(async (address, options) => (await actions()).delegateTo(context(), address, options));

  program
    .command('power')
    .description('Show an account’s tokens, delegate and voting power')
    .argument('[address]', 'the account (default: your signing account)')
    .option('--token <address>', 'the governance token (default: the deployment’s)')
    .action(async (address, options) => (await actions()).showPower(context(), address, options));
}
