import type { ParsedEntry } from './denylist.js';
import { entryIdToHex } from './entry-id.js';
import { MembershipIndex } from './membership-index.js';
import type { EntryMetadata } from './payload.js';
import { applyIds, diffIds, packIds, unpackIds } from './set-ops.js';

export interface ListChangeInput {
  /** The ids of the version the change builds on, packed and ascending. */
  current: Uint8Array;
  /** Metadata of the current version's entries, kept for those that stay. */
  currentMetadata?: Map<string, EntryMetadata>;
  /** Whether the current version already holds IPIP-383 double hashes. */
  currentDoubleHashes?: boolean;
  add: ParsedEntry[];
  remove: ParsedEntry[];
  /** Metadata for every added entry. */
  category?: string;
  reason?: string;
  tips?: string[];
}

export interface ListChange {
  /** The new set, packed and ascending. */
  ids: Uint8Array;
  added: Uint8Array;
  removed: Uint8Array;
  metadata: Map<string, EntryMetadata>;
  doubleHashes: boolean;
  /** Entries asked to be added that are listed already. */
  alreadyListed: ParsedEntry[];
  /** Entries asked to be removed that are not listed. */
  notListed: ParsedEntry[];
}

export class ConflictingChangeError extends Error {
  override name = 'ConflictingChangeError';
}

export class EmptyChangeError extends Error {
  override name = 'EmptyChangeError';
}

/**
 * The next version of a list: the current set plus `add` minus `remove`, with
 * metadata carried over for the entries that stay and set for the new ones.
 * Throws {@link ConflictingChangeError} if an entry is both added and removed,
 * and {@link EmptyChangeError} if nothing would change.
 *
 * @example
 * const change = applyListChange({ current: payload.ids, add: parseEntryList(text).entries, remove: [], reason });
 */
export function applyListChange(input: ListChangeInput): ListChange {
  const index = MembershipIndex.fromSortedIds(input.current);
  const removeSet = new Set(input.remove.map((e) => entryIdToHex(e.id)));
  const conflict = input.add.find((e) => removeSet.has(entryIdToHex(e.id)));
  if (conflict) {
    throw new ConflictingChangeError(`Entry ${entryIdToHex(conflict.id)} is both added and removed`);
  }
  const alreadyListed = input.add.filter((e) => index.has(e.id));
  const notListed = input.remove.filter((e) => !index.has(e.id));
  const toAdd = input.add.filter((e) => !index.has(e.id));
  const toRemove = input.remove.filter((e) => index.has(e.id));
  if (toAdd.length === 0 && toRemove.length === 0) {
    throw new EmptyChangeError(
      'Nothing would change: every entry to add is listed already and every entry to remove is not listed.',
    );
  }

  const ids = applyIds(input.current, packIds(toAdd.map((e) => e.id)), packIds(toRemove.map((e) => e.id)));
  const { added, removed } = diffIds(input.current, ids);

  const metadata = new Map<string, EntryMetadata>();
  const removedHex = new Set<string>(unpackIds(removed).map(entryIdToHex));
  for (const [hex, meta] of input.currentMetadata ?? []) if (!removedHex.has(hex)) metadata.set(hex, meta);
  for (const entry of toAdd) {
    metadata.set(entryIdToHex(entry.id), {
      category: input.category,
      reason: input.reason,
      tips: input.tips,
      form: entry.form,
      ipip383: entry.ipip383,
    });
  }
  const doubleHashes =
    (input.currentDoubleHashes ?? false) || toAdd.some((e) => e.form === 'ipip383' || e.form === 'ipip383-legacy');
  return { ids, added, removed, metadata, doubleHashes, alreadyListed, notListed };
}
