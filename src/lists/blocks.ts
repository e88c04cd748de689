import { sha256 } from '@noble/hashes/sha2.js';
import type { CID } from 'multiformats/cid';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { concat } from 'uint8arrays/concat';
import { equals } from 'uint8arrays/equals';

export interface AbortOptions {
  signal?: AbortSignal;
}

/** Anything blocks can be read from: a Helia blockstore (which fetches over bitswap when missing) or a plain store. */
export interface BlockSource {
  get(
    cid: CID,
    options?: AbortOptions,
  ): Uint8Array | Promise<Uint8Array> | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Anything blocks can be written to, such as a Helia blockstore. */
export interface BlockSink {
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): unknown;
}

export class BlockHashMismatchError extends Error {
  override name = 'BlockHashMismatchError';
  constructor(readonly cid: CID) {
    super(`Block ${cid} does not hash to its CID`);
  }
}

export class UnsupportedHashError extends Error {
  override name = 'UnsupportedHashError';
  constructor(readonly cid: CID) {
    super(`Block ${cid} uses hash function 0x${cid.multihash.code.toString(16)}; only sha2-256 is accepted`);
  }
}

/** Names of the errors Helia's blockstore throws when a block cannot be had now: timed out, or no peer has it. */
const UNAVAILABLE_ERRORS = new Set(['TimeoutError', 'AbortError', 'LoadBlockFailedError', 'NotFoundError']);

/**
 * Whether `error` means a block could not be fetched now (worth retrying, or asking other peers), as opposed to
 * a block that arrived and is wrong.
 */
export function isBlockUnavailable(error: unknown): boolean {
  return error instanceof Error && UNAVAILABLE_ERRORS.has(error.name);
}

/**
 * Reads a whole block and checks that its bytes hash to its CID, so a
 * tampered local store cannot feed a reader data the CID does not name.
 */
export async function readBlock(source: BlockSource, cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
  const result = await source.get(cid, options);
  let bytes: Uint8Array;
  if (result instanceof Uint8Array) {
    bytes = result;
  } else {
    const parts: Uint8Array[] = [];
    for await (const part of result) parts.push(part);
    bytes = parts.length === 1 ? parts[0] : concat(parts);
  }
  if (cid.multihash.code !== sha256Hasher.code) throw new UnsupportedHashError(cid);
  if (!equals(sha256(bytes), cid.multihash.digest)) throw new BlockHashMismatchError(cid);
  return bytes;
}
