import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '@libp2p/logger';
import { serverStatusCall } from '../chain/registry.js';
import { DEMO_ACCOUNTS } from './chain.js';
import { forkThroughCli, PROTESTERS, type ProtestFork } from './fork.js';
import { voteThrough } from './governance.js';
import { buildListVersion, inspectProposal } from './listing.js';
import { type DemoNetwork, waitForTopology } from './network.js';
import { DELAY_MS, type DemoNode } from './nodes.js';
import { freePorts } from './ports.js';
import type { Claims } from './report.js';
import { DemoServer } from './servers.js';
import { seededRandom } from './topology.js';
import { waitUntil } from './wait.js';

const log = logger('nrp:demo:story');

/** How often the distributor pushes its listed files again while the story watches. */
const PUSH_INTERVAL_MS = 3_000;

/** How long step 6 watches the distributor push before it checks that nothing got through. */
const GONE_WINDOW_MS = 12_000;

/** A file of the story. */
export interface StoryItem {
  /** What the timeline calls it. */
  name: string;
  bytes: Uint8Array;
  /** Its CID once someone added it. */
  cid?: string;
}

/** What the story did and saw, for the final table and JSON. */
export interface StoryRecord {
  clean: StoryItem[];
  /** The distributor's files that the vote lists; the last one is the disputed one. */
  listed: StoryItem[];
  /** Wall-clock time at which the listing version was executed on chain. */
  listedAt?: number;
  fork?: ProtestFork & { server: DemoServer };
  /** Rating server label by peer id, for the table. */
  serverLabels: Map<string, string>;
}

/** The distributor pushing its listed files again and again, as long as the story wants. */
class Pusher {
  readonly #node: DemoNode;
  readonly #items: StoryItem[];
  #timer?: ReturnType<typeof setInterval>;
  pushes = 0;

  constructor(node: DemoNode, items: StoryItem[]) {
    this.#node = node;
    this.#items = items;
  }

  start() {
    const push = () => {
      this.pushes++;
      for (const item of this.#items) {
        this.#node.add(item.bytes, item.name).catch((error: Error) => log('push failed: %s', error.message));
      }
    };
    push();
    this.#timer = setInterval(push, PUSH_INTERVAL_MS);
  }

  stop() {
    clearInterval(this.#timer);
  }
}

function file(name: string, seed: number, body: string): StoryItem {
  return { name, bytes: new TextEncoder().encode(`${name}\n${body}\n(demo seed ${seed})\n`) };
}

/**
 * The story of PRODUCT.md, told with the network of {@link startDemoNetwork}: each step acts as a user would
 * (through the nodes' control API, the chain, the servers) and then checks, from what the nodes and servers
 * report, that what the product promises happened. Claims go to `claims`; a wait that times out throws.
 */
export class DemoStory {
  readonly #net: DemoNetwork;
  readonly #claims: Claims;
  readonly #seed: number;
  readonly record: StoryRecord;
  #pusher?: Pusher;

  constructor(network: DemoNetwork, claims: Claims, seed: number) {
    this.#net = network;
    this.#claims = claims;
    this.#seed = seed;
    this.record = {
      clean: [
        file('field-notes.txt', seed, 'Birds seen at the river this week: heron, kingfisher, two cormorants.'),
        file('bread-recipe.md', seed, '500 g flour, 350 g water, 10 g salt, 5 g yeast. Rest overnight.'),
        file('meeting-minutes.txt', seed, 'The garden club meets on the first Sunday of every month.'),
      ],
      listed: [
        file('leaked-passwords.csv', seed, 'alice@example.org,hunter2 (personal data published to harm)'),
        file('game-patch.exe', seed, 'MZ… a patch for an old game; some call it malware, some do not'),
      ],
      serverLabels: new Map([
        [network.servers.s1.peerId, 's1'],
        [network.servers.s2.peerId, 's2'],
      ]),
    };
  }

  get #timeline() {
    return this.#net.timeline;
  }

  /** Throws if a node or server the story needs has exited (a node being restarted is not needed meanwhile). */
  #health = () => {
    const { nodes, servers } = this.#net;
    for (const node of nodes) if (!this.#restarting.has(node)) node.process?.assertRunning();
    for (const server of [servers.s1, servers.s2, this.record.fork?.server]) server?.process?.assertRunning();
  };

  readonly #restarting = new Set<DemoNode>();

  async #wait(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, describe?: () => string) {
    await this.#timeline.waiting(what, () =>
      waitUntil(what, check, {
        timeoutMs,
        intervalMs: 500,
        signal: this.#net.signal,
        health: this.#health,
        describe,
      }),
    );
  }

  /** Waits until `pending` lists nothing; the timeout's message names what it listed last. */
  async #waitUntilNone(what: string, pending: () => string[] | Promise<string[]>, timeoutMs: number) {
    let last: string[] = [];
    await this.#wait(
      what,
      async () => {
        last = await pending();
        return last.length === 0;
      },
      timeoutMs,
      () => `still pending: ${last.join(', ')}`,
    );
  }

  /** Runs every step; stops at the first wait that times out. */
  async run(): Promise<void> {
    try {
      await this.cleanSharing();
      await this.listingVote();
      await this.nodesRefuse();
      await this.serversInferOrigin();
      await this.penaltiesApply();
      await this.contentIsGone();
      await this.protestFork();
    } finally {
      this.#pusher?.stop();
    }
  }

  // ─── 1 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async cleanSharing() {
    const { honest, distributor } = this.#net;
    this.#timeline.step(1, 'honest nodes and the distributor share files; nothing is listed yet');
    const random = seededRandom(this.#seed + 1);
    for (const item of this.record.clean) {
      const sharer = honest[Math.floor(random() * honest.length)];
      item.cid = (await sharer.add(item.bytes, item.name)).cid;
      this.#timeline.info(`${sharer.name} shares ${item.name} (${shortCid(item.cid)})`);
    }
    for (const item of this.record.listed) {
      item.cid = (await distributor.add(item.bytes, item.name)).cid;
      this.#timeline.info(`${distributor.name} shares ${item.name} (${shortCid(item.cid)})`);
    }
    const all = [...this.record.clean, ...this.record.listed];
    const started = Date.now();
    const missing = () =>
      honest.flatMap((node) => {
        const held = node.held();
        return all.filter((item) => !held.has(item.cid as string)).map((item) => `${node.name}:${item.name}`);
      });
    await this.#waitUntilNone(`${all.length} files to reach all ${honest.length} honest nodes`, missing, 60_000);
    this.#claims.check(
      'cleanSharingReachesEveryone',
      true,
      `all ${all.length} files reached all ${honest.length} honest nodes`,
      `${((Date.now() - started) / 1000).toFixed(1)} s, fetched and re-advertised hop by hop`,
    );
  }

  // ─── 2 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async listingVote() {
    const { chain, host } = this.#net;
    const { contracts, fromBlock } = chain.deployment;
    this.#timeline.step(2, "token holders vote a list version that adds the distributor's two files");
    const proposal = await buildListVersion(chain, host, contracts.IllegalDataList, {
      add: this.record.listed.map((item) => item.cid as string),
      category: 'policy §2–3',
      reason: 'Tip-offs: a leak of personal data, and a file reported as malware',
    });
    this.#timeline.info(
      `holder 0 builds version ${proposal.version} (${proposal.count} entries), payload ${shortCid(proposal.payloadCid.toString())} pinned`,
    );
    const inspection = await inspectProposal(chain, host, contracts.IllegalDataList, proposal);
    this.#timeline.info(
      `voters inspect it: +${inspection.added.length} −${inspection.removed.length} entries, ` +
        `${inspection.problems.length === 0 ? 'root and count verified' : `PROBLEMS: ${inspection.problems.join('; ')}`}`,
    );
    this.#claims.check(
      'inspectionMatchesProposal',
      inspection.problems.length === 0 && inspection.added.length === this.record.listed.length,
      `the inspection shows exactly the ${this.record.listed.length} added entries`,
    );
    const { executedAt } = await voteThrough(chain, {
      governor: contracts.RatingGovernor,
      calls: [proposal.call],
      description: `List version ${proposal.version}: add ${this.record.listed.map((i) => i.name).join(', ')}`,
      voters: DEMO_ACCOUNTS.holders.slice(0, 3),
      fromBlock: BigInt(fromBlock),
      onProgress: (line) => this.#timeline.info(line),
    });
    this.record.listedAt = executedAt;
    this.#timeline.info(`list version ${proposal.version} is in force on chain`);
  }

  // ─── 3 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async nodesRefuse() {
    const { honest, servers } = this.#net;
    const list = this.#net.chain.deployment.contracts.IllegalDataList.toLowerCase();
    this.#timeline.step(3, 'every node syncs the new version, verifies its payload, and drops the listed files');
    const listed = this.record.listed.map((item) => item.cid as string);
    const behind = async () => {
      const late = await Promise.all(
        honest.map(async (node) => !(await enforces(node, list, 1n)) || listed.some((cid) => node.held().has(cid))),
      );
      return honest.filter((_, i) => late[i]).map((node) => node.name);
    };
    await this.#waitUntilNone('every honest node to sync version 1 and drop the listed files', behind, 60_000);
    const times = honest.map((node) => {
      const event = node.eventsOf('list').find((e) => e.list === list && e.version === 1n);
      return ((event?.at ?? Date.now()) - (this.record.listedAt ?? 0)) / 1000;
    });
    this.#claims.check(
      'listedContentDropped',
      true,
      `all ${honest.length} honest nodes took up version 1 and dropped both listed files`,
      `within ${Math.max(...times).toFixed(1)} s of the vote`,
    );
    await this.#wait(
      'both servers to sync version 1',
      async () => (await Promise.all([servers.s1.status(), servers.s2.status()])).every((s) => s.list.version === '1'),
      30_000,
    );
    this.#timeline.info('servers 1 and 2 are at version 1 too');
  }

  // ─── 4 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async serversInferOrigin() {
    const { distributor, servers, honest } = this.#net;
    this.#timeline.step(4, 'the distributor keeps pushing; nodes refuse, keep its signed adverts, and report them');
    this.#pusher = new Pusher(distributor, this.record.listed);
    this.#pusher.start();
    this.#timeline.info(`${distributor.name} pushes both listed files again every ${PUSH_INTERVAL_MS / 1000} s`);
    const neighbours = this.#neighbours(distributor);
    const refusedBy = () =>
      neighbours.filter((node) => node.eventsOf('refused').some((e) => e.from === distributor.peerId));
    await this.#wait(
      'its neighbours to refuse the listed files',
      () => refusedBy().length === neighbours.length,
      30_000,
      () => `refused at ${refusedBy().map((n) => n.name)}`,
    );
    this.#timeline.info(
      `refused and kept as evidence by all its ${plural(neighbours.length, 'neighbour')}: ${neighbours.map((n) => n.name).join(', ')}`,
    );
    const blackAt = async () => {
      const views = await Promise.all([servers.s1.verdicts(), servers.s2.verdicts()]);
      return views.map((view) => view.verdicts.find((v) => v.peer === distributor.peerId && v.rating === 'black'));
    };
    await this.#wait(
      'both servers to rate the distributor black',
      async () => (await blackAt()).every(Boolean),
      60_000,
    );
    const verdicts = await blackAt();
    for (const [i, status] of (await Promise.all([servers.s1.status(), servers.s2.status()])).entries()) {
      this.#timeline.info(
        `server ${i + 1} holds ${status.store.reports} signed reports from ${plural(status.store.reporters, 'node')}, ` +
          `${plural(status.store.sightings, 'sighting')} of listed content, ${plural(status.topology.edges, 'attested link')}`,
      );
    }
    for (const [i, verdict] of verdicts.entries()) {
      this.#timeline.info(
        `server ${i + 1}: ${distributor.name} is BLACK, score ${verdict?.score}, ${verdict?.evidence.length} pieces ` +
          `of evidence: “${verdict?.reason}”`,
      );
    }
    this.#claims.check(
      'originBlackedByBothServers',
      verdicts.every(Boolean),
      'both servers traced the listed files to the distributor and rated it black',
    );
    await this.#checkNoHonestRatedBadly(honest);
  }

  async #checkNoHonestRatedBadly(honest: DemoNode[]) {
    const views = await Promise.all([this.#net.servers.s1.verdicts(), this.#net.servers.s2.verdicts()]);
    const ids = new Map(honest.map((node) => [node.peerId, node.name]));
    const bad = views.flatMap((view, i) =>
      view.verdicts
        .filter((v) => ids.has(v.peer) && v.rating !== 'white')
        .map((v) => `${ids.get(v.peer)} ${v.rating} at server ${i + 1}`),
    );
    this.#claims.check(
      'noHonestNodeRatedBadly',
      bad.length === 0,
      'no honest node, relays included, is rated gray or black by either server',
      bad.length > 0 ? bad.join(', ') : undefined,
    );
  }

  // ─── 5 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async penaltiesApply() {
    const { distributor } = this.#net;
    this.#timeline.step(5, 'nodes fetch the signed verdicts and penalise the distributor');
    const neighbours = this.#neighbours(distributor);
    const high = neighbours.filter((node) => node.plan.group === 'both');
    const lowOnly = neighbours.filter((node) => node.plan.group === 'low-only');
    const state = async () =>
      Promise.all(neighbours.map(async (node) => ({ node, why: await node.why(distributor.peerId) })));
    let last: Awaited<ReturnType<typeof state>> = [];
    const settled = async () => {
      last = await state();
      return last.every(({ node, why }) =>
        node.plan.group === 'both'
          ? why.penalty.kind === 'disconnect' && !why.connected
          : why.penalty.kind === 'delay' && why.connected,
      );
    };
    await this.#wait(
      'high-priority followers to disconnect it and low-priority-only ones to delay it',
      settled,
      45_000,
      () => last.map(({ node, why }) => `${node.name}: ${why.penalty.kind}, connected ${why.connected}`).join('; '),
    );
    for (const { node, why } of last) {
      const cause = why.penalty.because[0];
      const server = this.record.serverLabels.get(cause?.server ?? '') ?? cause?.server;
      this.#timeline.info(
        `${node.name} ${why.penalty.kind === 'disconnect' ? 'DISCONNECTS' : 'DELAYS'} ${distributor.name}: ` +
          `${cause?.rating} from ${cause?.priority}-priority ${server}${why.connected ? ' (still connected)' : ''}`,
      );
    }
    this.#claims.check(
      'highPriorityFollowersDisconnect',
      high.length > 0 && last.filter(({ node }) => node.plan.group === 'both').every(({ why }) => !why.connected),
      `its neighbours following server 1 at high priority (${high.map((n) => n.name).join(', ')}) disconnected it`,
    );

    // Delayed, not cut off: a clean file it shares now still reaches its low-priority-only neighbours, late.
    const clean = file('harmless-readme.txt', this.#seed, 'A clean file shared by a penalised peer.');
    const sharedAt = Date.now();
    clean.cid = (await distributor.add(clean.bytes, clean.name)).cid;
    this.#timeline.info(`${distributor.name} shares a clean file, ${clean.name}`);
    const arrivals = () =>
      lowOnly.map((node) => node.eventsOf('received', sharedAt).find((e) => e.cid === clean.cid)?.at ?? undefined);
    await this.#wait(
      'the clean file to reach the delaying neighbours',
      () => arrivals().every((at) => at !== undefined),
      45_000,
    );
    const delays = arrivals().map((at) => ((at as number) - sharedAt) / 1000);
    this.#claims.check(
      'lowPriorityOnlyFollowersDelay',
      lowOnly.length > 0 && delays.every((d) => d >= DELAY_MS / 1000),
      `its neighbours following only server 2, at low priority (${lowOnly.map((n) => n.name).join(', ')}), stay connected and delay it`,
      `its clean file reached them after ${delays.map((d) => `${d.toFixed(1)} s`).join(', ')}; delay ${DELAY_MS / 1000} s`,
    );
  }

  // ─── 6 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async contentIsGone() {
    const { distributor, honest } = this.#net;
    this.#timeline.step(6, `the distributor goes on pushing for ${GONE_WINDOW_MS / 1000} s more`);
    const from = this.#pusher?.pushes ?? 0;
    await this.#timeline.waiting('the distributor to push', () => sleep(GONE_WINDOW_MS, undefined, this.#optsSignal()));
    this.#health();
    const pushes = (this.#pusher?.pushes ?? 0) - from;
    this.#pusher?.stop();
    const listed = new Set(this.record.listed.map((item) => item.cid as string));
    const since = this.record.listedAt ?? 0;
    const leaks = honest.flatMap((node) =>
      node
        .eventsOf('received', since)
        .filter((e) => listed.has(e.cid))
        .map((e) => `${node.name} got ${shortCid(e.cid)}`),
    );
    const refusals = honest.reduce(
      (n, node) => n + node.eventsOf('refused', since).filter((e) => listed.has(e.cid)).length,
      0,
    );
    this.#timeline.info(`${pushes} more pushes; ${refusals} refusals logged by honest nodes since the vote`);
    this.#claims.check(
      'listedContentReachedNoHonestNode',
      leaks.length === 0,
      'the listed files reached no honest node after the version took effect',
      leaks.length > 0 ? leaks.join(', ') : undefined,
    );
    const holders = honest.filter((node) => [...listed].some((cid) => node.held().has(cid))).map((n) => n.name);
    this.#claims.check(
      'noHonestNodeHoldsListedContent',
      holders.length === 0,
      'no honest node holds a listed file',
      holders.length > 0 ? `held by ${holders.join(', ')}` : undefined,
    );
    const peers = (await distributor.status()).peers.map((p) => p.peerId);
    const still = honest.filter((node) => peers.includes(node.peerId));
    this.#timeline.info(
      `${distributor.name} is still connected to ${plural(still.length, 'honest node')}${still.length > 0 ? `, all delaying it: ${still.map((n) => n.name).join(', ')}` : ''}`,
    );
    this.#claims.check(
      'onlyDelayingNodesStayConnected',
      still.every((node) => node.plan.group === 'low-only'),
      'only nodes that follow server 2 alone (and so delay it) keep a connection to the distributor',
    );
    await this.#checkNoHonestRatedBadly(honest);
  }

  // ─── 7 ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async protestFork() {
    const { chain, host, honest, supervisor, workDir } = this.#net;
    const { contracts, fromBlock } = chain.deployment;
    const disputed = this.record.listed[this.record.listed.length - 1];
    const group = honest.filter((node) => node.plan.fork);
    const others = honest.filter((node) => !node.plan.fork);
    this.#timeline.step(7, `holders 3 and 4 dispute ${disputed.name} and fork the list without it`);
    const [port, httpPort] = await freePorts(2);
    const server = await DemoServer.create({
      name: 'fork',
      label: "the fork's server",
      workDir,
      port,
      httpPort,
      inferenceIntervalMs: 2_000,
      bootstrap: host.addresses,
    });
    this.#timeline.info('they run nrp list fork: the parent version minus the disputed entry, their own governance');
    const fork = await this.#timeline.waiting('nrp list fork to deploy the fork', () =>
      forkThroughCli(chain, host, supervisor, {
        parentList: contracts.IllegalDataList,
        parentVersion: 1n,
        remove: [disputed.cid as string],
        holders: PROTESTERS,
        server,
        workDir,
      }),
    );
    this.#timeline.info(
      `fork list ${fork.list} (Governor ${fork.governor}): version 1 = parent v1 − ${fork.removed}, ${plural(fork.count, 'entry')}`,
    );
    server.list = fork.list;
    server.serverId = fork.serverId;
    await this.#timeline.waiting("the fork's rating server to start", () =>
      server.start(supervisor, chain, this.#net.signal),
    );
    this.record.fork = { ...fork, server };
    this.record.serverLabels.set(server.peerId, 'fork');
    await voteThrough(chain, {
      governor: contracts.RatingGovernor,
      calls: [serverStatusCall(contracts.RatingServerRegistry, fork.serverId, 'active')],
      description: `Activate rating server ${fork.serverId}, which enforces the protest fork ${fork.list}`,
      voters: DEMO_ACCOUNTS.holders,
      fromBlock: BigInt(fromBlock),
    });
    this.#timeline.info(`its rating server applied as registry id ${fork.serverId}, activated by the DAO's vote`);

    this.#timeline.info(`${group.map((n) => n.name).join(', ')} move to the fork's server (restart, high priority)`);
    const forkList = fork.list.toLowerCase();
    for (const node of group) {
      this.#restarting.add(node);
      await node.stop();
    }
    // One after another: each dials its neighbours as it starts, so those it dials must be up already.
    await this.#timeline.waiting('the fork followers to restart', async () => {
      for (const node of group) {
        const bootstrap = this.#neighbours(node)
          .filter((other) => other.plan.group !== 'distributor' && !this.#restarting.has(other))
          .map((other) => other.multiaddr);
        await node.start(
          supervisor,
          chain.rpcUrl,
          {
            bootstrap,
            servers: [{ peerId: server.peerId, priority: 'high' }],
            deployment: chain.deploymentPath,
            autoFetch: true,
          },
          this.#net.signal,
        );
        this.#restarting.delete(node);
      }
      await waitForTopology(this.#net, { which: group, except: [this.#net.distributor] });
    });
    await this.#waitUntilNone(
      'the fork followers to enforce the fork list',
      async () => {
        const behind = await Promise.all(group.map(async (node) => !(await enforces(node, forkList, 1n))));
        return group.filter((_, i) => behind[i]).map((node) => node.name);
      },
      60_000,
    );
    const daoList = contracts.IllegalDataList.toLowerCase();
    const stillOnDao = (
      await Promise.all(
        group.map(async (node) =>
          (await node.status()).lists.some((l) => l.list.toLowerCase() === daoList) ? node : undefined,
        ),
      )
    ).filter((node) => node !== undefined);
    this.#timeline.info(
      `they enforce the fork list now (${plural(fork.count, 'entry')})${stillOnDao.length === 0 ? ", not the DAO's" : ''}`,
    );

    const supporter = group[0];
    const readdedAt = Date.now();
    await supporter.add(disputed.bytes, disputed.name);
    this.#timeline.info(`${supporter.name} shares ${disputed.name} again`);
    await this.#waitUntilNone(
      `${disputed.name} to reach every fork follower`,
      () => group.filter((node) => !node.held().has(disputed.cid as string)).map((n) => n.name),
      60_000,
    );
    this.#claims.check(
      'forkFollowersReceiveDisputedItem',
      true,
      `${group.length === 2 ? 'both' : `all ${group.length}`} nodes on the fork's server received ${disputed.name} again`,
    );
    const groupIds = new Set(group.map((node) => node.peerId));
    const refusing = () =>
      others.filter((node) =>
        node.eventsOf('refused', readdedAt).some((e) => e.cid === disputed.cid && groupIds.has(e.from)),
      );
    await this.#wait('the DAO-list nodes next to the fork to refuse it', () => refusing().length > 0, 30_000);
    const holders = others.filter((node) => node.held().has(disputed.cid as string)).map((node) => node.name);
    this.#claims.check(
      'othersStillRefuseDisputedItem',
      holders.length === 0,
      `nodes that stay on the DAO's list still refuse it (${refusing()
        .map((n) => n.name)
        .join(', ')} refused it from the fork's followers)`,
      holders.length > 0 ? `held by ${holders.join(', ')}` : undefined,
    );
  }

  #optsSignal() {
    return { signal: this.#net.signal };
  }

  #neighbours(node: DemoNode): DemoNode[] {
    const { topology, nodes } = this.#net;
    return topology.edges.flatMap(([a, b]) =>
      a === node.plan.index ? [nodes[b]] : b === node.plan.index ? [nodes[a]] : [],
    );
  }
}

/** Whether `node` enforces `list` (lowercase) at `version` now, as its status says. */
async function enforces(node: DemoNode, list: string, version: bigint): Promise<boolean> {
  const { lists } = await node.status();
  return lists.some((l) => l.list.toLowerCase() === list && BigInt(l.version) === version);
}

/** "1 neighbour", "3 neighbours". */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function shortCid(cid: string): string {
  return `${cid.slice(0, 8)}…${cid.slice(-4)}`;
}
