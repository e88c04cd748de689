import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base32 } from 'multiformats/bases/base32';
import { base58btc } from 'multiformats/bases/base58';
import { bases } from 'multiformats/basics';
import { CID } from 'multiformats/cid';

// Every multibase multiformats knows (base32, base58btc, base36, hex, …), by prefix.
const basesByPrefix = new Map<string, (typeof bases)[keyof typeof bases]>(
  Object.values(bases).map((codec) => [codec.prefix, codec]),
);

/** Bytes of an entry id: `sha256(multihash bytes of the content's CID)`. */
export const ENTRY_ID_LENGTH = 32;

/** A 32-byte entry id. The public list names content only through these. */
export type EntryId = Uint8Array;

export class InvalidCidError extends Error {
  override name = 'InvalidCidError';
  constructor(
    readonly input: string,
    options?: ErrorOptions,
  ) {
    super(`Not a CID: "${input}"`, options);
  }
}

export class InvalidEntryIdError extends Error {
  override name = 'InvalidEntryIdError';
  constructor(readonly input: string) {
    super(`Not an entry id (32 bytes as 0x followed by 64 hex digits): "${input}"`);
  }
}

/** Parses a CID in any base, or returns it unchanged. Throws {@link InvalidCidError}. */
export function parseCid(input: string | CID): CID {
  if (typeof input !== 'string') return input;
  const text = input.trim();
  try {
    // CIDv0 is bare base58btc; CIDv1 strings start with a multibase prefix.
    const base = text.startsWith('Qm') ? undefined : basesByPrefix.get(text[0]);
    return CID.parse(text, base?.decoder);
  } catch (err) {
    throw new InvalidCidError(input, { cause: err });
  }
}

/**
 * The entry id of a CID: sha256 of its multihash bytes. CIDv0 and CIDv1 of the
 * same content (same multihash) give the same id, whatever the codec.
 *
 * @example
 * entryIdHex(entryId('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'))
 */
export function entryId(cid: string | CID): EntryId {
  return sha256(parseCid(cid).multihash.bytes);
}

/**
 * The IPIP-383 ("compact denylist") modern double hash of a CID: sha256 of the
 * base58btc string of its multihash. A `//<multihash>` denylist rule names
 * this digest inside a sha2-256 multihash.
 */
export function ipip383DoubleHash(cid: string | CID): Uint8Array {
  return sha256(utf8ToBytes(base58btc.baseEncode(parseCid(cid).multihash.bytes)));
}

/**
 * The IPIP-383 legacy ("badbits") double hash of a CID: sha256 of its CIDv1
 * base32 string followed by a slash. Hex-encoded `//<64 hex>` rules name it.
 */
export function ipip383LegacyHash(cid: string | CID): Uint8Array {
  return sha256(utf8ToBytes(`${parseCid(cid).toV1().toString(base32)}/`));
}

/** `0x`-prefixed lowercase hex of an entry id. */
export function entryIdToHex(id: EntryId): `0x${string}` {
  return `0x${bytesToHex(id)}`;
}

/** Parses `0x` + 64 hex digits. Throws {@link InvalidEntryIdError}. */
export function entryIdFromHex(hex: string): EntryId {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new InvalidEntryIdError(hex);
  return hexToBytes(hex.slice(2));
}

/** Byte-wise order of two ids; the order of a list's entries. */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  return compareIdsAt(a, 0, b, 0);
}

/** Byte-wise order of the 32 bytes at `aOffset` in `a` and at `bOffset` in `b`; for packed arrays of ids. */
export function compareIdsAt(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): number {
  for (let i = 0; i < ENTRY_ID_LENGTH; i++) {
    const d = a[aOffset + i] - b[bOffset + i];
    if (d !== 0) return d;
  }
  return 0;
}
