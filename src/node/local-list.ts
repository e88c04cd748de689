import { TypedEventEmitter } from 'main-event';
import type { CID } from 'multiformats/cid';
import type { EntryId } from '../lists/entry-id.js';
import { MembershipIndex } from '../lists/membership-index.js';
import { packIds } from '../lists/set-ops.js';
import type { VersionEvent } from '../lists/sync.js';

/** What a node needs of a list it enforces: membership, and word when it changes. */
export interface EnforcedList {
  hasCid(cid: CID | string): boolean;
  addEventListener(type: 'version', listener: (event: CustomEvent<VersionEvent>) => void): void;
  removeEventListener(type: 'version', listener: (event: CustomEvent<VersionEvent>) => void): void;
}

/**
 * A list the node operator keeps locally, in addition to the lists synced
 * from chain: for example an IPFS denylist read with `parseEntryList`. It
 * never reaches a rating server; it only stops this node fetching, serving
 * and relaying what it names.
 */
export class LocalList extends TypedEventEmitter<{ version: CustomEvent<VersionEvent> }> implements EnforcedList {
  #index = MembershipIndex.empty();

  constructor(ids: Iterable<EntryId> = [], options: { doubleHashes?: boolean } = {}) {
    super();
    this.#index = MembershipIndex.fromSortedIds(packIds(ids), options);
  }

  hasCid(cid: CID | string): boolean {
    return this.#index.hasCid(cid);
  }

  /** Replaces the entries; the node drops cached content that is now listed. */
  replace(ids: Iterable<EntryId>, options: { doubleHashes?: boolean } = {}) {
    this.#index = MembershipIndex.fromSortedIds(packIds(ids), options);
    this.safeDispatchEvent('version');
  }
}
