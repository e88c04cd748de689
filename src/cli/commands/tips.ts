import type { Command } from 'commander';
import type { MAX_TIP_LIST_LIMIT } from '../../server/tips.js';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

export const NODE_CONFIG = 'nrp-node.yaml';
export const SERVER_CONFIG = 'nrp-server.yaml';

/** The server's MAX_TIP_LIST_LIMIT, written out so that help need not load the server; tsc checks they agree. */
const MAX_TIPS: typeof MAX_TIP_LIST_LIMIT = 1000;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/tips.js');

/** `nrp tip`: anyone's signed tip-off to a rating server. */
export function tipCommands(program: Command, context: Context) {
  program
    .command('tip')
    .description('Tip a rating server off about content it should list; signed with your node’s key')
    .argument('<cid>', 'the content')
    .requiredOption('--category <name>', 'what it is, e.g. malware, csam, phishing')
    .requiredOption('--reason <text>', 'why it should be listed: what it is, where it was seen')
    .requiredOption('--server <server>', 'the rating server: its registry id, its peer id, or a multiaddr')
    .option('--config <file>', `node configuration whose key signs the tip (default: ./${NODE_CONFIG} if present)`)
    .action(async (cid, options) => (await actions()).tip(context(), cid, options));
}

/** `nrp server tips …` and `nrp server propose`: the operator's side, through the running server's HTTP API. */
export function serverTipCommands(server: Command, context: Context) {
  const where = [
    ['--server-dir <dir>', 'the server’s data dir (default: from --config)'],
    ['--config <file>', `server configuration (default: ./${SERVER_CONFIG} if present, else ~/.nrp/server)`],
  ] as const;
  const tips = server
    .command('tips')
    .description('List the tip-offs the running server received; accept or reject them')
    .option('--status <status>', 'pending, accepted, rejected or all', 'pending')
    .option('--limit <n>', `how many, newest first (at most ${MAX_TIPS})`, '50')
    .option(...where[0])
    .option(...where[1])
    .action(async (_options, command: Command) => (await actions()).listTips(context(), command.optsWithGlobals()));
  for (const decision of ['accept', 'reject'] as const) {
    tips
      .command(decision)
      .description(`${decision === 'accept' ? 'Accept' : 'Reject'} a pending tip; the decision is final`)
      .argument('<id>', 'the tip’s id')
      .option(...where[0])
      .option(...where[1])
      .action(async (id, _options, command: Command) =>
        (await actions()).decide(context(), decision, id, command.optsWithGlobals()),
      );
  }
  server
    .command('propose')
    .description('Propose a list version adding the content of accepted tips, with each tip in the payload')
    .option('--tips <id...>', 'the accepted tips to bundle (default: every accepted tip not proposed yet)')
    .option('--list <address>', 'the list (default: the one the server enforces)')
    .option('--governor <address>', 'the Governor (default: the deployment’s)')
    .option('--description <text>', 'the proposal text (default: a summary of the tips)')
    .option(...where[0])
    .option(...where[1])
    .action(async (options) => (await actions()).proposeTips(context(), options));
}
