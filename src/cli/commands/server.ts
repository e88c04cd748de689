import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { serverTipCommands } from './tips.js';

type Context = () => CliContext;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/server.js');

export function serverCommands(program: Command, context: Context) {
  const server = program.command('server').description('Run and register a rating server');

  server
    .command('start')
    .description('Start the rating server and keep it running until Ctrl-C')
    .option('--config <file>', 'server configuration, YAML or JSON (default: ./nrp-server.yaml if present)')
    .action(async (options) => (await actions()).start(context(), options));

  server
    .command('register')
    .description('Apply to the on-chain registry with this server’s key; a vote must then activate it')
    .requiredOption('--server-dir <dir>', 'the server’s data dir (its key is created there if missing)')
    .requiredOption('--multiaddr <addr...>', 'where nodes reach the server, each ending in nothing or /p2p/<its id>')
    .requiredOption('--policy <file>', 'the server’s rating policy document; it is pinned and named by its CID')
    .option('--list <address>', 'the list the server enforces (default: the deployment’s)')
    .option('--registry <address>', 'the registry (default: the deployment’s)')
    .action(async (options) => (await actions()).register(context(), options));

  server
    .command('vote-on')
    .description('Propose to token holders that a registered server be activated, suspended or removed')
    .argument('<server-id>', 'the server’s id in the registry')
    .argument('<status>', 'activate, suspend or remove')
    .option('--reason <text>', 'why; the proposal’s description')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .option('--registry <address>', 'the registry (default: the deployment’s)')
    .action(async (id, change, options) => (await actions()).proposeStatus(context(), id, change, options));

  server
    .command('status')
    .description('Show the on-chain registration of this server’s key')
    .requiredOption('--server-dir <dir>', 'the server’s data dir')
    .option('--registry <address>', 'the registry (default: the deployment’s)')
    .action(async (options) => (await actions()).status(context(), options));

  serverTipCommands(server, context);
}
