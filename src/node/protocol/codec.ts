import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { MessageDecodeError, MessageTooLargeError } from './errors.js';
import { isPeerIdBytes, type PeerIdBytes } from './peer.js';

/**
 * Strict reading of dag-cbor messages. dag-cbor already refuses non-minimal
 * integers, indefinite lengths, duplicate keys, NaN and trailing bytes; these
 * helpers add the shape: exact field sets, types, lengths and limits, so a
 * decoded message is exactly what its TypeScript type says and nothing more.
 */

/** An Ed25519 signature's length. */
export const SIGNATURE_BYTES = 64;

/** CIDs in messages name content by a hash; an identity CID could smuggle a whole file into a message. */
export const MAX_CID_BYTES = 128;

/** A decoded dag-cbor map, after its field names were checked. */
export type CborRecord = Record<string, unknown>;

/** Encodes a message value as dag-cbor, refusing it if it is over `maxBytes`. */
export function encodeMessage(value: unknown, what: string, maxBytes: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = dagCbor.encode(value);
  } catch (err) {
    // NaN, Infinity or undefined somewhere: a programming error on the sending side.
    throw new TypeError(`The ${what} cannot be encoded as dag-cbor: ${(err as Error).message}`, { cause: err });
  }
  if (bytes.length > maxBytes) {
    throw new MessageTooLargeError(`The ${what} is ${bytes.length} bytes encoded, over the limit of ${maxBytes}`);
  }
  return bytes;
}

/** Decodes dag-cbor bytes, checking the size first so an oversized message is never parsed. */
export function decodeMessage(bytes: Uint8Array, what: string, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw new MessageDecodeError(`The ${what} is not bytes`);
  if (bytes.length > maxBytes) {
    throw new MessageTooLargeError(`The ${what} is ${bytes.length} bytes, over the limit of ${maxBytes}`);
  }
  try {
    return dagCbor.decode(bytes);
  } catch (err) {
    throw new MessageDecodeError(`The ${what} is not valid dag-cbor: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Checks that `value` is a plain map with every `required` field, optionally
 * some `optional` ones, and no other field.
 */
export function readRecord(
  value: unknown,
  what: string,
  required: readonly string[],
  optional: readonly string[] = [],
): CborRecord {
  // dag-cbor maps decode to plain objects; arrays, bytes and CIDs have other prototypes.
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new MessageDecodeError(`The ${what} is not a map`);
  }
  const record = value as CborRecord;
  let present = 0;
  for (const key of Object.keys(record)) {
    if (required.includes(key)) present++;
    else if (!optional.includes(key)) throw new MessageDecodeError(`The ${what} has an unexpected field "${key}"`);
  }
  if (present !== required.length) {
    const missing = required.find((key) => !Object.hasOwn(record, key));
    throw new MessageDecodeError(`The ${what} has no "${missing}" field`);
  }
  return record;
}

/** A safe integer ≥ 0: sizes, times in ms since the epoch, sequence numbers. */
export function readCount(record: CborRecord, field: string, what: string): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MessageDecodeError(`The ${what}'s "${field}" must be a non-negative safe integer`);
  }
  return value;
}

/** A finite number. */
export function readNumber(record: CborRecord, field: string, what: string): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MessageDecodeError(`The ${what}'s "${field}" must be a finite number`);
  }
  return value;
}

/** A string of at most `maxBytes` UTF-8 bytes (and at least one character if `nonEmpty`). */
export function readString(
  record: CborRecord,
  field: string,
  what: string,
  maxBytes: number,
  nonEmpty = false,
): string {
  return checkString(record[field], `${what}'s "${field}"`, maxBytes, nonEmpty);
}

/** Checks a string value; `what` names it in errors. */
export function checkString(value: unknown, what: string, maxBytes: number, nonEmpty = false): string {
  if (typeof value !== 'string') throw new MessageDecodeError(`The ${what} must be a string`);
  if (nonEmpty && value.length === 0) throw new MessageDecodeError(`The ${what} must not be empty`);
  // Cheap bound first: a string never has more UTF-8 bytes than 3 per UTF-16 unit.
  if (value.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > maxBytes) throw new MessageTooLargeError(`The ${what} is ${bytes} UTF-8 bytes, over ${maxBytes}`);
  }
  return value;
}

/** Bytes of exactly `length`. */
export function readBytes(record: CborRecord, field: string, what: string, length: number): Uint8Array {
  const value = record[field];
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MessageDecodeError(`The ${what}'s "${field}" must be ${length} bytes`);
  }
  return value;
}

/** An Ed25519 peer id, as multihash bytes. */
export function readPeer(record: CborRecord, field: string, what: string): PeerIdBytes {
  return checkPeer(record[field], `${what}'s "${field}"`);
}

/** Checks a peer id value; `what` names it in errors. */
export function checkPeer(value: unknown, what: string): PeerIdBytes {
  if (!isPeerIdBytes(value))
    throw new MessageDecodeError(`The ${what} must be an Ed25519 peer id (38 multihash bytes)`);
  return value;
}

/** A CID link of at most {@link MAX_CID_BYTES}. */
export function readCid(record: CborRecord, field: string, what: string): CID {
  const cid = CID.asCID(record[field]);
  if (cid === null) throw new MessageDecodeError(`The ${what}'s "${field}" must be a CID`);
  if (cid.bytes.length > MAX_CID_BYTES) {
    throw new MessageTooLargeError(
      `The ${what}'s "${field}" is a CID of ${cid.bytes.length} bytes, over ${MAX_CID_BYTES}`,
    );
  }
  return cid;
}

/** An array of at most `max` items. */
export function readArray(record: CborRecord, field: string, what: string, max: number): unknown[] {
  const value = record[field];
  if (!Array.isArray(value)) throw new MessageDecodeError(`The ${what}'s "${field}" must be a list`);
  if (value.length > max) {
    throw new MessageTooLargeError(`The ${what}'s "${field}" has ${value.length} items, over the limit of ${max}`);
  }
  return value;
}

/** One of a fixed set of strings. */
export function readEnum<T extends string>(record: CborRecord, field: string, what: string, values: readonly T[]): T {
  const value = record[field];
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new MessageDecodeError(`The ${what}'s "${field}" must be one of ${values.join(', ')}`);
  }
  return value as T;
}

/**
 * Runs `check`, prefixing the message of any error it throws with `context`
 * (like `sightings[3]`), so a refusal of a big message says which part failed.
 */
export async function inContext<T>(context: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof Error) err.message = `${context}: ${err.message}`;
    throw err;
  }
}
