import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

export const DEFAULT_CONFIG = 'nrp-node.yaml';

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/node.js');

export function nodeCommands(program: Command, context: Context) {
  const node = program.command('node').description('Run a P2P node, share files, and see why peers are penalised');
  const configOption = [
    '--config <file>',
    `node configuration, YAML or JSON (default: ./${DEFAULT_CONFIG} if present)`,
  ] as const;

  node
    .command('start')
    .description('Start a node and keep it running until Ctrl-C')
    .option(...configOption)
    .action(async (options) => (await actions()).start(context(), options));

  node
    .command('add')
    .description('Add a file to the running node and advertise it to its neighbours')
    .argument('<file>', 'the file')
    .option('--name <name>', 'the name in the advert (default: the file name)')
    .option(...configOption)
    .action(async (file, options) => (await actions()).add(context(), file, options));

  node
    .command('status')
    .description('Show the running node: peers, lists in force, content, evidence')
    .option(...configOption)
    .action(async (options) => (await actions()).status(context(), options));

  node
    .command('why')
    .description('Explain what the running node holds against a peer')
    .argument('<peer>', 'the peer id')
    .option(...configOption)
    .action(async (peer, options) => (await actions()).why(context(), peer, options));
}
