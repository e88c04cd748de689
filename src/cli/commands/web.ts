import type { Command } from 'commander';
import type { DEFAULT_WEB_PORT } from '../../web/server.js';
import type { WebOptions } from '../actions/web.js';
import type { CliContext } from '../context.js';

type Context = () => CliContext;

/** The web server's DEFAULT_WEB_PORT, written out so that help need not load the server; tsc checks they agree. */
const DEFAULT_PORT: typeof DEFAULT_WEB_PORT = 8787;

/** The commands' code, imported only when one of them runs: it loads viem, Helia and more. */
const actions = () => import('../actions/web.js');

export function webCommands(program: Command, context: Context) {
  program
    .command('web')
    .description(
      'Serve the governance web app on 127.0.0.1: connect a wallet, review list changes in the browser, vote, ' +
        'queue and execute, propose list changes and rating-server status changes',
    )
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', String(DEFAULT_PORT))
    .option(
      '--listen <multiaddr...>',
      'where this IPFS node listens, so peers can fetch payloads proposed in the app',
      ['/ip4/127.0.0.1/tcp/0'],
    )
    .option('--block-timeout <seconds>', 'how long to wait for an IPFS peer to send a payload block', '30')
    .option('--rebuild', 'build the app again even if its build is up to date')
    .action(async (options: WebOptions) => (await actions()).serveWeb(context(), options));
}
