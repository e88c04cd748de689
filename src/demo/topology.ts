/**
 * The demo's network, drawn from a seed: which nodes are honest and which servers they follow, who is
 * connected to whom, who distributes what the list will name, and who later moves to a protest fork.
 * Pure and deterministic: the same seed and size always give the same network.
 */

/** Which servers an honest node follows: server 1 high and server 2 low, or server 2 low only. */
export type NodeGroup = 'both' | 'low-only' | 'distributor';

export interface DemoNodePlan {
  index: number;
  /**
   * When it starts: every node of a wave starts at once, after the waves before it, and dials its neighbours in
   * earlier waves. No two neighbours share a wave, so every link is dialed by exactly one end, once the other end
   * is up. The distributor starts alone, last.
   */
  wave: number;
  /** A short name for the timeline and the table, e.g. `n03`, or `dist` for the distributor. */
  name: string;
  group: NodeGroup;
  /** Whether it moves to the fork's server in step 7. */
  fork: boolean;
}

export interface DemoTopology {
  nodes: DemoNodePlan[];
  /** Undirected edges `[a, b]` with `a < b`; the end in the later wave dials the other. */
  edges: [number, number][];
  /** The distributor's index (always the last node, so every neighbour is up when it starts). */
  distributor: number;
}

/** A topology cannot be drawn for these settings. */
export class TopologyError extends Error {
  override name = 'TopologyError';
}

/** The smallest demo: the distributor and five honest nodes, enough for every group and a fork of two. */
export const MIN_NODES = 6;

/** mulberry32: a small seeded generator of floats in [0, 1); the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Draws the demo network of `size` nodes (the distributor included):
 * - honest nodes form a random connected graph (a random tree plus extra edges, mean degree about 3), so clean
 *   content reaches everyone without the distributor;
 * - a third of them (at least one) follow only server 2 at low priority, the rest server 1 high and server 2 low;
 * - the distributor connects to about a quarter of them, at least two following both servers and one following
 *   server 2 only, so both penalties show;
 * - a connected quarter (at least two) that avoids the distributor's neighbours where it can will move to the
 *   protest fork.
 *
 * @example
 * const topology = drawTopology(12, 1);
 */
export function drawTopology(size: number, seed: number): DemoTopology {
  if (!Number.isInteger(size) || size < MIN_NODES) {
    throw new TopologyError(`The demo needs at least ${MIN_NODES} nodes (the distributor and five honest ones)`);
  }
  const random = seededRandom(seed);
  const honest = size - 1;
  const lowOnlyCount = Math.max(1, Math.round(honest / 3));
  const lowOnly = new Set(shuffle(random, [...Array(honest).keys()]).slice(0, lowOnlyCount));
  if (honest - lowOnly.size < 2) throw new TopologyError('Too few nodes follow both servers');

  const key = (a: number, b: number) => (a < b ? `${a}-${b}` : `${b}-${a}`);
  const edges = new Map<string, [number, number]>();
  const connect = (a: number, b: number) => {
    if (a !== b) edges.set(key(a, b), a < b ? [a, b] : [b, a]);
  };
  // A random tree keeps the honest graph connected; extra edges bring the mean degree to about 3.
  for (let i = 1; i < honest; i++) connect(i, Math.floor(random() * i));
  const extra = Math.max(0, Math.round(honest * 1.5) - (honest - 1));
  for (let tries = 0; tries < extra * 10 && edges.size < honest - 1 + extra; tries++) {
    connect(Math.floor(random() * honest), Math.floor(random() * honest));
  }

  const distributor = honest;
  const both = [...Array(honest).keys()].filter((i) => !lowOnly.has(i));
  const wanted = Math.max(3, Math.round(honest / 4));
  const neighbours = new Set<number>([...shuffle(random, both).slice(0, 2), pick(random, [...lowOnly])]);
  for (const i of shuffle(random, [...Array(honest).keys()])) {
    if (neighbours.size >= wanted) break;
    neighbours.add(i);
  }
  for (const i of neighbours) connect(i, distributor);

  const fork = forkGroup(random, honest, [...edges.values()], neighbours, Math.max(2, Math.round(honest / 4)));
  const waves = colourGreedily(honest, [...edges.values()]);
  const lastWave = Math.max(...waves) + 1;
  const nodes: DemoNodePlan[] = [...Array(size).keys()].map((index) => ({
    index,
    wave: index === distributor ? lastWave : waves[index],
    name: index === distributor ? 'dist' : `n${String(index).padStart(2, '0')}`,
    group: index === distributor ? 'distributor' : lowOnly.has(index) ? 'low-only' : 'both',
    fork: fork.has(index),
  }));
  const sorted = [...edges.values()].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return { nodes, edges: sorted, distributor };
}

/**
 * A connected set of `count` honest nodes, grown from a random start along honest edges, preferring nodes that
 * are not the distributor's neighbours and never taking every honest node: the rest must stay to refuse.
 */
function forkGroup(
  random: () => number,
  honest: number,
  edges: [number, number][],
  avoid: Set<number>,
  count: number,
): Set<number> {
  const size = Math.min(count, honest - 2);
  const adjacent = (i: number) =>
    edges.filter(([a, b]) => (a === i || b === i) && a < honest && b < honest).map(([a, b]) => (a === i ? b : a));
  let best = new Set<number>();
  let bestAvoided = Number.POSITIVE_INFINITY;
  for (const start of shuffle(random, [...Array(honest).keys()])) {
    const group = new Set([start]);
    while (group.size < size) {
      const frontier = [...group].flatMap(adjacent).filter((i) => !group.has(i));
      if (frontier.length === 0) break;
      const preferred = frontier.filter((i) => !avoid.has(i));
      group.add(pick(random, preferred.length > 0 ? preferred : frontier));
    }
    const avoided = [...group].filter((i) => avoid.has(i)).length;
    if (group.size === size && avoided < bestAvoided) {
      best = group;
      bestAvoided = avoided;
      if (avoided === 0) break;
    }
  }
  return best;
}

/** A proper colouring of the honest graph (no edge inside a colour), largest degree first: few colours, few waves. */
function colourGreedily(honest: number, edges: [number, number][]): number[] {
  const neighbours = [...Array(honest).keys()].map(() => new Set<number>());
  for (const [a, b] of edges) {
    if (a < honest && b < honest) {
      neighbours[a].add(b);
      neighbours[b].add(a);
    }
  }
  const colour = new Array<number>(honest).fill(-1);
  const order = [...Array(honest).keys()].sort((x, y) => neighbours[y].size - neighbours[x].size || x - y);
  for (const node of order) {
    const taken = new Set([...neighbours[node]].map((other) => colour[other]));
    let c = 0;
    while (taken.has(c)) c++;
    colour[node] = c;
  }
  return colour;
}

/** The neighbours that `index` dials when it starts: those in earlier waves. */
export function dialsOf(topology: DemoTopology, index: number): number[] {
  const wave = topology.nodes[index].wave;
  return neighboursOf(topology, index).filter((other) => topology.nodes[other].wave < wave);
}

/** The neighbours of `index` in the topology. */
export function neighboursOf(topology: DemoTopology, index: number): number[] {
  return topology.edges.flatMap(([a, b]) => (a === index ? [b] : b === index ? [a] : []));
}
