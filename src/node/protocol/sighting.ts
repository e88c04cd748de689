import type { CID } from 'multiformats/cid';
import { equals } from 'uint8arrays/equals';
import { ENTRY_ID_LENGTH, type EntryId, entryId, entryIdToHex } from '../../lists/entry-id.js';
import {
  ADVERT_MAX_SKEW_MS,
  type Advert,
  advertToValue,
  MAX_ADVERT_BYTES,
  parseAdvert,
  verifyAdvert,
} from './advert.js';
import { type CborRecord, decodeMessage, encodeMessage, readBytes, readCid, readPeer, readRecord } from './codec.js';
import { EvidenceMismatchError } from './errors.js';
import type { FreshnessOptions } from './freshness.js';
import { type PeerIdBytes, peerIdToString, samePeer } from './peer.js';

/** An encoded sighting is never larger: an advert plus an entry id, a CID and a peer id. */
export const MAX_SIGHTING_BYTES = MAX_ADVERT_BYTES + 256;

/**
 * How old the advert in a sighting may be by default. A node keeps evidence
 * and reports it within this time, so a server can still trace it.
 */
export const SIGHTING_MAX_AGE_MS = 24 * 60 * 60_000;

/**
 * Evidence that `fromPeer` offered listed content: its own signed advert
 * for `cid`, with the entry id under which `cid` is listed. Not signed by
 * itself: it travels inside a report, which the reporter signs.
 */
export interface Sighting {
  /** `entryId(cid)`: sha256 of the CID's multihash bytes, as in the list. */
  entryId: EntryId;
  cid: CID;
  /** The neighbour that offered the content, and signed the advert. */
  fromPeer: PeerIdBytes;
  advert: Advert;
}

const FIELDS = ['entryId', 'cid', 'fromPeer', 'advert'] as const;

/**
 * The sighting that an advert is evidence of: its sender offered its CID.
 * The advert should already be verified with `verifyAdvertFrom`.
 *
 * @example
 * if (list.hasCid(advert.cid)) evidence.add(createSighting(advert));
 */
export function createSighting(advert: Advert): Sighting {
  return { entryId: entryId(advert.cid), cid: advert.cid, fromPeer: advert.sender, advert };
}

/**
 * Checks that a sighting proves what it claims: the advert names `cid`, it is
 * signed by `fromPeer`, `entryId` is `entryId(cid)`, and the advert is not
 * dated in the future nor older than {@link SIGHTING_MAX_AGE_MS} (by default).
 * Throws `EvidenceMismatchError`, `BadSignatureError` or `StaleMessageError`.
 *
 * @example
 * await verifySighting(sighting);
 */
export async function verifySighting(sighting: Sighting, options: FreshnessOptions = {}): Promise<void> {
  // The cheap checks first: a mismatch needs no signature check.
  const { advert } = sighting;
  if (!samePeer(advert.sender, sighting.fromPeer)) {
    throw new EvidenceMismatchError(
      `The sighting names ${peerIdToString(sighting.fromPeer)}, but its advert is signed by ${peerIdToString(advert.sender)}`,
    );
  }
  if (!advert.cid.equals(sighting.cid)) {
    throw new EvidenceMismatchError(`The sighting is of ${sighting.cid}, but its advert offers ${advert.cid}`);
  }
  const expected = entryId(sighting.cid);
  if (!equals(expected, sighting.entryId)) {
    throw new EvidenceMismatchError(
      `The sighting's entry id ${entryIdToHex(sighting.entryId)} is not the entry id of ${sighting.cid}, ${entryIdToHex(expected)}`,
    );
  }
  await verifyAdvert(advert, {
    now: options.now,
    maxSkewMs: options.maxSkewMs ?? ADVERT_MAX_SKEW_MS,
    maxAgeMs: options.maxAgeMs ?? SIGHTING_MAX_AGE_MS,
  });
}

/** Encodes a sighting as dag-cbor, as a node keeps it until it is reported. */
export function encodeSighting(sighting: Sighting): Uint8Array {
  return encodeMessage(sightingToValue(sighting), 'sighting', MAX_SIGHTING_BYTES);
}

/** Decodes a sighting strictly, without checking its evidence. */
export function decodeSighting(bytes: Uint8Array): Sighting {
  return parseSighting(decodeMessage(bytes, 'sighting', MAX_SIGHTING_BYTES));
}

/** The dag-cbor value of a sighting, also used inside reports. */
export function sightingToValue(sighting: Sighting): CborRecord {
  return {
    entryId: sighting.entryId,
    cid: sighting.cid,
    fromPeer: sighting.fromPeer,
    advert: advertToValue(sighting.advert),
  };
}

/** Reads a sighting from a decoded dag-cbor value; `what` names it in errors. */
export function parseSighting(value: unknown, what = 'sighting'): Sighting {
  const record = readRecord(value, what, FIELDS);
  return {
    entryId: readBytes(record, 'entryId', what, ENTRY_ID_LENGTH),
    cid: readCid(record, 'cid', what),
    fromPeer: readPeer(record, 'fromPeer', what),
    advert: parseAdvert(record.advert, `${what}'s advert`),
  };
}
