import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/list.js');

export function listCommands(program: Command, context: Context) {
  const list = program.command('list').description('Illegal-data lists: show, check, propose changes, export');

  list
    .command('show')
    .description('Show a list and one of its versions')
    .option('--list <address>', 'the list (default: the deployment’s)')
    .option('--version <n>', 'the version to show (default: the current one)')
    .option('--entries', 'also fetch the payload and print every entry with its metadata')
    .action(async (options) => (await actions()).showList(context(), options));

  list
    .command('check')
    .description('Check whether content is listed, and prove it on chain with a Merkle proof')
    .argument('<cid-or-id>', 'a CID, or an entry id as 0x and 64 hex digits')
    .option('--list <address>', 'the list (default: the deployment’s)')
    .option('--version <n>', 'the version to check against (default: the current one)')
    .action(async (item, options) => (await actions()).checkEntry(context(), item, options));

  list
    .command('propose')
    .description('Propose a new list version: the current set plus and minus entries, pinned on IPFS')
    .option('--list <address>', 'the list (default: the deployment’s)')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .option('--add <file>', 'entries to add: CIDs, 0x entry ids or an IPIP-383 denylist, one per line')
    .option('--remove <file>', 'entries to remove, in the same formats')
    .option('--category <name>', 'category of the added entries, e.g. malware')
    .option('--reason <text>', 'why the entries are added or removed; shown to voters')
    .option('--tip <ref...>', 'references to the tip-offs behind the change')
    .option('--description <text>', 'the proposal text (default: a summary of the change and the reason)')
    .action(async (options) => (await actions()).proposeChange(context(), options));

  list
    .command('export')
    .description('Export a list version as an IPIP-383 compact denylist of double-hashed rules')
    .option('--list <address>', 'the list (default: the deployment’s)')
    .option('--version <n>', 'the version to export (default: the current one)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (options) => (await actions()).exportList(context(), options));
}
