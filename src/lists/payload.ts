import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { equals } from 'uint8arrays/equals';
import { type Hex, hexToBytes } from 'viem';
import { type AbortOptions, type BlockSink, type BlockSource, readBlock } from './blocks.js';
import type { EntryForm } from './denylist.js';
import { compareIdsAt, ENTRY_ID_LENGTH, type EntryId, entryIdFromHex, entryIdToHex } from './entry-id.js';
import { MembershipIndex } from './membership-index.js';
import { entryMerkleRoot } from './merkle.js';

/** Value of the header's `format` field. */
export const PAYLOAD_FORMAT = 'nrp-list-payload/1';

/** No block of a payload may be larger: bitswap and most IPFS software move blocks of up to 1–2 MiB. */
export const MAX_BLOCK_BYTES = 1 << 20;

/** Ids in one chunk block: 1,024,000 bytes of ids plus a few bytes of dag-cbor stay under 1 MiB. */
export const IDS_PER_CHUNK = 32_000;

/**
 * Optional facts about one entry. Kept in separate blocks, so a node that only
 * enforces the list fetches the ids and never the metadata.
 */
export interface EntryMetadata {
  category?: string;
  reason?: string;
  /** References to the tip-offs that led to the listing. */
  tips?: string[];
  /** How the entry was named when it was added. */
  form?: EntryForm;
  /** The IPIP-383 double hash, for export to IPFS denylists. */
  ipip383?: Uint8Array;
}

/**
 * The header block of a list payload: what the version is, and where its
 * entries and metadata are. It names the chain, list and version so a payload
 * cannot be passed off as another list's.
 */
export interface PayloadHeader {
  format: typeof PAYLOAD_FORMAT;
  chainId: number;
  /** The list contract, lowercase `0x` hex. */
  list: string;
  version: number;
  /** Merkle root of the set of entry ids, as on chain; 32 zero bytes for the empty set. */
  root: Uint8Array;
  count: number;
  added: number;
  removed: number;
  /** The payload of the version this one was built on (for a fork's first version, the parent list's). */
  parent: CID | null;
  /** Whether some entries are IPIP-383 double hashes, which readers must also match. */
  doubleHashes: boolean;
  /** Chunks of strictly ascending ids; each chunk continues where the one before stopped. */
  chunks: CID[];
  /** Metadata blocks, entries in id order. */
  metadata: CID[];
}

export interface EncodePayloadInput {
  chainId: number;
  list: string;
  version: number;
  /** Entry ids, 32 bytes each, packed and strictly ascending. */
  ids: Uint8Array;
  added: number;
  removed: number;
  parent?: CID | null;
  doubleHashes?: boolean;
  /** Metadata by entry id hex (`0x…`). Every key must be an entry of the set. */
  metadata?: Map<string, EntryMetadata>;
  /** The root, when the caller already computed it; computed otherwise. */
  root?: Uint8Array;
}

export interface EncodedPayload {
  cid: CID;
  header: PayloadHeader;
  blocks: number;
  bytes: number;
}

export interface DecodedPayload {
  cid: CID;
  header: PayloadHeader;
  /** The entry ids, packed and strictly ascending. */
  ids: Uint8Array;
  /** Metadata by entry id hex, if asked for. */
  metadata?: Map<string, EntryMetadata>;
}

/** What the chain says the payload must be; any difference fails decoding. */
export interface ExpectedPayload {
  root?: Uint8Array;
  count?: number;
  chainId?: number;
  list?: string;
  version?: number;
}

/** A list version as the chain records it, which its payload must match. */
export interface OnChainVersion {
  root: Hex;
  count: number;
  version: bigint;
}

/**
 * What the payload of a version published on chain must match: its root and count, and the chain, list and
 * version its header names.
 *
 * @example
 * const onChain = await getListVersion(client, { list, version });
 * await decodePayload(blocks, onChain.payloadCid, { expected: expectedOnChain(onChain, { chainId, list }) });
 */
export function expectedOnChain(onChain: OnChainVersion, where: { chainId: number; list: string }): ExpectedPayload {
  return {
    root: hexToBytes(onChain.root),
    count: onChain.count,
    chainId: where.chainId,
    list: where.list,
    version: Number(onChain.version),
  };
}

export interface DecodePayloadOptions extends AbortOptions {
  expected?: ExpectedPayload;
  /** Also fetch and check the metadata blocks. */
  metadata?: boolean;
  /** Called after each block with the blocks done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Base class of every reason a payload is rejected. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** A block of the payload is not dag-cbor. */
export class PayloadCodecError extends PayloadError {
  override name = 'PayloadCodecError';
}

/** A block is larger than {@link MAX_BLOCK_BYTES}, or a chunk holds more than {@link IDS_PER_CHUNK} ids. */
export class PayloadChunkTooLargeError extends PayloadError {
  override name = 'PayloadChunkTooLargeError';
}

/** A block does not have the structure of a list payload. */
export class PayloadFormatError extends PayloadError {
  override name = 'PayloadFormatError';
}

/** Entry ids are not in ascending order. */
export class PayloadUnsortedError extends PayloadError {
  override name = 'PayloadUnsortedError';
}

/** An entry id appears twice. */
export class PayloadDuplicateEntryError extends PayloadError {
  override name = 'PayloadDuplicateEntryError';
}

/** The number of ids differs from the header's count or from the chain's. */
export class PayloadCountMismatchError extends PayloadError {
  override name = 'PayloadCountMismatchError';
}

/** The Merkle root of the ids differs from the header's root or from the chain's. */
export class PayloadRootMismatchError extends PayloadError {
  override name = 'PayloadRootMismatchError';
}

/** The header names another chain, list or version than the one being synced. */
export class PayloadHeaderMismatchError extends PayloadError {
  override name = 'PayloadHeaderMismatchError';
}

/** Metadata names an entry that is not in the set, or is out of order. */
export class PayloadMetadataError extends PayloadError {
  override name = 'PayloadMetadataError';
}

/**
 * Encodes a list version as dag-cbor blocks and writes them to `store`:
 * chunks of ids, metadata blocks, then the header, whose CID is the payload's.
 *
 * @example
 * const { cid } = await encodePayload(helia.blockstore, { chainId, list, version: 2, ids, added: 1, removed: 0 });
 */
export async function encodePayload(
  store: BlockSink,
  input: EncodePayloadInput,
  options: AbortOptions = {},
): Promise<EncodedPayload> {
  const { ids } = input;
  checkIds(ids, 0, new Uint8Array(0));
  const count = ids.length / ENTRY_ID_LENGTH;
  const root = input.root ?? (await entryMerkleRoot(ids, options));
  let blocks = 0;
  let bytes = 0;
  const put = async (value: unknown): Promise<CID> => {
    const block = dagCbor.encode(value);
    if (block.length > MAX_BLOCK_BYTES) {
      throw new PayloadChunkTooLargeError(`A payload block would be ${block.length} bytes, over ${MAX_BLOCK_BYTES}`);
    }
    const cid = CID.create(1, dagCbor.code, await sha256.digest(block));
    options.signal?.throwIfAborted();
    await store.put(cid, block, options);
    blocks++;
    bytes += block.length;
    return cid;
  };

  const chunks: CID[] = [];
  for (let offset = 0; offset < ids.length; offset += IDS_PER_CHUNK * ENTRY_ID_LENGTH) {
    chunks.push(await put({ ids: ids.subarray(offset, offset + IDS_PER_CHUNK * ENTRY_ID_LENGTH) }));
  }
  const metadata: CID[] = [];
  for (const entries of metadataBlocks(input.metadata, ids)) metadata.push(await put({ entries }));

  const header: PayloadHeader = {
    format: PAYLOAD_FORMAT,
    chainId: input.chainId,
    list: input.list.toLowerCase(),
    version: input.version,
    root,
    count,
    added: input.added,
    removed: input.removed,
    parent: input.parent ?? null,
    doubleHashes: input.doubleHashes ?? false,
    chunks,
    metadata,
  };
  const cid = await put(header);
  return { cid, header, blocks, bytes };
}

/**
 * Reads and verifies a list payload: every block's hash, codec and size, the
 * header's structure, strictly ascending ids across all chunks, the count and
 * the Merkle root, and whatever the chain says in `expected`. Throws a
 * {@link PayloadError} subclass naming the first problem; never returns a
 * payload that does not match.
 *
 * @example
 * const { ids } = await decodePayload(helia.blockstore, version.payloadCid, {
 *   expected: { root: version.root, count: version.count, chainId, list, version: 3 },
 *   signal: AbortSignal.timeout(30_000),
 * });
 */
export async function decodePayload(
  source: BlockSource,
  cid: CID,
  options: DecodePayloadOptions = {},
): Promise<DecodedPayload> {
  const header = parseHeader(await readCbor(source, cid, options));
  checkExpected(header, options.expected);

  const total = 1 + header.chunks.length + (options.metadata ? header.metadata.length : 0);
  let done = 1;
  options.onProgress?.(done, total);

  const ids = new Uint8Array(header.count * ENTRY_ID_LENGTH);
  let filled = 0;
  for (const chunkCid of header.chunks) {
    const chunk = await readCbor(source, chunkCid, options);
    const chunkIds = field(chunk, 'ids', 'chunk', (v): v is Uint8Array => v instanceof Uint8Array);
    if (chunkIds.length === 0 || chunkIds.length % ENTRY_ID_LENGTH !== 0) {
      throw new PayloadFormatError(`Chunk ${chunkCid} does not hold whole 32-byte entry ids`);
    }
    if (chunkIds.length > IDS_PER_CHUNK * ENTRY_ID_LENGTH) {
      throw new PayloadChunkTooLargeError(`Chunk ${chunkCid} holds more than ${IDS_PER_CHUNK} ids`);
    }
    // Every chunk but the last is full, so a set has exactly one payload layout.
    if (chunkCid !== header.chunks.at(-1) && chunkIds.length !== IDS_PER_CHUNK * ENTRY_ID_LENGTH) {
      throw new PayloadFormatError(`Chunk ${chunkCid} is not the last, but holds fewer than ${IDS_PER_CHUNK} ids`);
    }
    if (filled + chunkIds.length > ids.length) {
      throw new PayloadCountMismatchError(`The chunks hold more ids than the header's count, ${header.count}`);
    }
    checkIds(chunkIds, filled / ENTRY_ID_LENGTH, filled === 0 ? new Uint8Array(0) : ids.subarray(filled - 32, filled));
    ids.set(chunkIds, filled);
    filled += chunkIds.length;
    options.onProgress?.(++done, total);
  }
  if (filled !== ids.length) {
    throw new PayloadCountMismatchError(
      `The chunks hold ${filled / ENTRY_ID_LENGTH} ids, but the header says ${header.count}`,
    );
  }

  const root = await entryMerkleRoot(ids, { signal: options.signal });
  if (!equals(root, header.root)) {
    throw new PayloadRootMismatchError(
      `The entries' Merkle root is ${entryIdToHex(root)}, but the payload claims ${entryIdToHex(header.root)}`,
    );
  }

  let metadata: Map<string, EntryMetadata> | undefined;
  if (options.metadata) {
    metadata = new Map();
    const set = MembershipIndex.fromSortedIds(ids);
    for (const blockCid of header.metadata) {
      readMetadataBlock(await readCbor(source, blockCid, options), blockCid, set, metadata);
      options.onProgress?.(++done, total);
    }
  }
  return { cid, header, ids, metadata };
}

async function readCbor(source: BlockSource, cid: CID, options: AbortOptions): Promise<unknown> {
  if (cid.code !== dagCbor.code) {
    throw new PayloadCodecError(`Block ${cid} has codec 0x${cid.code.toString(16)}, not dag-cbor`);
  }
  const bytes = await readBlock(source, cid, options);
  if (bytes.length > MAX_BLOCK_BYTES) {
    throw new PayloadChunkTooLargeError(`Block ${cid} is ${bytes.length} bytes, over ${MAX_BLOCK_BYTES}`);
  }
  try {
    return dagCbor.decode(bytes);
  } catch (err) {
    throw new PayloadCodecError(`Block ${cid} is not valid dag-cbor: ${(err as Error).message}`, { cause: err });
  }
}

function parseHeader(value: unknown): PayloadHeader {
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  const isCidList = (v: unknown): v is CID[] => Array.isArray(v) && v.every((c) => CID.asCID(c) !== null);
  const format = field(value, 'format', 'header', (v): v is string => typeof v === 'string');
  if (format !== PAYLOAD_FORMAT) throw new PayloadFormatError(`Unknown payload format "${format}"`);
  const root = field(value, 'root', 'header', (v): v is Uint8Array => v instanceof Uint8Array && v.length === 32);
  const header: PayloadHeader = {
    format,
    chainId: field(value, 'chainId', 'header', isCount),
    list: field(value, 'list', 'header', (v): v is string => typeof v === 'string' && /^0x[0-9a-f]{40}$/.test(v)),
    version: field(value, 'version', 'header', isCount),
    root,
    count: field(value, 'count', 'header', isCount),
    added: field(value, 'added', 'header', isCount),
    removed: field(value, 'removed', 'header', isCount),
    parent: field(value, 'parent', 'header', (v): v is CID | null => v === null || CID.asCID(v) !== null),
    doubleHashes: field(value, 'doubleHashes', 'header', (v): v is boolean => typeof v === 'boolean'),
    chunks: field(value, 'chunks', 'header', isCidList),
    metadata: field(value, 'metadata', 'header', isCidList),
  };
  if (header.chunks.length !== Math.ceil(header.count / IDS_PER_CHUNK)) {
    throw new PayloadCountMismatchError(`${header.chunks.length} chunks cannot hold ${header.count} entries`);
  }
  return header;
}

function field<T>(value: unknown, name: string, block: string, check: (v: unknown) => v is T): T {
  const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
  if (!check(v)) throw new PayloadFormatError(`The ${block} block has no valid "${name}" field`);
  return v;
}

function checkExpected(header: PayloadHeader, expected: ExpectedPayload = {}) {
  if (expected.root && !equals(expected.root, header.root)) {
    throw new PayloadRootMismatchError(
      `The payload's root ${entryIdToHex(header.root)} is not the root on chain, ${entryIdToHex(expected.root)}`,
    );
  }
  if (expected.count !== undefined && expected.count !== header.count) {
    throw new PayloadCountMismatchError(`The payload has ${header.count} entries; the chain says ${expected.count}`);
  }
  for (const key of ['chainId', 'version'] as const) {
    if (expected[key] !== undefined && expected[key] !== header[key]) {
      throw new PayloadHeaderMismatchError(`The payload is for ${key} ${header[key]}, not ${expected[key]}`);
    }
  }
  if (expected.list !== undefined && expected.list.toLowerCase() !== header.list) {
    throw new PayloadHeaderMismatchError(`The payload is for list ${header.list}, not ${expected.list.toLowerCase()}`);
  }
}

/** Checks that `ids` are strictly ascending and follow `previous` (the last id before them, or empty). */
function checkIds(ids: Uint8Array, firstIndex: number, previous: Uint8Array) {
  if (ids.length % ENTRY_ID_LENGTH !== 0) throw new RangeError('Entry ids must be 32 bytes each');
  const check = (d: number, offset: number) => {
    const index = firstIndex + offset / ENTRY_ID_LENGTH;
    if (d === 0) throw new PayloadDuplicateEntryError(`Entry ${index} repeats the entry before it`);
    if (d > 0) throw new PayloadUnsortedError(`Entry ${index} is smaller than the entry before it`);
  };
  if (previous.length > 0 && ids.length > 0) check(compareIdsAt(previous, 0, ids, 0), 0);
  for (let offset = ENTRY_ID_LENGTH; offset < ids.length; offset += ENTRY_ID_LENGTH) {
    const d = compareIdsAt(ids, offset - ENTRY_ID_LENGTH, ids, offset);
    if (d >= 0) check(d, offset);
  }
}

/** Splits metadata into blocks under the size limit, in id order, checking every id is in the set. */
function* metadataBlocks(metadata: Map<string, EntryMetadata> | undefined, ids: Uint8Array) {
  if (!metadata || metadata.size === 0) return;
  const known = new Set<string>();
  for (let offset = 0; offset < ids.length; offset += ENTRY_ID_LENGTH) {
    const hex = entryIdToHex(ids.subarray(offset, offset + ENTRY_ID_LENGTH));
    if (metadata.has(hex)) known.add(hex);
  }
  for (const key of metadata.keys()) {
    if (!known.has(key.toLowerCase())) throw new PayloadMetadataError(`Metadata names ${key}, which is not an entry`);
  }
  let block: unknown[] = [];
  let size = 0;
  // `known` kept id order, since it was filled walking the sorted ids.
  for (const hex of known) {
    const entry = { id: entryIdFromHex(hex), ...withoutUndefined(metadata.get(hex) ?? {}) };
    const entrySize = dagCbor.encode(entry).length;
    if (size + entrySize > MAX_BLOCK_BYTES - 64 && block.length > 0) {
      yield block;
      block = [];
      size = 0;
    }
    block.push(entry);
    size += entrySize;
  }
  if (block.length > 0) yield block;
}

function readMetadataBlock(value: unknown, cid: CID, set: MembershipIndex, into: Map<string, EntryMetadata>) {
  const entries = field(value, 'entries', 'metadata', Array.isArray);
  for (const entry of entries as Record<string, unknown>[]) {
    const id = field(entry, 'id', 'metadata', (v): v is EntryId => v instanceof Uint8Array && v.length === 32);
    const hex = entryIdToHex(id);
    if (!set.has(id)) throw new PayloadMetadataError(`Metadata block ${cid} names ${hex}, not an entry`);
    const { id: _, ...rest } = entry;
    into.set(hex, rest as EntryMetadata);
  }
}

// dag-cbor refuses undefined values.
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
