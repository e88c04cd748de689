#!/usr/bin/env node
import process from 'node:process';
import type { Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
// Each commands/*.ts only declares its commands, options and help; the code that runs them is in actions/*.ts,
// imported when the command runs. So `nrp --help` loads no viem, Helia or libp2p: keep these imports light.
import { devCommands } from './commands/dev.js';
import { forkCommands } from './commands/fork.js';
import { governanceCommands } from './commands/governance.js';
import { ipfsCommands } from './commands/ipfs.js';
import { listCommands } from './commands/list.js';
import { nodeCommands } from './commands/node.js';
import { proposalCommands } from './commands/proposal.js';
import { serverCommands } from './commands/server.js';
import { syncCommands } from './commands/sync.js';
import { tipCommands } from './commands/tips.js';
import { webCommands } from './commands/web.js';
import { CliContext, type GlobalOptions } from './context.js';
import { CliError } from './errors.js';
import { Output } from './output.js';

export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
}

/**
 * Runs the `nrp` command line with `argv` (without the node and script
 * paths) and returns the exit code. Errors a user can fix are printed as one
 * line; with --verbose, with their cause and stack.
 */
export async function runCli(argv: string[], io: RunCliOptions = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let context: CliContext | undefined;

  const program = new Command('nrp')
    .description('Node Rating P2P: lists, governance and nodes of a P2P network that deletes what its users vote to')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .option('--rpc <url>', 'JSON-RPC URL of the chain (env NRP_RPC_URL; default http://127.0.0.1:8545)')
    .option('--deployment <file>', 'DAO deployment record (env NRP_DEPLOYMENT; default deployments/localhost.json)')
    .option('--data-dir <dir>', 'where IPFS blocks, pins and sync state live (env NRP_DATA_DIR; default ~/.nrp)')
    .option(
      '--key-file <file>',
      'file holding the signing key (env NRP_KEY_FILE, or the key itself in NRP_PRIVATE_KEY)',
    )
    .addOption(
      new Option(
        '--dev-account <n>',
        'on the local chain only: sign with Hardhat test account n (env NRP_DEV_ACCOUNT)',
      ),
    )
    .option(
      '--peer <multiaddr...>',
      'IPFS peers to fetch payloads from (env NRP_PEERS, comma-separated; default: the active rating servers)',
    )
    .option('--json', 'print one JSON document instead of text, for scripts')
    .option('--verbose', 'print the cause and stack of errors');

  const ctx = () => {
    context ??= new CliContext(program.opts<GlobalOptions>(), env, new Output(stdout, stderr, program.opts().json));
    return context;
  };
  listCommands(program, ctx);
  syncCommands(program.commands.find((c) => c.name() === 'list') as Command, ctx);
  forkCommands(program.commands.find((c) => c.name() === 'list') as Command, ctx);
  proposalCommands(program, ctx);
  governanceCommands(program, ctx);
  ipfsCommands(program, ctx);
  nodeCommands(program, ctx);
  serverCommands(program, ctx);
  tipCommands(program, ctx);
  devCommands(program, ctx);
  webCommands(program, ctx);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const verbose = program.opts().verbose === true;
    if (error instanceof CliError) {
      stderr.write(`nrp: ${error.message}\n`);
      if (verbose && error.cause) stderr.write(`${(error.cause as Error).stack ?? error.cause}\n`);
      return error.exitCode;
    }
    stderr.write(`nrp: unexpected error: ${(error as Error).message}\n`);
    stderr.write(verbose ? `${(error as Error).stack}\n` : 'Run again with --verbose for details.\n');
    return 1;
  } finally {
    await context?.close();
  }
}

if (import.meta.main) {
  process.exitCode = await runCli(process.argv.slice(2));
}
