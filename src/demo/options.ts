import { Command, InvalidArgumentError } from 'commander';
import { MIN_NODES } from './topology.js';

/** The command line of `npm run demo`, parsed. */
export interface DemoCommandLine {
  nodes: number;
  seed: number;
  keep: boolean;
  workDir?: string;
}

/** Nodes in the default demo: enough for every group and a fork, few enough for two cores. */
export const DEFAULT_NODES = 12;

/** The largest demo that still finishes in a few minutes on a small machine. */
export const MAX_NODES = 40;

function integer(min: number, max: number) {
  return (text: string) => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
}

/**
 * Parses `npm run demo -- [--nodes N] [--seed S] [--keep] [--work-dir DIR]`. Commander prints `--help` and
 * argument errors itself and throws a CommanderError carrying the exit code.
 */
export function parseDemoCommandLine(argv: string[]): DemoCommandLine {
  const program = new Command('npm run demo --')
    .description(
      'The whole story of Node Rating P2P on this machine: an in-process chain with a DAO, two rating servers and a ' +
        'network of nrp nodes; a vote lists a distributor’s files, the servers trace them to it, its neighbours ' +
        'cut it off or slow it down, and a protest fork brings one file back for those who follow the fork. ' +
        'Exits 0 only if every claim of the story held.',
    )
    .exitOverride()
    .option(
      '--nodes <n>',
      `nodes in all, the distributor included (${MIN_NODES}–${MAX_NODES})`,
      integer(MIN_NODES, MAX_NODES),
      DEFAULT_NODES,
    )
    .option('--seed <s>', 'seed of the topology and of who shares what', integer(0, 2 ** 31), 1)
    .option(
      '--keep',
      'keep the network and the dashboard up after the story, until Ctrl-C, and keep the work dir',
      false,
    )
    .option('--work-dir <dir>', 'keep data dirs, configurations and logs here (default: a temporary folder, removed)');
  program.parse(argv, { from: 'user' });
  const options = program.opts<{ nodes: number; seed: number; keep: boolean; workDir?: string }>();
  return { nodes: options.nodes, seed: options.seed, keep: options.keep, workDir: options.workDir };
}
