import { compareIdsAt, ENTRY_ID_LENGTH, type EntryId } from './entry-id.js';

/**
 * Operations on sets of entry ids kept as packed, strictly ascending
 * `Uint8Array`s (32 bytes per id), the form payloads and indexes use. Each is
 * one linear merge, so a million-entry list changes in milliseconds.
 */

/** Packs ids (in any order, duplicates allowed) into a strictly ascending set. */
export function packIds(ids: Iterable<EntryId>): Uint8Array {
  const sorted = [...ids].sort((a, b) => compareIdsAt(a, 0, b, 0));
  const out = new Uint8Array(sorted.length * ENTRY_ID_LENGTH);
  let n = 0;
  for (const id of sorted) {
    if (n > 0 && compareIdsAt(out, (n - 1) * ENTRY_ID_LENGTH, id, 0) === 0) continue;
    out.set(id, n * ENTRY_ID_LENGTH);
    n++;
  }
  return out.slice(0, n * ENTRY_ID_LENGTH);
}

/** The ids of a packed set, each as its own array. */
export function unpackIds(ids: Uint8Array): EntryId[] {
  return Array.from({ length: ids.length / ENTRY_ID_LENGTH }, (_, i) =>
    ids.slice(i * ENTRY_ID_LENGTH, (i + 1) * ENTRY_ID_LENGTH),
  );
}

export interface SetDifference {
  /** In `next` but not in `previous`. */
  added: Uint8Array;
  /** In `previous` but not in `next`. */
  removed: Uint8Array;
}

/** What changed from `previous` to `next`. */
export function diffIds(previous: Uint8Array, next: Uint8Array): SetDifference {
  const added: number[] = [];
  const removed: number[] = [];
  let i = 0;
  let j = 0;
  while (i < previous.length || j < next.length) {
    const d = i >= previous.length ? 1 : j >= next.length ? -1 : compareIdsAt(previous, i, next, j);
    if (d === 0) {
      i += ENTRY_ID_LENGTH;
      j += ENTRY_ID_LENGTH;
    } else if (d < 0) {
      removed.push(i);
      i += ENTRY_ID_LENGTH;
    } else {
      added.push(j);
      j += ENTRY_ID_LENGTH;
    }
  }
  return { added: gather(next, added), removed: gather(previous, removed) };
}

/** `base` with `add` merged in and `remove` taken out; all three packed and ascending. */
export function applyIds(base: Uint8Array, add: Uint8Array, remove: Uint8Array): Uint8Array {
  const out = new Uint8Array(base.length + add.length);
  let n = 0;
  let i = 0;
  let j = 0;
  let r = 0;
  const push = (source: Uint8Array, offset: number) => {
    // Skip what `remove` names: advance it to the candidate, then compare.
    while (r < remove.length && compareIdsAt(remove, r, source, offset) < 0) r += ENTRY_ID_LENGTH;
    if (r < remove.length && compareIdsAt(remove, r, source, offset) === 0) return;
    out.set(source.subarray(offset, offset + ENTRY_ID_LENGTH), n);
    n += ENTRY_ID_LENGTH;
  };
  while (i < base.length || j < add.length) {
    const d = i >= base.length ? 1 : j >= add.length ? -1 : compareIdsAt(base, i, add, j);
    if (d <= 0) {
      push(base, i);
      i += ENTRY_ID_LENGTH;
      if (d === 0) j += ENTRY_ID_LENGTH;
    } else {
      push(add, j);
      j += ENTRY_ID_LENGTH;
    }
  }
  return out.slice(0, n);
}

function gather(source: Uint8Array, offsets: number[]): Uint8Array {
  const out = new Uint8Array(offsets.length * ENTRY_ID_LENGTH);
  offsets.forEach((offset, k) => {
    out.set(source.subarray(offset, offset + ENTRY_ID_LENGTH), k * ENTRY_ID_LENGTH);
  });
  return out;
}
