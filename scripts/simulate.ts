/**
 * simulate — the network simulator: thousands of virtual nodes and a few
 * rating servers in one process, with the node's and the server's own
 * rating and penalty code (see src/sim/simulation.ts for the model).
 *
 *   npm run simulate -- --nodes 10000 --coverage 0.9
 *   npm run simulate -- --sweep coverage
 *   npm run simulate -- --split --nodes 2000
 *
 * Writes a Markdown report with SVG charts and the full result as JSON to
 * `sim-results/<name>/`, prints progress on stderr, and prints one JSON line
 * last on stdout: {"nodes":…,"coverage":…,"reach":…,"roundsToIsolate":…,"falsePositiveRate":…}.
 */
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ServerPriority } from '../src/node/ratings.js';
import { InvalidSimulationConfigError, resolveConfig, type SimulationConfig } from '../src/sim/config.js';
import { TOPOLOGY_MODELS, type TopologyModel } from '../src/sim/graph.js';
import { reportName, writeRunReport, writeSweepReport } from '../src/sim/report.js';
import { runSimulation, type SimulationProgress } from '../src/sim/simulation.js';
import { runSweep, SWEEP_PARAMETERS, type SweepParameter } from '../src/sim/sweep.js';

export interface SimulateIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const defaultIo: SimulateIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the command with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: SimulateIo = defaultIo): Promise<number> {
  const program = new Command('simulate')
    .description('Simulate a Node Rating P2P network with the real rating and penalty code')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stderr(text.trimEnd()), writeErr: (text) => io.stderr(text.trimEnd()) })
    .option('--nodes <n>', 'virtual nodes', integer)
    .option('--coverage <share>', 'share of nodes that follow each server (0–1)', share)
    .option('--servers <n>', 'rating servers, all with the same list', integer)
    .option('--priorities <list>', 'priority followers give each server, by server: e.g. high,low', priorities)
    .option('--malicious <share>', 'share of nodes that are malicious distributors', share)
    .option('--liars <share>', 'share of nodes that are lying reporters', share)
    .option('--interval <duration>', 'report interval: 60, 60s, 1m, 60000ms (plain numbers are seconds)', duration)
    .option('--rounds <n>', 'report intervals to simulate after the first push', integer)
    .addOption(new Option('--topology <model>', 'how the network is wired').choices([...TOPOLOGY_MODELS]))
    .option('--degree <n>', 'degree (random regular) or mean degree (scale-free)', integer)
    .option('--seed <seed>', 'seed of every random choice')
    .addOption(new Option('--sweep <parameter>', 'run once per value of a parameter').choices([...SWEEP_PARAMETERS]))
    .option('--split', "two camps with different lists, each following its own server (the seed's 二分)")
    .option('--camp-share <share>', 'in a split, the share of followers in the first camp', share)
    .option('--seeders <n>', 'in a split, honest nodes per camp that share the item the other camp lists', integer)
    .option('--evasive', 'malicious nodes refuse to countersign edge attestations')
    .addOption(
      new Option('--verify <mode>', 'liars: only lying reports are signed and verified; all: every message').choices([
        'liars',
        'all',
      ]),
    )
    .option('--no-verify-lies', 'feed lies to the inference unverified, to see what verification prevents')
    .option('--list-at <duration>', 'when the list version takes effect, from the first push (e.g. -1h, 5m)', duration)
    .option('--sync-lag <duration>', 'longest delay before a follower enforces a new version', duration)
    .option('--redial <n>', 'dials per push a malicious node makes to replace lost connections', integer)
    .option('--out <dir>', 'where reports go', 'sim-results');

  let options: ReturnType<typeof program.opts>;
  try {
    program.parse([...argv], { from: 'user' });
    options = program.opts();
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    // --help and --version exit with 0 after commander printed what was asked.
    return code === 0 ? 0 : 1;
  }

  const overrides: Partial<SimulationConfig> = {
    nodes: options.nodes,
    coverage: options.coverage,
    servers: options.servers ?? (options.split ? 2 : undefined),
    priorities: options.priorities as ServerPriority[] | undefined,
    malicious: options.malicious,
    liars: options.liars,
    intervalMs: options.interval,
    rounds: options.rounds,
    topology: options.topology as TopologyModel | undefined,
    degree: options.degree,
    seed: options.seed === undefined ? undefined : /^\d+$/.test(options.seed) ? Number(options.seed) : options.seed,
    split: options.split,
    campShare: options.campShare,
    seeders: options.seeders,
    evasive: options.evasive,
    verify: options.verify,
    verifyLies: options.verifyLies,
    listAtMs: options.listAt,
    syncLagMs: options.syncLag,
    redial: options.redial,
  };
  let config: SimulationConfig;
  try {
    config = resolveConfig(overrides);
  } catch (error) {
    if (!(error instanceof InvalidSimulationConfigError)) throw error;
    io.stderr(`simulate: ${error.message}`);
    return 1;
  }
  const out = resolve(options.out as string);
  const command = `npm run simulate -- ${argv.join(' ')}`.trim();
  const progress = (label: string) => (p: SimulationProgress) => {
    io.stderr(
      `[sim] ${label} interval ${p.round}/${p.rounds}: reach ${percent(p.reach)}, ${p.black} black, ${p.isolatedOrigins}/${p.origins} origins isolated (${(p.elapsedMs / 1000).toFixed(1)} s)`,
    );
  };

  if (options.sweep) {
    const parameter = options.sweep as SweepParameter;
    const sweep = await runSweep(parameter, config, {
      onRun: (i, total, value) => io.stderr(`[sim] run ${i + 1}/${total}: ${parameter} ${value}`),
      onProgress: progress(`${parameter}`),
    });
    const report = await writeSweepReport(sweep, join(out, reportName(config, parameter)), command);
    io.stderr(`[sim] report: ${report}`);
    io.stdout(
      JSON.stringify({
        sweep: parameter,
        nodes: config.nodes,
        points: sweep.runs.map((run) => run.summary),
        report,
      }),
    );
    return 0;
  }

  io.stderr(`[sim] ${config.nodes} nodes, coverage ${config.coverage}, seed ${config.seed}: setting up`);
  const result = await runSimulation(config, { onProgress: progress(`n=${config.nodes} c=${config.coverage}`) });
  const report = await writeRunReport(result, join(out, reportName(config)), command);
  io.stderr(`[sim] report: ${report}`);
  io.stdout(
    JSON.stringify({
      ...result.summary,
      originsIsolated: `${result.isolation.isolated}/${result.isolation.origins}`,
      strangersRatedBlack: result.strangers.ratedBlack,
      ...(result.partition && {
        crossCampEdgesLeft: result.partition.crossCampEdgesAfter,
        crossCampEdgesBefore: result.partition.crossCampEdgesBefore,
        mixedComponentShare: result.partition.mixedComponentShare,
        // In a split, the false positives are this: each camp's server rates the other camp black.
        ratedBlackByOtherCamp: result.partition.ratedBlackByOtherCamp,
      }),
      elapsedMs: Math.round(result.run.elapsedMs),
      report,
    }),
  );
  return 0;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
  return n;
}

function share(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`"${value}" is not a share from 0 to 1.`);
  return n;
}

function priorities(value: string): ServerPriority[] {
  const list = value.split(',').map((p) => p.trim());
  if (list.length === 0 || list.some((p) => p !== 'high' && p !== 'low')) {
    throw new InvalidArgumentError(`"${value}" is not a list of high and low.`);
  }
  return list as ServerPriority[];
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, min: 60_000, h: 3_600_000 };

/** A duration in ms: `90`, `90s`, `1.5m`, `-1h`, `500ms`; plain numbers are seconds. */
function duration(value: string): number {
  const match = /^(-?\d+(?:\.\d+)?)(ms|s|m|min|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 60, 60s, 1m, 500ms, -1h).`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
