import type { ServerPriority } from '../node/ratings.js';
import type { SimulationConfig } from './config.js';
import type { ContentItem } from './content.js';
import { connectedComponents, type Graph } from './graph.js';
import type { VirtualIdentity } from './identities.js';
import type { ServerStats, SimServer } from './servers.js';
import type { Origin } from './simulation.js';

const MALICIOUS = 1;
const HONEST = 0;

/** The state of the network at one report interval. */
export interface TimelinePoint {
  /** Report intervals since the first push. */
  round: number;
  time: number;
  /** Reach of the commonly listed item. */
  reach: number;
  /** Nodes some server rates black now. */
  black: number;
  /** Malicious origins with no connection left to a follower of a high-priority server. */
  isolatedOrigins: number;
  /** Connections closed by penalties so far. */
  edgesCut: number;
  /** In a split: connections left between followers of different camps. */
  crossCampEdges?: number;
}

/** The JSON line the command prints last. */
export interface SimulationSummary {
  nodes: number;
  coverage: number;
  /** Share of non-malicious nodes that hold the commonly listed item at the end; null when there is none. */
  reach: number | null;
  /** Report intervals until the last malicious origin was isolated; null if one never was (or there are none). */
  roundsToIsolate: number | null;
  /** Share of complying nodes that some server rated black during the run; null when there are none. */
  falsePositiveRate: number | null;
}

export interface OriginResult {
  peerId: string;
  kind: Origin['kind'];
  /** Its first push, in ms after the simulation's epoch. */
  firstPushMs?: number;
  /** Report intervals from its first push until it had no connection left to a high-priority follower. */
  rounds: number | null;
  highNeighboursAtStart: number;
  disconnections: number;
  redials: number;
  /** The servers that rated it black at some point. */
  ratedBlackBy: number[];
}

export interface ItemResult {
  label: string;
  cid: string;
  entryId: string;
  /** Indices of the servers whose lists hold it. */
  listedBy: number[];
  holders: number;
  /** Share of non-malicious nodes that hold it. */
  reach: number;
  /** In a split: the share of each camp's followers that hold it. */
  reachByCamp?: [number, number];
}

export interface ServerResult {
  index: number;
  peerId: string;
  priority: ServerPriority;
  followers: number;
  stats: ServerStats;
}

export interface PartitionResult {
  campSizes: [number, number];
  /** Connections between followers of different camps, at the start and at the end. */
  crossCampEdgesBefore: number;
  crossCampEdgesAfter: number;
  /** Share of followers whose connected component (over followers only) holds followers of both camps. */
  mixedComponentShare: number;
  /** The largest component of followers, as a share of all followers. */
  largestComponentShare: number;
  /** Share of complying followers rated black by the other camp's server (the split itself). */
  ratedBlackByOtherCamp: number;
}

export interface SimulationResult {
  summary: SimulationSummary;
  config: SimulationConfig;
  population: {
    nodes: number;
    followers: number;
    /** Followers of some server at high priority. */
    highFollowers: number;
    strangers: number;
    malicious: number;
    liars: number;
    seeders: number;
    /** Follow a server, originate nothing listed, report honestly: the false-positive rate's denominator. */
    complying: number;
  };
  items: ItemResult[];
  isolation: {
    /** Malicious origins. */
    origins: number;
    isolated: number;
    maxRounds: number | null;
    meanRounds: number | null;
    list: OriginResult[];
  };
  falsePositives: {
    complying: number;
    ratedBlack: number;
    rate: number | null;
    /** Rated black by a server the node itself follows. */
    ratedBlackByFollowedServer: number;
    ratedGray: number;
  };
  strangers: {
    count: number;
    ratedBlack: number;
    /** Held the commonly listed item at the end. */
    holding: number;
    /** Had a follower neighbour at the start, and none at the end. */
    cutOff: number;
    hadFollowerNeighbour: number;
  };
  liars: { count: number; liesRejected: number; liesAccepted: number };
  servers: ServerResult[];
  partition?: PartitionResult;
  network: { edgesBefore: number; edgesAfter: number; edgesCut: number };
  timeline: TimelinePoint[];
  run: { events: number; signatures: number; setupMs: number; elapsedMs: number };
}

/** What the measurements are taken from: the simulation at its end. */
export interface SimulationState {
  config: SimulationConfig;
  graph: Graph;
  initialEdges: readonly [number, number][];
  identities: readonly VirtualIdentity[];
  servers: readonly SimServer[];
  items: readonly ContentItem[];
  origins: readonly Origin[];
  role: Uint8Array;
  follows: readonly number[][];
  highFollower: Uint8Array;
  camp: Int8Array;
  listedBy: readonly number[];
  has: readonly Uint8Array[];
  blackBy: Uint32Array;
  grayBy: Uint32Array;
  timeline: readonly TimelinePoint[];
  events: number;
  edgesCut: number;
  signatures: number;
  setupMs: number;
}

/** The measurements of a finished run. */
export function computeResult(state: SimulationState, run: { elapsedMs: number }): SimulationResult {
  const { config, role, follows, has } = state;
  const n = config.nodes;
  const originNodes = new Set(state.origins.map((o) => o.node));
  const isFollower = (v: number) => role[v] !== MALICIOUS && follows[v].length > 0;
  const isComplying = (v: number) => role[v] === HONEST && follows[v].length > 0 && !originNodes.has(v);
  const isStranger = (v: number) => role[v] === HONEST && follows[v].length === 0;
  const nonMalicious = count(n, (v) => role[v] !== MALICIOUS);

  const items: ItemResult[] = state.items.map((item) => {
    const holders = count(n, (v) => role[v] !== MALICIOUS && has[item.index][v] === 1);
    const result: ItemResult = {
      label: item.label,
      cid: item.cidString,
      entryId: item.entryHex,
      listedBy: state.servers.filter((s) => (state.listedBy[item.index] & (1 << s.index)) !== 0).map((s) => s.index),
      holders,
      reach: ratio(holders, nonMalicious) ?? 0,
    };
    if (config.split) {
      result.reachByCamp = [0, 1].map(
        (c) =>
          ratio(
            count(n, (v) => state.camp[v] === c && has[item.index][v] === 1),
            count(n, (v) => state.camp[v] === c),
          ) ?? 0,
      ) as [number, number];
    }
    return result;
  });
  const main = items.find((item) => item.label === 'listed');

  const originResults: OriginResult[] = state.origins.map((origin) => {
    let rounds: number | null = null;
    if (origin.firstPush !== undefined && origin.isolatedAt !== undefined) {
      rounds = Math.max(0, Math.ceil((origin.isolatedAt - origin.firstPush) / config.intervalMs));
    }
    return {
      peerId: state.identities[origin.node].peerId,
      kind: origin.kind,
      firstPushMs: origin.firstPush === undefined ? undefined : origin.firstPush - (state.timeline[0]?.time ?? 0),
      rounds,
      highNeighboursAtStart: origin.highNeighboursAtStart,
      disconnections: origin.disconnections,
      redials: origin.redials,
      ratedBlackBy: state.servers
        .filter((s) => (state.blackBy[origin.node] & (1 << s.index)) !== 0)
        .map((s) => s.index),
    };
  });
  const malicious = originResults.filter((o) => o.kind === 'malicious');
  const isolatedRounds = malicious.map((o) => o.rounds).filter((r): r is number => r !== null);
  const allIsolated = malicious.length > 0 && isolatedRounds.length === malicious.length;
  const maxRounds = isolatedRounds.length > 0 ? Math.max(...isolatedRounds) : null;

  const complying = count(n, isComplying);
  const ratedBlack = count(n, (v) => isComplying(v) && state.blackBy[v] !== 0);
  const followedMask = (v: number) => follows[v].reduce((mask, s) => mask | (1 << s), 0);

  const followerNeighbours = (edges: Iterable<number>) => {
    let k = 0;
    for (const w of edges) if (isFollower(w)) k++;
    return k;
  };
  const startNeighbours: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of state.initialEdges) {
    startNeighbours[a].push(b);
    startNeighbours[b].push(a);
  }
  const mainIndex = state.items.findIndex((item) => item.label === 'listed');

  let partition: PartitionResult | undefined;
  if (config.split) {
    const cross = (edges: Iterable<[number, number]>) => {
      let k = 0;
      for (const [a, b] of edges) if (state.camp[a] >= 0 && state.camp[b] >= 0 && state.camp[a] !== state.camp[b]) k++;
      return k;
    };
    const { component, sizes } = connectedComponents(state.graph, (v) => state.camp[v] >= 0);
    const campsIn = new Map<number, number>();
    for (let v = 0; v < n; v++) {
      if (component[v] >= 0) campsIn.set(component[v], (campsIn.get(component[v]) ?? 0) | (1 << state.camp[v]));
    }
    const followers = count(n, (v) => state.camp[v] >= 0);
    const complyingFollowers = count(n, (v) => isComplying(v));
    partition = {
      campSizes: [count(n, (v) => state.camp[v] === 0), count(n, (v) => state.camp[v] === 1)],
      crossCampEdgesBefore: cross(state.initialEdges),
      crossCampEdgesAfter: cross(state.graph.edges()),
      mixedComponentShare: ratio(
        count(n, (v) => component[v] >= 0 && campsIn.get(component[v]) === 3),
        followers,
      ) as number,
      largestComponentShare: ratio(sizes.length > 0 ? Math.max(...sizes) : 0, followers) ?? 0,
      ratedBlackByOtherCamp:
        ratio(
          count(n, (v) => isComplying(v) && (state.blackBy[v] & (1 << (1 - state.camp[v]))) !== 0),
          complyingFollowers,
        ) ?? 0,
    };
  }

  return {
    summary: {
      nodes: n,
      coverage: config.coverage,
      reach: main ? main.reach : null,
      roundsToIsolate: allIsolated ? maxRounds : null,
      falsePositiveRate: ratio(ratedBlack, complying),
    },
    config,
    population: {
      nodes: n,
      followers: count(n, isFollower),
      highFollowers: count(n, (v) => state.highFollower[v] === 1),
      strangers: count(n, isStranger),
      malicious: count(n, (v) => role[v] === MALICIOUS),
      liars: count(n, (v) => role[v] === 2),
      seeders: state.origins.filter((o) => o.kind === 'seeder').length,
      complying,
    },
    items,
    isolation: {
      origins: malicious.length,
      isolated: isolatedRounds.length,
      maxRounds,
      meanRounds: isolatedRounds.length > 0 ? isolatedRounds.reduce((x, y) => x + y, 0) / isolatedRounds.length : null,
      list: originResults,
    },
    falsePositives: {
      complying,
      ratedBlack,
      rate: ratio(ratedBlack, complying),
      ratedBlackByFollowedServer: count(n, (v) => isComplying(v) && (state.blackBy[v] & followedMask(v)) !== 0),
      ratedGray: count(n, (v) => isComplying(v) && state.grayBy[v] !== 0),
    },
    strangers: {
      count: count(n, isStranger),
      ratedBlack: count(n, (v) => isStranger(v) && state.blackBy[v] !== 0),
      holding: mainIndex < 0 ? 0 : count(n, (v) => isStranger(v) && has[mainIndex][v] === 1),
      hadFollowerNeighbour: count(n, (v) => isStranger(v) && followerNeighbours(startNeighbours[v]) > 0),
      cutOff: count(
        n,
        (v) =>
          isStranger(v) &&
          followerNeighbours(startNeighbours[v]) > 0 &&
          followerNeighbours(state.graph.neighbours(v)) === 0,
      ),
    },
    liars: {
      count: count(n, (v) => role[v] === 2),
      liesRejected: state.servers.reduce((k, s) => k + s.stats.liesRejected, 0),
      liesAccepted: state.servers.reduce((k, s) => k + s.stats.liesAccepted, 0),
    },
    servers: state.servers.map((server) => ({
      index: server.index,
      peerId: server.peerId,
      priority: server.priority,
      followers: count(n, (v) => role[v] !== MALICIOUS && follows[v].includes(server.index)),
      stats: server.stats,
    })),
    partition,
    network: {
      edgesBefore: state.initialEdges.length,
      edgesAfter: state.graph.edgeCount,
      edgesCut: state.edgesCut,
    },
    timeline: [...state.timeline],
    run: { events: state.events, signatures: state.signatures, setupMs: state.setupMs, elapsedMs: run.elapsedMs },
  };
}

function count(n: number, predicate: (v: number) => boolean): number {
  let k = 0;
  for (let v = 0; v < n; v++) if (predicate(v)) k++;
  return k;
}

function ratio(x: number, y: number): number | null {
  return y === 0 ? null : x / y;
}
