import type { CID } from 'multiformats/cid';
import {
  compareIdsAt,
  ENTRY_ID_LENGTH,
  type EntryId,
  entryId,
  ipip383DoubleHash,
  ipip383LegacyHash,
} from './entry-id.js';

const BUCKETS = 1 << 16;

export class UnsortedEntriesError extends Error {
  override name = 'UnsortedEntriesError';
  constructor(readonly index: number) {
    super(`Entry ids must be strictly ascending; entry ${index} is not greater than the one before it`);
  }
}

export interface MembershipIndexOptions {
  /**
   * Also match CIDs by their IPIP-383 double hashes, for lists that imported
   * `//` rules from an IPFS denylist. Costs two more sha256 per `hasCid`.
   */
  doubleHashes?: boolean;
}

/**
 * The set of a list version's entry ids, for fast "is this listed?" checks.
 *
 * The ids are kept packed and sorted in one `Uint8Array` (32 bytes each, so
 * 32 MB for a million entries, about a quarter of a `Set` of hex strings), with
 * a table of where each two-byte prefix starts, so a lookup is a binary search
 * over a handful of ids.
 */
export class MembershipIndex {
  readonly #ids: Uint8Array;
  readonly #starts: Uint32Array;
  readonly #doubleHashes: boolean;

  private constructor(ids: Uint8Array, starts: Uint32Array, doubleHashes: boolean) {
    this.#ids = ids;
    this.#starts = starts;
    this.#doubleHashes = doubleHashes;
  }

  /**
   * Indexes `ids`: 32-byte ids, packed, strictly ascending (as a verified
   * payload holds them). Throws {@link UnsortedEntriesError} otherwise. The
   * index keeps `ids` without copying it.
   *
   * @example
   * const index = MembershipIndex.fromSortedIds(payload.ids);
   * index.hasCid(cid);
   */
  static fromSortedIds(ids: Uint8Array, options: MembershipIndexOptions = {}): MembershipIndex {
    if (ids.length % ENTRY_ID_LENGTH !== 0) throw new RangeError('Entry ids must be 32 bytes each');
    const count = ids.length / ENTRY_ID_LENGTH;
    const starts = new Uint32Array(BUCKETS + 1);
    let bucket = 0;
    for (let i = 0; i < count; i++) {
      const offset = i * ENTRY_ID_LENGTH;
      if (i > 0 && compareIdsAt(ids, offset - ENTRY_ID_LENGTH, ids, offset) >= 0) throw new UnsortedEntriesError(i);
      const prefix = (ids[offset] << 8) | ids[offset + 1];
      while (bucket <= prefix) starts[bucket++] = i;
    }
    while (bucket <= BUCKETS) starts[bucket++] = count;
    return new MembershipIndex(ids, starts, options.doubleHashes ?? false);
  }

  /** The index of the empty list. */
  static empty(): MembershipIndex {
    return MembershipIndex.fromSortedIds(new Uint8Array(0));
  }

  /** Number of entries. */
  get size(): number {
    return this.#ids.length / ENTRY_ID_LENGTH;
  }

  /** Bytes the index holds. */
  get byteLength(): number {
    return this.#ids.byteLength + this.#starts.byteLength;
  }

  /** Whether the index also matches IPIP-383 double hashes. */
  get doubleHashes(): boolean {
    return this.#doubleHashes;
  }

  /** Whether `id` is in the set. */
  has(id: EntryId): boolean {
    if (id.length !== ENTRY_ID_LENGTH) return false;
    const prefix = (id[0] << 8) | id[1];
    let lo = this.#starts[prefix];
    let hi = this.#starts[prefix + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const d = compareIdsAt(this.#ids, mid * ENTRY_ID_LENGTH, id, 0);
      if (d === 0) return true;
      if (d < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** Whether the content `cid` names is listed, by its entry id or, if enabled, its IPIP-383 double hashes. */
  hasCid(cid: CID | string): boolean {
    if (this.has(entryId(cid))) return true;
    return this.#doubleHashes && (this.has(ipip383DoubleHash(cid)) || this.has(ipip383LegacyHash(cid)));
  }

  /** The packed, sorted ids. */
  get ids(): Uint8Array {
    return this.#ids;
  }
}
