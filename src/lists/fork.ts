import type { ParsedEntry } from './denylist.js';
import { type EntryId, entryIdToHex } from './entry-id.js';
import { MembershipIndex } from './membership-index.js';
import type { EntryMetadata } from './payload.js';
import { applyIds, packIds } from './set-ops.js';

export interface ForkEntrySetInput {
  /** The parent version's ids, packed and ascending. */
  parentIds: Uint8Array;
  /** The parent version's metadata; kept for the entries that stay. */
  parentMetadata?: Map<string, EntryMetadata>;
  /** Whether the parent holds IPIP-383 double hashes. */
  parentDoubleHashes?: boolean;
  /** The disputed entries the fork leaves out. Each must be in the parent version. */
  remove: ParsedEntry[];
}

export interface ForkEntrySet {
  /** The fork's first set: the parent's minus the removed entries, packed and ascending. */
  ids: Uint8Array;
  /** The parent's ids left out, packed and ascending. */
  removed: Uint8Array;
  metadata: Map<string, EntryMetadata>;
  doubleHashes: boolean;
}

/** Entries to remove that the parent version does not hold: a fork can only leave out what its parent lists. */
export class EntriesNotInParentError extends Error {
  override name = 'EntriesNotInParentError';
  readonly entries: ParsedEntry[];

  constructor(entries: ParsedEntry[]) {
    const shown = entries.slice(0, 5).map((entry) => `${entryIdToHex(entry.id)} (line ${entry.line})`);
    const more = entries.length > shown.length ? ` and ${entries.length - shown.length} more` : '';
    super(
      `${entries.length} ${entries.length === 1 ? 'entry is' : 'entries are'} not in the parent version: ` +
        `${shown.join(', ')}${more}`,
    );
    this.entries = entries;
  }
}

/** Nothing to remove: a fork identical to its parent protests nothing. */
export class EmptyForkError extends Error {
  override name = 'EmptyForkError';
}

/**
 * The first set of a protest fork: the parent version's set minus the disputed entries, with the parent's
 * metadata for every entry that stays. An entry given as a CID also matches its IPIP-383 double hash when the
 * parent holds double hashes, so a rule imported from a denylist can be disputed by naming the content.
 * Throws {@link EntriesNotInParentError} if any entry to remove is not in the parent, and {@link EmptyForkError}
 * if there is none.
 *
 * @example
 * const fork = forkEntrySet({ parentIds: parent.ids, parentMetadata: parent.metadata, remove: parsed.entries });
 * const { cid } = await encodePayload(blockstore, { ...header, ids: fork.ids, added: 0, removed: fork.removed.length / 32 });
 */
export function forkEntrySet(input: ForkEntrySetInput): ForkEntrySet {
  if (input.remove.length === 0) throw new EmptyForkError('A fork must leave out at least one entry of its parent.');
  const index = MembershipIndex.fromSortedIds(input.parentIds);
  const doubleHashes = input.parentDoubleHashes ?? false;
  const toRemove: EntryId[] = [];
  const missing: ParsedEntry[] = [];
  for (const entry of input.remove) {
    const forms = [entry.id, ...(doubleHashes && entry.ipip383 ? [entry.ipip383] : [])];
    const listed = forms.filter((id) => index.has(id));
    if (listed.length === 0) missing.push(entry);
    toRemove.push(...listed);
  }
  if (missing.length > 0) throw new EntriesNotInParentError(missing);

  const removed = packIds(toRemove);
  const ids = applyIds(input.parentIds, new Uint8Array(0), removed);
  const removedHex = new Set(toRemove.map(entryIdToHex));
  const metadata = new Map<string, EntryMetadata>();
  for (const [hex, meta] of input.parentMetadata ?? [])
    if (!removedHex.has(hex as `0x${string}`)) metadata.set(hex, meta);
  return { ids, removed, metadata, doubleHashes };
}
