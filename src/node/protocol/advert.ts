import type { PrivateKey } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import {
  type CborRecord,
  decodeMessage,
  encodeMessage,
  readBytes,
  readCid,
  readCount,
  readPeer,
  readRecord,
  readString,
  SIGNATURE_BYTES,
} from './codec.js';
import { SignerMismatchError } from './errors.js';
import { checkFreshness, type FreshnessOptions } from './freshness.js';
import { type PeerIdBytes, type PeerLike, peerIdBytesOfKey, peerIdToString, samePeer, toPeerIdBytes } from './peer.js';
import { checkSignature, SIGNING_DOMAINS, signBody } from './signing.js';

/** A name longer than this is refused: it is a hint for humans, not a place to carry data. */
export const MAX_ADVERT_NAME_BYTES = 256;

/** An encoded advert is never larger: a CID, a name, a peer id and a signature fit with room to spare. */
export const MAX_ADVERT_BYTES = 1024;

/** How far ahead of the receiver's clock an advert may be dated by default. */
export const ADVERT_MAX_SKEW_MS = 60_000;

/** How old an advert may be on receipt by default. Evidence in a report is checked against a longer bound. */
export const ADVERT_MAX_AGE_MS = 10 * 60_000;

/**
 * A neighbour's offer of content. The neighbour that sends it signs it (each
 * hop re-signs), so a signed advert proves that `sender` offered `cid`.
 */
export interface Advert {
  cid: CID;
  /** Size in bytes, as the sender claims it. */
  size: number;
  /** A file name, for humans; at most {@link MAX_ADVERT_NAME_BYTES} UTF-8 bytes. */
  name?: string;
  /** The peer that signed this advert. */
  sender: PeerIdBytes;
  /** When it was signed, in ms since the epoch. */
  time: number;
  signature: Uint8Array;
}

/** What the caller chooses in a new advert; the sender comes from the key. */
export interface AdvertFields {
  cid: CID;
  size: number;
  name?: string;
  /** Defaults to `Date.now()`. */
  time?: number;
}

const REQUIRED_FIELDS = ['cid', 'size', 'sender', 'time', 'signature'] as const;
const OPTIONAL_FIELDS = ['name'] as const;

/**
 * Creates and signs an advert as the peer that owns `privateKey`.
 *
 * @example
 * const advert = await createAdvert(privateKey, { cid, size: 1234, name: 'photo.jpg' });
 * stream.send(encodeAdvert(advert));
 */
export async function createAdvert(privateKey: PrivateKey, fields: AdvertFields): Promise<Advert> {
  const body: Omit<Advert, 'signature'> = {
    cid: fields.cid,
    size: fields.size,
    ...(fields.name === undefined ? {} : { name: fields.name }),
    sender: peerIdBytesOfKey(privateKey),
    time: fields.time ?? Date.now(),
  };
  // Validate by the receiver's rules, so we never sign what others will refuse.
  parseAdvert({ ...advertBody(body), signature: new Uint8Array(SIGNATURE_BYTES) });
  const signature = await signBody(privateKey, SIGNING_DOMAINS.advert, advertBody(body));
  return { ...body, signature };
}

/** Encodes an advert as dag-cbor, at most {@link MAX_ADVERT_BYTES}. */
export function encodeAdvert(advert: Advert): Uint8Array {
  return encodeMessage(advertToValue(advert), 'advert', MAX_ADVERT_BYTES);
}

/**
 * Decodes an advert strictly: size first, then dag-cbor, then every field.
 * Does not check the signature; see {@link verifyAdvertFrom}.
 *
 * @example
 * const advert = decodeAdvert(bytes);
 * await verifyAdvertFrom(advert, connection.remotePeer);
 */
export function decodeAdvert(bytes: Uint8Array): Advert {
  return parseAdvert(decodeMessage(bytes, 'advert', MAX_ADVERT_BYTES));
}

/** The dag-cbor value of an advert, also used where adverts are nested (sightings). */
export function advertToValue(advert: Advert): CborRecord {
  return { ...advertBody(advert), signature: advert.signature };
}

/** Reads an advert from a decoded dag-cbor value; `what` names it in errors. */
export function parseAdvert(value: unknown, what = 'advert'): Advert {
  const record = readRecord(value, what, REQUIRED_FIELDS, OPTIONAL_FIELDS);
  const advert: Advert = {
    cid: readCid(record, 'cid', what),
    size: readCount(record, 'size', what),
    sender: readPeer(record, 'sender', what),
    time: readCount(record, 'time', what),
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
  if (Object.hasOwn(record, 'name')) advert.name = readString(record, 'name', what, MAX_ADVERT_NAME_BYTES);
  return advert;
}

/**
 * Checks an advert's signature (with the sender's key) and that its time is
 * fresh: by default at most {@link ADVERT_MAX_AGE_MS} old and
 * {@link ADVERT_MAX_SKEW_MS} ahead. Throws `BadSignatureError` or `StaleMessageError`.
 */
export async function verifyAdvert(advert: Advert, options: FreshnessOptions = {}): Promise<void> {
  checkFreshness(advert.time, 'advert', options, { maxSkewMs: ADVERT_MAX_SKEW_MS, maxAgeMs: ADVERT_MAX_AGE_MS });
  await checkSignature(advert.sender, SIGNING_DOMAINS.advert, advertBody(advert), advert.signature, 'advert');
}

/**
 * The cheap part of {@link verifyAdvertFrom}: the advert names the peer it came
 * from as its sender, and is fresh. No cryptography, so a node can run it on
 * every advert that arrives over an authenticated connection, and verify the
 * signature only of the adverts it keeps as evidence.
 */
export function checkAdvertFrom(advert: Advert, from: PeerLike, options: FreshnessOptions = {}): void {
  const peer = toPeerIdBytes(from);
  if (!samePeer(advert.sender, peer)) {
    throw new SignerMismatchError(
      `The advert is signed by ${peerIdToString(advert.sender)}, but came from ${peerIdToString(peer)}`,
    );
  }
  checkFreshness(advert.time, 'advert', options, { maxSkewMs: ADVERT_MAX_SKEW_MS, maxAgeMs: ADVERT_MAX_AGE_MS });
}

/**
 * Checks that an advert was signed by the neighbour it came from, and is fresh.
 * Throws `SignerMismatchError`, `StaleMessageError` or `BadSignatureError`.
 *
 * @example
 * const advert = decodeAdvert(bytes);
 * await verifyAdvertFrom(advert, connection.remotePeer); // the signer must be this neighbour
 */
export async function verifyAdvertFrom(advert: Advert, from: PeerLike, options: FreshnessOptions = {}): Promise<void> {
  checkAdvertFrom(advert, from, options);
  await checkSignature(advert.sender, SIGNING_DOMAINS.advert, advertBody(advert), advert.signature, 'advert');
}

/** The signed part of an advert: every field but the signature, without an absent name (dag-cbor has no undefined). */
function advertBody(advert: Omit<Advert, 'signature'>): CborRecord {
  const body: CborRecord = { cid: advert.cid, size: advert.size, sender: advert.sender, time: advert.time };
  if (advert.name !== undefined) body.name = advert.name;
  return body;
}
