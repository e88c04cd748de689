import { createKeccak, type IHasher } from 'hash-wasm';
import { compareIdsAt, ENTRY_ID_LENGTH, type EntryId } from './entry-id.js';

const NODE = 32;

/**
 * The Merkle tree of a set of entry ids, exactly as OpenZeppelin's
 * `StandardMerkleTree.of(ids.map((id) => [id]), ['bytes32'])` builds it, so its
 * root is what `IllegalDataList` stores and its proofs verify with `MerkleProof`:
 *
 * - leaf = keccak256(keccak256(abi.encode(id))); for a bytes32 the encoding is the id itself;
 * - leaves sorted ascending, laid out from the end of a heap-ordered array;
 * - each inner node = keccak256 of its two children, smaller first.
 *
 * Built with WebAssembly keccak (hash-wasm), since a list of 1,000,000 entries
 * needs 3,000,000 hashes.
 */
export class EntryMerkleTree {
  /** Heap-ordered nodes, 32 bytes each: the root first, the leaves last. */
  readonly #nodes: Uint8Array;
  readonly #leafCount: number;
  readonly #hasher: IHasher;

  private constructor(nodes: Uint8Array, leafCount: number, hasher: IHasher) {
    this.#nodes = nodes;
    this.#leafCount = leafCount;
    this.#hasher = hasher;
  }

  /**
   * Builds the tree of `ids`, packed 32 bytes each, in any order.
   *
   * @example
   * const tree = await EntryMerkleTree.build(packedIds);
   * tree.root; // equals IllegalDataList.getVersion(v).root
   * tree.proof(id); // for IllegalDataList.isListed(id, proof)
   */
  static async build(
    ids: Uint8Array,
    options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<EntryMerkleTree> {
    if (ids.length === 0 || ids.length % ENTRY_ID_LENGTH !== 0) {
      throw new RangeError('A Merkle tree needs at least one 32-byte entry id');
    }
    const hasher = await createKeccak(256);
    const n = ids.length / ENTRY_ID_LENGTH;
    const leaves = new Uint8Array(n * NODE);
    const report = progressReporter(n * 2, options);
    for (let i = 0; i < n; i++) {
      const inner = hashOnce(hasher, ids.subarray(i * NODE, (i + 1) * NODE));
      leaves.set(hashOnce(hasher, inner), i * NODE);
      if ((i & 0xffff) === 0) await report(i, options.signal);
    }

    // Sort leaf indices by leaf hash; the first four bytes settle almost every comparison.
    const view = new DataView(leaves.buffer, leaves.byteOffset, leaves.byteLength);
    const head = new Uint32Array(n);
    for (let i = 0; i < n; i++) head[i] = view.getUint32(i * NODE);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => head[a] - head[b] || compareIdsAt(leaves, a * NODE, leaves, b * NODE));

    const nodes = new Uint8Array((2 * n - 1) * NODE);
    const last = 2 * n - 2;
    for (let i = 0; i < n; i++) {
      nodes.set(leaves.subarray(order[i] * NODE, order[i] * NODE + NODE), (last - i) * NODE);
    }
    for (let i = n - 2; i >= 0; i--) {
      nodes.set(hashPair(hasher, nodes, 2 * i + 1, 2 * i + 2), i * NODE);
      if ((i & 0xffff) === 0) await report(2 * n - 1 - i, options.signal);
    }
    await report(2 * n, options.signal);
    return new EntryMerkleTree(nodes, n, hasher);
  }

  /** Number of entries. */
  get size(): number {
    return this.#leafCount;
  }

  /** The root, as stored on chain. */
  get root(): Uint8Array {
    return this.#nodes.slice(0, NODE);
  }

  /** The Merkle leaf of `id`, as `IllegalDataList.entryLeaf` computes it. */
  leaf(id: EntryId): Uint8Array {
    return hashOnce(this.#hasher, hashOnce(this.#hasher, id));
  }

  /**
   * The proof that `id` is in the set, for `MerkleProof.verify`, or `undefined`
   * when it is not.
   */
  proof(id: EntryId): Uint8Array[] | undefined {
    let index = this.#leafIndex(this.leaf(id));
    if (index === undefined) return undefined;
    const proof: Uint8Array[] = [];
    while (index > 0) {
      const sibling = index % 2 === 1 ? index + 1 : index - 1;
      proof.push(this.#nodes.slice(sibling * NODE, sibling * NODE + NODE));
      index = Math.floor((index - 1) / 2);
    }
    return proof;
  }

  /** Binary search among the leaves, which sit in descending order at the end of the array. */
  #leafIndex(leaf: Uint8Array): number | undefined {
    const first = this.#leafCount - 1;
    let lo = first;
    let hi = 2 * this.#leafCount - 2;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const d = compareIdsAt(this.#nodes, mid * NODE, leaf, 0);
      if (d === 0) return mid;
      // Descending: a larger node lies further left.
      if (d > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/** The root of the set `ids` (packed), or 32 zero bytes for the empty set, as the contract expects. */
export async function entryMerkleRoot(ids: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  if (ids.length === 0) return new Uint8Array(NODE);
  return (await EntryMerkleTree.build(ids, options)).root;
}

function hashOnce(hasher: IHasher, data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}

function hashPair(hasher: IHasher, nodes: Uint8Array, left: number, right: number): Uint8Array {
  const a = nodes.subarray(left * NODE, left * NODE + NODE);
  const b = nodes.subarray(right * NODE, right * NODE + NODE);
  hasher.init();
  if (compareIdsAt(nodes, left * NODE, nodes, right * NODE) <= 0) {
    hasher.update(a);
    hasher.update(b);
  } else {
    hasher.update(b);
    hasher.update(a);
  }
  return hasher.digest('binary');
}

/** Reports progress and yields to the event loop now and then, so a long build stays abortable. */
function progressReporter(total: number, options: { onProgress?: (done: number, total: number) => void }) {
  return async (done: number, signal?: AbortSignal) => {
    options.onProgress?.(done, total);
    signal?.throwIfAborted();
    await yieldToEventLoop();
  };
}

/** Lets other work run between slices of a long build: setImmediate in Node, a zero timeout in a browser. */
function yieldToEventLoop(): Promise<void> {
  const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
  return new Promise((resolve) => {
    if (setImmediate) setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
