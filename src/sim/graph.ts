import type { Random } from './random.js';

/** How the simulated network is wired at the start. */
export type TopologyModel = 'random-regular' | 'scale-free';

export const TOPOLOGY_MODELS: readonly TopologyModel[] = ['random-regular', 'scale-free'];

/** A graph cannot be built with these parameters. */
export class InvalidGraphError extends Error {
  override name = 'InvalidGraphError';
}

/**
 * An undirected graph of virtual nodes `0 … size - 1`: who is connected to
 * whom right now. Adjacency sets, so a connection is added, removed or
 * looked up in O(1) and a node's neighbours cost O(degree).
 */
export class Graph {
  readonly #adjacency: Set<number>[];
  #edges = 0;

  constructor(size: number) {
    this.#adjacency = Array.from({ length: size }, () => new Set<number>());
  }

  get size(): number {
    return this.#adjacency.length;
  }

  get edgeCount(): number {
    return this.#edges;
  }

  has(a: number, b: number): boolean {
    return this.#adjacency[a].has(b);
  }

  /** Connects `a` and `b`; returns false for a self-loop or an existing edge. */
  add(a: number, b: number): boolean {
    if (a === b || this.#adjacency[a].has(b)) return false;
    this.#adjacency[a].add(b);
    this.#adjacency[b].add(a);
    this.#edges++;
    return true;
  }

  /** Disconnects `a` and `b`; returns whether they were connected. */
  remove(a: number, b: number): boolean {
    if (!this.#adjacency[a].delete(b)) return false;
    this.#adjacency[b].delete(a);
    this.#edges--;
    return true;
  }

  neighbours(node: number): ReadonlySet<number> {
    return this.#adjacency[node];
  }

  degree(node: number): number {
    return this.#adjacency[node].size;
  }

  /** Every edge once, as `[a, b]` with `a < b`. */
  *edges(): Generator<[number, number]> {
    for (let a = 0; a < this.#adjacency.length; a++) {
      for (const b of this.#adjacency[a]) if (a < b) yield [a, b];
    }
  }
}

/**
 * A random `degree`-regular graph: the pairing (configuration) model, with
 * self-loops and double edges repaired by random edge switches, so every
 * node ends with exactly `degree` neighbours.
 */
export function randomRegularGraph(size: number, degree: number, random: Random): Graph {
  if (!Number.isInteger(degree) || degree < 1 || degree >= size) {
    throw new InvalidGraphError(`A random regular graph of ${size} nodes needs a degree from 1 to ${size - 1}`);
  }
  if ((size * degree) % 2 !== 0) {
    throw new InvalidGraphError(`A ${degree}-regular graph needs an even number of edge ends; ${size} nodes have not`);
  }
  const graph = new Graph(size);
  const stubs = new Int32Array(size * degree);
  for (let i = 0; i < stubs.length; i++) stubs[i] = Math.floor(i / degree);
  for (let i = stubs.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const x = stubs[i];
    stubs[i] = stubs[j];
    stubs[j] = x;
  }
  const bad: [number, number][] = [];
  for (let i = 0; i < stubs.length; i += 2) {
    if (!graph.add(stubs[i], stubs[i + 1])) bad.push([stubs[i], stubs[i + 1]]);
  }
  // Each bad pair (u, v) takes the place of a random edge (x, y): (u, x) and (v, y) instead.
  for (const [u, v] of bad) {
    let placed = false;
    for (let attempt = 0; attempt < 10_000 && !placed; attempt++) {
      const x = random.int(size);
      if (graph.degree(x) === 0) continue;
      const y = nthOf(graph.neighbours(x), random.int(graph.degree(x)));
      if (x === u || y === v || x === v || y === u || graph.has(u, x) || graph.has(v, y)) continue;
      graph.remove(x, y);
      graph.add(u, x);
      graph.add(v, y);
      placed = true;
    }
    if (!placed) throw new InvalidGraphError(`Could not wire a ${degree}-regular graph of ${size} nodes`);
  }
  return graph;
}

/**
 * A scale-free graph (Barabási–Albert): a small clique, then each new node
 * attaches to `round(meanDegree / 2)` distinct nodes chosen with probability
 * proportional to their degree. The mean degree is close to `meanDegree`;
 * a few hubs have far more.
 */
export function scaleFreeGraph(size: number, meanDegree: number, random: Random): Graph {
  const m = Math.max(1, Math.round(meanDegree / 2));
  if (size < m + 2) throw new InvalidGraphError(`A scale-free graph with ${m} links per node needs ${m + 2} nodes`);
  const graph = new Graph(size);
  /** Each node once per edge end: sampling from it is sampling proportionally to degree. */
  const ends: number[] = [];
  for (let a = 0; a <= m; a++) {
    for (let b = a + 1; b <= m; b++) {
      graph.add(a, b);
      ends.push(a, b);
    }
  }
  const chosen = new Set<number>();
  for (let node = m + 1; node < size; node++) {
    chosen.clear();
    while (chosen.size < m) chosen.add(ends[random.int(ends.length)]);
    for (const target of chosen) {
      graph.add(node, target);
      ends.push(node, target);
    }
  }
  return graph;
}

/** The graph of `model`. */
export function buildGraph(model: TopologyModel, size: number, degree: number, random: Random): Graph {
  if (model === 'random-regular') return randomRegularGraph(size, degree, random);
  if (model === 'scale-free') return scaleFreeGraph(size, degree, random);
  throw new InvalidGraphError(`Unknown topology model "${model}"; use ${TOPOLOGY_MODELS.join(' or ')}`);
}

/**
 * Connected components of the nodes `include` accepts, over edges between
 * such nodes: a component number per node (-1 for excluded nodes) and each
 * component's size.
 */
export function connectedComponents(
  graph: Graph,
  include: (node: number) => boolean = () => true,
): { component: Int32Array; sizes: number[] } {
  const component = new Int32Array(graph.size).fill(-1);
  const sizes: number[] = [];
  const stack: number[] = [];
  for (let start = 0; start < graph.size; start++) {
    if (component[start] !== -1 || !include(start)) continue;
    const id = sizes.length;
    let size = 0;
    component[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const node = stack.pop() as number;
      size++;
      for (const next of graph.neighbours(node)) {
        if (component[next] !== -1 || !include(next)) continue;
        component[next] = id;
        stack.push(next);
      }
    }
    sizes.push(size);
  }
  return { component, sizes };
}

function nthOf(set: ReadonlySet<number>, n: number): number {
  let i = 0;
  for (const value of set) if (i++ === n) return value;
  throw new RangeError(`No element ${n} in a set of ${set.size}`);
}
