import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** What the fork's tokens are when no --holder is given: all to the signer, to share out later. */
export const DEFAULT_SUPPLY = '1000000';

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/fork.js');

export function forkCommands(list: Command, context: Context) {
  list
    .command('fork')
    .description(
      'Protest fork: deploy a new list that starts as a parent list’s version minus disputed entries, under its ' +
        'own token, timelock and Governor, and apply for a rating server for it. A rerun resumes.',
    )
    .requiredOption('--parent <address>', 'the list to fork')
    .option('--version <n>', 'the parent’s version to fork (default: its current one)')
    .requiredOption('--remove <file>', 'the disputed entries: CIDs, 0x entry ids or an IPIP-383 denylist')
    .option('--add <file>', 'entries to add afterwards: proposed to the fork’s own Governor as its version 2')
    .option('--category <name>', 'category of the added entries')
    .option('--reason <text>', 'why the entries are disputed; shown in the proposal of --add')
    .option('--list-policy <cid>', 'CID of the fork list’s policy document (default: the parent’s)')
    .option(
      '--holder <address=tokens...>',
      `the fork’s token holders and their whole tokens (default: the signer, ${DEFAULT_SUPPLY})`,
    )
    .option('--parameters <file>', 'JSON of the fork’s governance settings (ListFork: votingPeriod, tokenName, …)')
    .option('--server-peer-id <id>', 'apply for this peer id as the fork’s rating server')
    .option('--register-server-from <dir>', 'apply for the rating server whose data dir this is (its own key)')
    .option('--server-multiaddr <addr...>', 'where nodes reach the fork’s rating server')
    .option('--policy <file>', 'the rating server’s policy document; pinned and named by its CID')
    .option('--registry <address>', 'the registry to apply to (default: the deployment’s)')
    .option('--out <file>', 'where to write the fork’s deployment record (default: in the data dir)')
    .action(async (options) => (await actions()).fork(context(), options));
}
