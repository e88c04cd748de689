import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimulationConfig } from './config.js';
import type { SimulationResult } from './results.js';
import { formatPercent, lineChart } from './svg-chart.js';
import type { SweepResult } from './sweep.js';

/** The issue's targets, for 10,000 nodes at 0.9 coverage. */
export const TARGETS = Object.freeze({
  nodes: 10_000,
  coverage: 0.9,
  reach: 0.02,
  roundsToIsolate: 3,
  falsePositiveRate: 0.01,
  elapsedMs: 120_000,
});

/** Where a run's or a sweep's report goes under the output folder, named by what it varies. */
export function reportName(config: SimulationConfig, sweep?: string): string {
  const parts = sweep ? [`sweep-${sweep}`, `n${config.nodes}`] : ['run', `n${config.nodes}`, `c${config.coverage}`];
  if (config.split) parts.push('split');
  if (config.servers > 1 && !config.split) parts.push(`s${config.servers}-${config.priorities.join('-')}`);
  if (config.topology !== 'random-regular') parts.push(config.topology);
  if (config.evasive) parts.push('evasive');
  parts.push(`seed${config.seed}`);
  return parts.join('-');
}

/** Writes `report.md`, its charts and `result.json` into `dir`; returns the report's path. */
export async function writeRunReport(result: SimulationResult, dir: string, command: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'timeline.svg'), timelineChart(result));
  await writeFile(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  const path = join(dir, 'report.md');
  await writeFile(path, runReportMarkdown(result, command));
  return path;
}

/** Writes a sweep's `report.md`, its chart and `result.json` into `dir`; returns the report's path. */
export async function writeSweepReport(sweep: SweepResult, dir: string, command: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${sweep.parameter}.svg`), sweepChart(sweep));
  await writeFile(join(dir, 'result.json'), `${JSON.stringify(sweep, null, 2)}\n`);
  const path = join(dir, 'report.md');
  await writeFile(path, sweepReportMarkdown(sweep, command));
  return path;
}

// ─── One run ─────────────────────────────────────────────────────────────────────────────────────────────────

export function runReportMarkdown(result: SimulationResult, command: string): string {
  const { config, summary } = result;
  const lines: string[] = [];
  lines.push(`# Network simulation: ${count(config.nodes)} nodes, coverage ${config.coverage}`, '');
  lines.push(`Made by \`${command}\` (seed ${config.seed}, ${seconds(result.run.elapsedMs)}).`, '');
  lines.push('## Result', '');
  const atTarget = config.nodes === TARGETS.nodes && config.coverage === TARGETS.coverage && !config.split;
  const scope = config.split
    ? ' (set for one policy: a split rates the other camp black by design)'
    : ` (set for ${count(TARGETS.nodes)} nodes at ${TARGETS.coverage})`;
  lines.push(`| measure | value | target${atTarget ? '' : scope} |`, '|---|---|---|');
  lines.push(
    `| reach of the listed content | ${maybePercent(summary.reach)} | ≤ ${formatPercent(TARGETS.reach)} ${check(summary.reach !== null && summary.reach <= TARGETS.reach)} |`,
    `| report intervals to isolate every origin | ${summary.roundsToIsolate ?? `not all isolated (${result.isolation.isolated} of ${result.isolation.origins})`} | ≤ ${TARGETS.roundsToIsolate} ${check(summary.roundsToIsolate !== null && summary.roundsToIsolate <= TARGETS.roundsToIsolate)} |`,
    `| false-positive rate | ${maybePercent(summary.falsePositiveRate)} (${result.falsePositives.ratedBlack} of ${count(result.falsePositives.complying)}) | ≤ ${formatPercent(TARGETS.falsePositiveRate)} ${check(summary.falsePositiveRate !== null && summary.falsePositiveRate <= TARGETS.falsePositiveRate)} |`,
    `| run time | ${seconds(result.run.elapsedMs)} | < ${seconds(TARGETS.elapsedMs)} ${check(result.run.elapsedMs < TARGETS.elapsedMs)} |`,
    '',
  );
  lines.push('![Reach, black ratings and isolated origins by report interval](timeline.svg)', '');
  lines.push(...definitions());

  lines.push('## Population', '');
  const p = result.population;
  lines.push(
    '| nodes | followers | of them high-priority | strangers (follow no server) | malicious | lying reporters | seeders | complying |',
    '|---|---|---|---|---|---|---|---|',
    `| ${count(p.nodes)} | ${count(p.followers)} | ${count(p.highFollowers)} | ${count(p.strangers)} | ${p.malicious} | ${p.liars} | ${p.seeders} | ${count(p.complying)} |`,
    '',
  );

  lines.push('## Content', '');
  lines.push(
    '| item | listed by servers | holders at the end | reach | reach by camp (A, B) |',
    '|---|---|---|---|---|',
  );
  for (const item of result.items) {
    const byCamp = item.reachByCamp ? item.reachByCamp.map(formatPercent).join(', ') : '—';
    lines.push(
      `| ${item.label} (\`${item.cid.slice(0, 16)}…\`) | ${item.listedBy.join(', ') || 'none'} | ${item.holders} | ${formatPercent(item.reach)} | ${byCamp} |`,
    );
  }
  lines.push('');

  lines.push('## Origins', '');
  const iso = result.isolation;
  lines.push(
    `${iso.isolated} of ${iso.origins} malicious origins were isolated; at most ${iso.maxRounds ?? '—'} and on average ${iso.meanRounds === null ? '—' : iso.meanRounds.toFixed(2)} report intervals after their first push.`,
    '',
  );
  lines.push(
    '| origin | kind | high-priority followers among its neighbours at the start | connections lost | redials accepted | intervals to isolate |',
    '|---|---|---|---|---|---|',
  );
  for (const origin of iso.list.slice(0, 25)) {
    lines.push(
      `| \`${origin.peerId.slice(0, 16)}…\` | ${origin.kind} | ${origin.highNeighboursAtStart} | ${origin.disconnections} | ${origin.redials} | ${origin.rounds ?? 'not isolated'} |`,
    );
  }
  if (iso.list.length > 25) lines.push(`| … ${iso.list.length - 25} more | | | | | |`);
  lines.push('');

  lines.push('## Penalties', '');
  const s = result.strangers;
  const fp = result.falsePositives;
  lines.push(
    `- Complying nodes rated black by any server: ${fp.ratedBlack} of ${count(fp.complying)}; by a server they follow: ${fp.ratedBlackByFollowedServer}; rated gray: ${fp.ratedGray}.`,
    `- Strangers (honest nodes that follow no server): ${count(s.count)}. Rated black: ${s.ratedBlack}. Holding the listed content at the end: ${s.holding}. Of the ${count(s.hadFollowerNeighbour)} with a follower among their neighbours at the start, ${s.cutOff} had none left at the end.`,
    `- Lying reporters: ${result.liars.count}; their made-up reports were refused ${result.liars.liesRejected} times and accepted ${result.liars.liesAccepted} times.`,
    `- Connections: ${count(result.network.edgesBefore)} at the start, ${count(result.network.edgesAfter)} at the end; ${count(result.network.edgesCut)} closed by penalties.`,
    '',
  );
  if (result.partition) lines.push(...partitionSection(result), '');

  lines.push('## Servers', '');
  lines.push(
    '| server | priority | followers | reports accepted | reports refused | sightings counted | verdicts (white/gray/black) | inference passes | inference time |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const server of result.servers) {
    const refused = Object.entries(server.stats.reportsRejected)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    const r = server.stats.ratings;
    lines.push(
      `| \`${server.peerId.slice(0, 16)}…\` | ${server.priority} | ${count(server.followers)} | ${count(server.stats.reportsAccepted)} | ${refused || '0'} | ${server.stats.sightingsCounted} (${server.stats.sightingsIgnored} ignored) | ${r.white}/${r.gray}/${r.black} | ${server.stats.inferences} | ${seconds(server.stats.inferenceMs)} |`,
    );
  }
  lines.push('');
  lines.push(...modelSection(config));
  lines.push(...parameterSection(config));
  lines.push(
    `Events: ${count(result.run.events)}; signatures made: ${count(result.run.signatures)}; setup ${seconds(result.run.setupMs)}.`,
    '',
  );
  return `${lines.join('\n')}`;
}

function partitionSection(result: SimulationResult): string[] {
  const p = result.partition;
  if (!p) return [];
  return [
    '## The split (二分)',
    '',
    `Two camps of followers, ${count(p.campSizes[0])} and ${count(p.campSizes[1])}, each following only its own server, whose lists differ by one item each; honest nodes of each camp share the item their server allows.`,
    '',
    `- Connections between the camps: ${count(p.crossCampEdgesBefore)} at the start, ${count(p.crossCampEdgesAfter)} at the end (${formatPercent(1 - p.crossCampEdgesAfter / Math.max(1, p.crossCampEdgesBefore))} cut).`,
    `- Followers whose connected component (over followers) still holds both camps: ${formatPercent(p.mixedComponentShare)}; largest component: ${formatPercent(p.largestComponentShare)} of followers.`,
    `- Complying followers rated black by the other camp's server: ${formatPercent(p.ratedBlackByOtherCamp)}. By the issue's definition these count as false positives; here they are the split the seed predicts.`,
  ];
}

function definitions(): string[] {
  return [
    "**Definitions.** *Reach*: the share of all non-malicious nodes, followers or not, that hold the listed content at the end. *Intervals to isolate*: report intervals from an origin's first push until it has no connection left to any node that follows a server at high priority (rounded up; the JSON line gives the worst origin). *False-positive rate*: the share of complying nodes (they follow at least one server, never originate listed content, report honestly) that any server rated black at any time during the run.",
    '',
  ];
}

function modelSection(config: SimulationConfig): string[] {
  return [
    '## Model',
    '',
    "- **Real code.** Entry ids (`entryId`), list membership (`MembershipIndex`, via the intake's `listedIn`), the server's `TopologyMap`, `EntryEffectiveTimes` and the server's inference pass (`inferFromFeed`, `inferVerdicts` with its default parameters), and the node's penalty rule (`penaltyFromVerdicts`, the product's table: black from a high-priority server disconnects, from a low one delays). Lying reports are real signed messages (`createReport`, `createAdvert`, `signEdgeHalf`) checked by the server's `ReportVerifier`.",
    config.verify === 'all'
      ? "- **Verification: all.** Every advert, edge attestation, report and verdict snapshot is signed with the node's real Ed25519 key; every report goes through the real `ReportIntake` into a `ServerStore` (SQLite in memory), read by the real `EvidenceFeed`; the real `VerdictIssuer` signs each snapshot and followers check it with `verifyVerdictSnapshot`."
      : "- **Verification: liars.** Honest reports enter the server as the records its intake stores after verification (attested edges, sightings), without the signatures; only the lying reporters' reports are signed and verified. `--verify all` runs every message through the real intake, store and issuer (about ten times slower).",
    '- **Simulated.** The transport (an advert crosses a connection in 20–200 ms, a fetch takes 0.5–3 s) and the clock. Adverts are never forwarded: a node that fetched content advertises it under its own signature. Followers refuse listed content once the list version reaches them (up to `syncLagMs` after it takes effect), keep the advert as evidence, report every interval, poll verdicts every 30 s and hang up on neighbours to disconnect (and refuse them later); delayed neighbours\' adverts, and their own adverts to them, wait 2 s. Strangers relay everything and report nothing. Malicious distributors push every minute, never report, and redial random nodes to replace lost connections. Lying reporters add a made-up report each interval: adverts "from" an honest neighbour that they signed themselves, or an edge with a far node that never signed it. Honest nodes do not replace lost connections.',
    "- **Edges** are attested when a connection opens and every 10 minutes while it lasts; a report carries those attested in the last 30 minutes, closed connections included, as the node's edge service does.",
    '',
  ];
}

function parameterSection(config: SimulationConfig): string[] {
  const rows: [string, string][] = [
    ['nodes', count(config.nodes)],
    ['coverage (share of nodes following each server)', String(config.coverage)],
    [
      'servers (priority)',
      `${config.servers} (${config.split ? 'high, high: a split' : config.priorities.join(', ')})`,
    ],
    ['malicious distributors', `${config.malicious} of the nodes`],
    ['lying reporters', `${config.liars} of the nodes`],
    ['report interval', seconds(config.intervalMs)],
    ['report intervals simulated', String(config.rounds)],
    ['topology', `${config.topology}, degree ${config.degree}`],
    ['seed', String(config.seed)],
    ['evasive origins (refuse to sign edges)', config.evasive ? 'yes' : 'no'],
    ['verification', config.verify],
    ['list version takes effect', `${seconds(config.listAtMs)} from the first push`],
    ['sync lag (up to)', seconds(config.syncLagMs)],
    ['push interval; redials per push', `${seconds(config.pushIntervalMs)}; ${config.redial}`],
    ['poll interval; inference interval', `${seconds(config.pollIntervalMs)}; ${seconds(config.inferenceIntervalMs)}`],
  ];
  if (config.split) rows.push(['camp A share; seeders per item', `${config.campShare}; ${config.seeders}`]);
  return ['## Parameters', '', '| parameter | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), ''];
}

export function timelineChart(result: SimulationResult): string {
  const { timeline, partition } = result;
  const nodes = Math.max(1, result.population.nodes);
  const series = [
    { name: 'reach of the listed content', points: timeline.map((t): [number, number] => [t.round, t.reach]) },
    { name: 'nodes rated black now', points: timeline.map((t): [number, number] => [t.round, t.black / nodes]) },
  ];
  if (partition) {
    const before = Math.max(1, partition.crossCampEdgesBefore);
    series.push({
      name: 'connections left between camps',
      points: timeline.map((t): [number, number] => [t.round, (t.crossCampEdges ?? 0) / before]),
    });
  }
  return lineChart({
    title: `Reach and penalties by report interval (${count(result.config.nodes)} nodes, coverage ${result.config.coverage})`,
    xLabel: 'report intervals since the first push',
    yLabel: 'share',
    formatY: formatPercent,
    series,
    references: [{ label: `reach target ${formatPercent(TARGETS.reach)}`, y: TARGETS.reach, color: '#999' }],
  });
}

// ─── A sweep ─────────────────────────────────────────────────────────────────────────────────────────────────

export function sweepReportMarkdown(sweep: SweepResult, command: string): string {
  const { base } = sweep;
  const lines: string[] = [];
  lines.push(`# Coverage sweep: ${count(base.nodes)} nodes`, '');
  lines.push(`Made by \`${command}\` (seed ${base.seed}, ${sweep.runs.length} runs, ${seconds(sweep.elapsedMs)}).`, '');
  lines.push(
    "The seed's central claim: a server that most users follow effectively deletes what it lists, and nodes that do not follow it (strangers) are pushed out, and so pushed to join. Each run uses the same seed: the same topology, the same malicious nodes, and followers at a higher coverage include those at a lower one.",
    '',
  );
  lines.push(`![Reach and false positives against coverage](${sweep.parameter}.svg)`, '');
  lines.push(
    '| coverage | reach | intervals to isolate (worst) | origins isolated | false-positive rate | strangers | strangers rated black | strangers cut off from followers | run time |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const run of sweep.runs) {
    const s = run.strangers;
    lines.push(
      `| ${run.config.coverage} | ${maybePercent(run.summary.reach)} | ${run.summary.roundsToIsolate ?? '—'} | ${run.isolation.isolated}/${run.isolation.origins} | ${maybePercent(run.summary.falsePositiveRate)} | ${count(s.count)} | ${s.ratedBlack} (${maybePercent(s.count === 0 ? null : s.ratedBlack / s.count)}) | ${s.cutOff} | ${seconds(run.run.elapsedMs)} |`,
    );
  }
  lines.push('');
  lines.push(...definitions());
  lines.push(...modelSection(base));
  lines.push(...parameterSection({ ...base, coverage: Number.NaN }).map((l) => l.replace('| NaN |', '| swept |')));
  return lines.join('\n');
}

export function sweepChart(sweep: SweepResult): string {
  const x = (run: SimulationResult) => run.config[sweep.parameter];
  return lineChart({
    title: `Reach and false positives against coverage (${count(sweep.base.nodes)} nodes, seed ${sweep.base.seed})`,
    xLabel: 'coverage: share of nodes following the server',
    yLabel: 'share',
    formatY: formatPercent,
    xDomain: [0, 1],
    series: [
      { name: 'reach of the listed content', points: sweep.runs.map((run) => [x(run), run.summary.reach ?? 0]) },
      {
        name: 'false-positive rate',
        points: sweep.runs.map((run) => [x(run), run.summary.falsePositiveRate ?? 0]),
      },
      {
        name: 'strangers rated black (share of strangers)',
        points: sweep.runs.map((run) => [
          x(run),
          run.strangers.count === 0 ? 0 : run.strangers.ratedBlack / run.strangers.count,
        ]),
      },
      {
        name: 'strangers (share of all nodes)',
        color: '#999',
        points: sweep.runs.map((run) => [x(run), run.strangers.count / run.population.nodes]),
      },
    ],
    references: [
      { label: `reach target ${formatPercent(TARGETS.reach)}`, y: TARGETS.reach, color: '#1f77b4' },
      {
        label: `false-positive target ${formatPercent(TARGETS.falsePositiveRate)}`,
        y: TARGETS.falsePositiveRate,
        color: '#d62728',
      },
    ],
  });
}

// ─── Formatting ──────────────────────────────────────────────────────────────────────────────────────────────

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (Math.abs(s) >= 120 && Number.isInteger(s / 60)) return `${s / 60} min`;
  return `${Math.abs(s) >= 10 ? Math.round(s) : s.toFixed(1)} s`;
}

function maybePercent(value: number | null): string {
  return value === null ? '—' : formatPercent(value);
}

function check(ok: boolean): string {
  return ok ? '✔' : '✘';
}
