import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { logger } from '@libp2p/logger';
import { type DemoChain, startDemoChain } from './chain.js';
import { type DemoIpfsHost, startIpfsHost } from './ipfs-host.js';
import { type DemoNetwork, startDemoNetwork } from './network.js';
import type { DemoNode } from './nodes.js';
import { freePorts } from './ports.js';
import { ProcessSupervisor } from './processes.js';
import { Claims, formatTable, type NodeRow, Timeline } from './report.js';
import { DemoStory, type StoryRecord } from './story.js';
import { drawTopology } from './topology.js';

const log = logger('nrp:demo');

export interface DemoOptions {
  /** Nodes in all, the distributor included. */
  nodes: number;
  seed: number;
  /** Keep everything running after the story, until `signal` aborts (Ctrl-C), and keep the work dir. */
  keep: boolean;
  /** Where to keep data dirs, configurations and logs; kept afterwards. Default: a temporary folder, removed. */
  workDir?: string;
  /** The timeline and the final table. */
  out: Writable;
  /** Aborted on Ctrl-C: the demo stops what it started and ends. */
  signal: AbortSignal;
}

export interface DemoResult {
  ok: boolean;
  nodes: number;
  seed: number;
  seconds: number;
  dashboard?: string;
  claims: Record<string, boolean>;
  table: NodeRow[];
  workDir?: string;
  error?: string;
}

/** Socket errors libp2p may let escape while peers vanish (see src/cli/commands/node.ts); the demo goes on. */
const PEER_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * `npm run demo`: sets up an in-process chain with a DAO, two rating servers and a network of nodes on this
 * machine, tells the story of PRODUCT.md with them, checks every claim of it from what the processes report,
 * prints the final table, and stops everything it started. `ok` only if every claim held.
 *
 * @example
 * const result = await runDemo({ nodes: 12, seed: 1, keep: false, out: process.stdout, signal });
 * process.exitCode = result.ok ? 0 : 1;
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const timeline = new Timeline(options.out);
  const claims = new Claims(timeline);
  const topology = drawTopology(options.nodes, options.seed);
  const workDir = options.workDir ? await emptyWorkDir(options.workDir) : await mkdtemp(join(tmpdir(), 'nrp-demo-'));
  const supervisor = new ProcessSupervisor(join(workDir, 'logs'));
  const killAll = () => supervisor.killAll();
  const onUncaught = (error: NodeJS.ErrnoException) => {
    if (PEER_SOCKET_ERRORS.has(error.code ?? '')) {
      log('a peer connection failed: %s', error.message);
      return;
    }
    options.out.write(`demo: fatal: ${error.stack ?? error.message}\n`);
    supervisor.killAll();
    process.exit(1);
  };
  process.on('exit', killAll);
  process.on('uncaughtException', onUncaught);

  let chain: DemoChain | undefined;
  let host: DemoIpfsHost | undefined;
  let network: DemoNetwork | undefined;
  let story: DemoStory | undefined;
  let error: Error | undefined;
  let table: NodeRow[] = [];
  timeline.setup(`${options.nodes} nodes, seed ${options.seed}, work dir ${workDir}`);
  try {
    chain = await startDemoChain({ workDir, onProgress: (line) => timeline.setup(line) });
    timeline.setup(
      `in-process Hardhat chain served at ${chain.rpcUrl}; DAO list ${chain.deployment.contracts.IllegalDataList}`,
    );
    const [ipfsPort] = await freePorts(1);
    host = await startIpfsHost({ dataDir: join(workDir, 'proposers'), port: ipfsPort });
    timeline.setup(`the proposers' IPFS node (as nrp ipfs serve) at ${host.addresses[0]}`);
    network = await startDemoNetwork({
      chain,
      host,
      supervisor,
      topology,
      timeline,
      workDir,
      signal: options.signal,
    });
    story = new DemoStory(network, claims, options.seed);
    await story.run();
  } catch (caught) {
    error = caught as Error;
    if (options.signal.aborted) error = new Error('interrupted (Ctrl-C)');
    timeline.claim(false, `the demo stopped: ${error.message}`);
    log('demo failed: %s', (caught as Error).stack);
  }

  if (network && story) {
    table = await finalTable(network, story.record).catch((e: Error) => {
      timeline.info(`(no final table: ${e.message})`);
      return [];
    });
    if (table.length > 0) {
      timeline.raw('');
      timeline.raw(formatTable(table));
    }
  }
  const ok = error === undefined && claims.allHold;
  const dashboard = network ? `${network.servers.s1.httpUrl}/` : undefined;
  timeline.raw('');
  if (ok) {
    timeline.raw(
      `Every claim of the story held (${claims.results.size} claims), in ${Math.round(timeline.elapsedSeconds)} s.`,
    );
  } else {
    const failed = [...claims.results].filter(([, c]) => !c.holds).map(([name]) => name);
    timeline.raw(
      `The story did NOT hold${failed.length ? `: ${failed.join(', ')}` : ''}${error ? `; ${error.message}` : ''}.`,
    );
    timeline.raw(`Logs of every node and server: ${supervisor.logDir}`);
  }
  if (options.keep && !options.signal.aborted && network) {
    timeline.raw(`Dashboard: ${dashboard} — everything stays up until Ctrl-C.`);
    await new Promise<void>((resolve) => options.signal.addEventListener('abort', () => resolve(), { once: true }));
  } else if (dashboard) {
    timeline.raw(`Dashboard (while it ran): ${dashboard}; run with --keep to keep it up.`);
  }

  timeline.raw('Stopping every process the demo started…');
  await supervisor.stopAll().catch((e: Error) => log('stopping children: %s', e.message));
  await host?.stop().catch((e: Error) => log('stopping IPFS: %s', e.message));
  await chain?.close().catch((e: Error) => log('stopping the chain: %s', e.message));
  process.off('uncaughtException', onUncaught);
  process.off('exit', killAll);
  const keepDir = options.keep || options.workDir !== undefined || !ok;
  if (!keepDir) await rm(workDir, { recursive: true, force: true });
  else timeline.raw(`Work dir kept: ${workDir}`);
  return {
    ok,
    nodes: options.nodes,
    seed: options.seed,
    seconds: Math.round(timeline.elapsedSeconds),
    ...(dashboard && { dashboard }),
    claims: claims.toJSON(),
    table,
    ...(keepDir && { workDir }),
    ...(error && { error: error.message }),
  };
}

/** The work dir was used before: its nodes' records belong to another run's chain. */
export class WorkDirNotEmptyError extends Error {
  override name = 'WorkDirNotEmptyError';
}

/** `dir`, absolute, created if missing; refused if it holds anything (a chain's state starts afresh every run). */
async function emptyWorkDir(dir: string): Promise<string> {
  const path = resolve(dir);
  await mkdir(path, { recursive: true });
  if ((await readdir(path)).length > 0) {
    throw new WorkDirNotEmptyError(`The work dir ${path} is not empty: remove it, or name a new one.`);
  }
  return path;
}

/** One row per node: the verdicts on it, the penalties it applies, who penalises it, and what listed file it holds. */
async function finalTable(network: DemoNetwork, record: StoryRecord): Promise<NodeRow[]> {
  const { nodes, servers } = network;
  const serverList = [servers.s1, servers.s2, ...(record.fork ? [record.fork.server] : [])];
  const verdicts = await Promise.all(
    serverList.map(async (server) => ({ server, view: await server.verdicts().catch(() => undefined) })),
  );
  const names = new Map(nodes.map((node) => [node.peerId, node.name]));
  const statuses = await Promise.all(
    nodes.map(async (node) => (node.process?.running ? await node.status().catch(() => undefined) : undefined)),
  );
  const listed = record.listed.map((item) => ({ name: item.name, cid: item.cid as string }));
  const penalisedBy = new Map<string, string[]>();
  statuses.forEach((status, i) => {
    for (const penalty of status?.penalties ?? []) {
      if (penalty.kind === 'none') continue;
      const entry = penalisedBy.get(penalty.peer) ?? [];
      entry.push(`${penalty.kind === 'disconnect' ? 'cut' : 'delayed'} by ${nodes[i].name}`);
      penalisedBy.set(penalty.peer, entry);
    }
  });
  return nodes.map((node: DemoNode, i): NodeRow => {
    const rated = verdicts
      .map(({ server, view }) => {
        const verdict = view?.verdicts.find((v) => v.peer === node.peerId);
        return verdict ? `${server.name} ${verdict.rating}` : undefined;
      })
      .filter(Boolean);
    const applies = (statuses[i]?.penalties ?? [])
      .filter((p) => p.kind !== 'none')
      .map((p) => `${p.kind === 'disconnect' ? 'cuts' : 'delays'} ${names.get(p.peer) ?? `${p.peer.slice(0, 10)}…`}`);
    let held: Set<string>;
    try {
      held = node.held();
    } catch {
      held = new Set();
    }
    const holds = listed.filter((item) => held.has(item.cid)).map((item) => item.name);
    const moved = node.plan.fork && node.starts > 1;
    return {
      name: node.name,
      role: node.plan.group === 'distributor' ? 'distributor' : moved ? 'honest, fork' : 'honest',
      follows:
        node.plan.group === 'distributor'
          ? 'nobody'
          : moved
            ? 'fork high'
            : node.plan.group === 'both'
              ? 's1 high, s2 low'
              : 's2 low',
      verdicts: rated.join(', ') || '-',
      applies: applies.join(', ') || '-',
      penalisedBy: summarise(penalisedBy.get(node.peerId) ?? []),
      listedHeld: holds.length === 0 ? 'no' : `${holds.join(', ')}${moved ? ' (not on the fork list)' : ''}`,
    };
  });
}

/** "cut by n01, cut by n04, delayed by n02" → "cut by n01 n04; delayed by n02". */
function summarise(entries: string[]): string {
  if (entries.length === 0) return '-';
  const groups = new Map<string, string[]>();
  for (const entry of entries) {
    const [kind, who] = entry.split(' by ');
    groups.set(kind, [...(groups.get(kind) ?? []), who]);
  }
  return [...groups].map(([kind, who]) => `${kind} by ${who.join(' ')}`).join('; ');
}
