import { logger } from '@libp2p/logger';
import { serverStatusCall } from '../chain/registry.js';
import { DEMO_ACCOUNTS, type DemoChain } from './chain.js';
import { voteThrough } from './governance.js';
import type { DemoIpfsHost } from './ipfs-host.js';
import { DemoNode, type DemoNodeSettings } from './nodes.js';
import { SERVER_1_POLICY, SERVER_2_INFERENCE, SERVER_2_POLICY } from './policies.js';
import { freePorts } from './ports.js';
import type { ProcessSupervisor } from './processes.js';
import type { Timeline } from './report.js';
import { DemoServer } from './servers.js';
import { type DemoTopology, dialsOf, neighboursOf } from './topology.js';
import { waitUntil, withConcurrency } from './wait.js';

const log = logger('nrp:demo:network');

/** Children started at once: each compiles and loads the sources, and the machine may have two cores. */
const START_CONCURRENCY = 4;

/** Everything the story acts on. */
export interface DemoNetwork {
  chain: DemoChain;
  host: DemoIpfsHost;
  supervisor: ProcessSupervisor;
  topology: DemoTopology;
  servers: { s1: DemoServer; s2: DemoServer };
  /** In topology order; the distributor is the last. */
  nodes: DemoNode[];
  distributor: DemoNode;
  honest: DemoNode[];
  timeline: Timeline;
  workDir: string;
  signal?: AbortSignal;
}

export interface StartDemoNetworkParameters {
  chain: DemoChain;
  host: DemoIpfsHost;
  supervisor: ProcessSupervisor;
  topology: DemoTopology;
  timeline: Timeline;
  workDir: string;
  signal?: AbortSignal;
}

/** How a node of `topology` is configured to follow servers, and whom it dials. */
export function nodeSettings(
  network: Pick<DemoNetwork, 'chain' | 'servers' | 'topology'>,
  nodes: DemoNode[],
  node: DemoNode,
): DemoNodeSettings {
  const { s1, s2 } = network.servers;
  const bootstrap = dialsOf(network.topology, node.plan.index).map((index) => nodes[index].multiaddr);
  switch (node.plan.group) {
    case 'distributor':
      return { bootstrap, servers: [], autoFetch: false };
    case 'low-only':
      return {
        bootstrap,
        servers: [{ peerId: s2.peerId, priority: 'low' }],
        deployment: network.chain.deploymentPath,
        autoFetch: true,
      };
    case 'both':
      return {
        bootstrap,
        servers: [
          { peerId: s1.peerId, priority: 'high' },
          { peerId: s2.peerId, priority: 'low' },
        ],
        deployment: network.chain.deploymentPath,
        autoFetch: true,
      };
  }
}

/**
 * The set-up: two rating servers with their own data dirs, policies and ports, registered on chain and activated
 * by one token-holder vote; then every node of the topology, each dialing its neighbours that started before it
 * (the distributor last); then a wait until every edge of the topology is connected.
 */
export async function startDemoNetwork(parameters: StartDemoNetworkParameters): Promise<DemoNetwork> {
  const { chain, host, supervisor, topology, timeline, workDir, signal } = parameters;
  const [s1Port, s1Http, s2Port, s2Http, ...nodePorts] = await freePorts(4 + topology.nodes.length);
  const s1 = await DemoServer.create({
    name: 's1',
    label: 'server 1',
    workDir,
    port: s1Port,
    httpPort: s1Http,
    inferenceIntervalMs: 2_000,
    bootstrap: host.addresses,
  });
  const s2 = await DemoServer.create({
    name: 's2',
    label: 'server 2',
    workDir,
    port: s2Port,
    httpPort: s2Http,
    inferenceIntervalMs: 3_000,
    inference: SERVER_2_INFERENCE,
    bootstrap: host.addresses,
  });
  timeline.setup('starting rating servers 1 and 2 (nrp server start), each with its own data dir and policy');
  await timeline.waiting('the rating servers to start', () =>
    Promise.all([s1.start(supervisor, chain, signal), s2.start(supervisor, chain, signal)]),
  );
  const [policy1, policy2] = await Promise.all([host.addDocument(SERVER_1_POLICY), host.addDocument(SERVER_2_POLICY)]);
  const id1 = await s1.register(chain, DEMO_ACCOUNTS.operators[0], policy1.toString());
  const id2 = await s2.register(chain, DEMO_ACCOUNTS.operators[1], policy2.toString());
  timeline.setup(`server 1 applied as registry id ${id1} (policy ${policy1}), server 2 as id ${id2} (${policy2})`);
  const { contracts, fromBlock } = chain.deployment;
  await voteThrough(chain, {
    governor: contracts.RatingGovernor,
    calls: [
      serverStatusCall(contracts.RatingServerRegistry, id1, 'active'),
      serverStatusCall(contracts.RatingServerRegistry, id2, 'active'),
    ],
    description: `Activate rating servers ${id1} and ${id2}`,
    voters: DEMO_ACCOUNTS.holders.slice(0, 3),
    fromBlock: BigInt(fromBlock),
    onProgress: (line) => timeline.setup(`activation vote: ${line}`),
  });
  timeline.setup(`servers 1 and 2 are active; dashboard: ${s1.httpUrl}/`);

  const nodes = await Promise.all(topology.nodes.map((plan, i) => DemoNode.create(plan, workDir, nodePorts[i])));
  const network: DemoNetwork = {
    chain,
    host,
    supervisor,
    topology,
    servers: { s1, s2 },
    nodes,
    distributor: nodes[topology.distributor],
    honest: nodes.filter((node) => node.plan.group !== 'distributor'),
    timeline,
    workDir,
    signal,
  };
  const both = network.honest.filter((n) => n.plan.group === 'both').length;
  timeline.setup(
    `starting ${nodes.length} nodes (nrp node start): ${both} follow server 1 high and server 2 low, ` +
      `${network.honest.length - both} follow server 2 low only, 1 distributor follows none; ` +
      `${topology.edges.length} links (seed topology)`,
  );
  await timeline.waiting(`${nodes.length} nodes to start`, () => startNodes(network));
  await timeline.waiting('every link of the topology to connect', () => waitForTopology(network));
  timeline.setup(`all ${nodes.length} nodes up and linked; logs in ${supervisor.logDir}`);
  return network;
}

/** Starts the nodes wave by wave (see {@link DemoNodePlan.wave}), a few at a time within a wave. */
async function startNodes(network: DemoNetwork): Promise<void> {
  const { nodes, supervisor, chain, signal } = network;
  const waves = [...new Set(nodes.map((node) => node.plan.wave))].sort((a, b) => a - b);
  for (const wave of waves) {
    const starting = nodes.filter((node) => node.plan.wave === wave);
    await withConcurrency(
      START_CONCURRENCY,
      starting.map((node) => async () => {
        await node.start(supervisor, chain.rpcUrl, nodeSettings(network, nodes, node), signal);
        log('started %s (wave %d)', node.name, wave);
      }),
    );
  }
}

/**
 * Waits until each of `which` (default: every node) is connected to every neighbour the topology gives it, but
 * those in `except`.
 */
export async function waitForTopology(
  network: DemoNetwork,
  options: { which?: DemoNode[]; except?: DemoNode[]; timeoutMs?: number } = {},
): Promise<void> {
  const { nodes, topology } = network;
  const except = new Set(options.except ?? []);
  const missing = async () => {
    const gaps: string[] = [];
    await Promise.all(
      (options.which ?? nodes).map(async (node) => {
        const peers = new Set((await node.status()).peers.map((p) => p.peerId));
        for (const other of neighboursOf(topology, node.plan.index).map((i) => nodes[i])) {
          if (!except.has(other) && !peers.has(other.peerId)) gaps.push(`${node.name}–${other.name}`);
        }
      }),
    );
    return gaps;
  };
  let last: string[] = [];
  await waitUntil(
    'every link of the topology to connect',
    async () => {
      last = await missing();
      return last.length === 0;
    },
    {
      timeoutMs: options.timeoutMs ?? 60_000,
      intervalMs: 500,
      signal: network.signal,
      health: () => {
        for (const node of nodes) node.process?.assertRunning();
      },
      describe: () => `not connected: ${last.join(', ')}`,
    },
  );
}
