import type { CID } from 'multiformats/cid';
import type { Address } from 'viem';
import { getListInfo, getListVersion, type PublishVersionParameters } from '../chain/lists.js';
import type { ReadClient } from '../chain/transactions.js';
import type { AbortOptions, BlockSource } from './blocks.js';
import { entryIdToHex } from './entry-id.js';
import {
  type DecodedPayload,
  decodePayload,
  type EntryMetadata,
  expectedOnChain,
  type PayloadHeader,
} from './payload.js';
import { diffIds, unpackIds } from './set-ops.js';

export interface InspectedEntry {
  id: `0x${string}`;
  metadata?: EntryMetadata;
}

/** What a proposed list version really changes, and whether it is what it claims. */
export interface ListChangeInspection {
  list: Address;
  call: PublishVersionParameters;
  /** The version the list is at now. */
  currentVersion: bigint;
  /** Everything that does not match: a vote for this proposal would be a vote for something else. */
  problems: string[];
  /** Worth knowing, but not a mismatch. */
  warnings: string[];
  header?: PayloadHeader;
  /** The payload of the version the change builds on, if it has one. */
  parentPayloadCid?: CID;
  added: InspectedEntry[];
  removed: InspectedEntry[];
}

export interface InspectOptions extends AbortOptions {
  chainId: number;
  /** Called with blocks fetched so far and the total, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Inspects a proposed `publishVersion` of `list`, the way a voter should
 * before voting: fetches the new payload and the one it builds on, recomputes
 * the root and count, checks them and the header against the call, and lists
 * the exact entries added and removed, with their metadata. Every mismatch is
 * a `problem`; an inspection with none is safe to vote on.
 *
 * @example
 * const report = await inspectListChange(publicClient, helia.blockstore, list, decodePublishVersion(calldata), { chainId });
 * if (report.problems.length > 0) throw new Error(report.problems.join('\n'));
 */
export async function inspectListChange(
  client: ReadClient,
  source: BlockSource,
  list: Address,
  call: PublishVersionParameters,
  options: InspectOptions,
): Promise<ListChangeInspection> {
  const { currentVersion } = await getListInfo(client, { list });
  const report: ListChangeInspection = {
    list,
    call,
    currentVersion,
    problems: [],
    warnings: [],
    added: [],
    removed: [],
  };
  if (call.parentVersion !== currentVersion) {
    report.problems.push(staleParentProblem(call.parentVersion, currentVersion));
  }

  let parent: DecodedPayload | undefined;
  if (call.parentVersion > 0n) {
    const parentVersion = await getListVersion(client, { list, version: call.parentVersion }).catch(() => undefined);
    if (!parentVersion) {
      report.problems.push(`The list has no version ${call.parentVersion} to build on.`);
      return report;
    }
    report.parentPayloadCid = parentVersion.payloadCid;
    try {
      parent = await decodePayload(source, parentVersion.payloadCid, {
        ...options,
        metadata: true,
        expected: expectedOnChain(parentVersion, { chainId: options.chainId, list }),
      });
    } catch (error) {
      report.problems.push(
        `The payload of version ${call.parentVersion} (${parentVersion.payloadCid}), which it builds on, ` +
          `cannot be verified: ${describe(error)}`,
      );
      return report;
    }
  }

  let next: DecodedPayload;
  try {
    next = await decodePayload(source, call.payloadCid, {
      ...options,
      metadata: true,
      expected: expectedOnChain({ ...call, version: call.parentVersion + 1n }, { chainId: options.chainId, list }),
    });
  } catch (error) {
    report.problems.push(`The proposed payload ${call.payloadCid} does not match the proposal: ${describe(error)}`);
    return report;
  }
  report.header = next.header;

  const previousIds = parent?.ids ?? new Uint8Array(0);
  const { added, removed } = diffIds(previousIds, next.ids);
  report.added = unpackIds(added).map((id) => entry(id, next.metadata));
  report.removed = unpackIds(removed).map((id) => entry(id, parent?.metadata));
  const counted = { added: report.added.length, removed: report.removed.length };
  for (const key of ['added', 'removed'] as const) {
    if (counted[key] !== call[key]) {
      report.problems.push(
        `The proposal says ${call[key]} entries are ${key}, but the payload has ${counted[key]} ${key}.`,
      );
    }
    if (next.header[key] !== counted[key]) {
      report.problems.push(`The payload header says ${next.header[key]} ${key}, but it has ${counted[key]}.`);
    }
  }
  const expectedParent = report.parentPayloadCid?.toString() ?? null;
  if ((next.header.parent?.toString() ?? null) !== expectedParent) {
    report.warnings.push(
      `The payload names ${next.header.parent ?? 'no parent'} as its parent payload, not ${expectedParent ?? 'none'}.`,
    );
  }
  return report;
}

/**
 * The problem an inspection reports when the change builds on another version than the current one. Once the
 * proposal itself was executed, the list is one version past it, as expected: a reader may leave this out then.
 */
export function staleParentProblem(parentVersion: bigint, currentVersion: bigint): string {
  return (
    `It builds on version ${parentVersion}, but the list is at version ${currentVersion}: executing it will ` +
    'revert (IllegalDataListStaleParent). A new proposal must be made from the current version.'
  );
}

function entry(id: Uint8Array, metadata?: Map<string, EntryMetadata>): InspectedEntry {
  const hex = entryIdToHex(id);
  const meta = metadata?.get(hex);
  return meta ? { id: hex, metadata: meta } : { id: hex };
}

function describe(error: unknown): string {
  const err = error as Error;
  return `${err.name}: ${err.message}`;
}
