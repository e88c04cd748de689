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

/** A tip's category at most, like a list entry's (`malware`, `csam`…). */
export const MAX_TIP_CATEGORY_BYTES = 64;

/** A tip's reason at most. */
export const MAX_TIP_REASON_BYTES = 4096;

/** An encoded tip is never larger. */
export const MAX_TIP_BYTES = 8192;

/** How far ahead of the server's clock a tip may be dated by default. */
export const TIP_MAX_SKEW_MS = 60_000;

/** How old a tip may be on arrival by default: it is signed right before it is sent. */
export const TIP_MAX_AGE_MS = 10 * 60_000;

/** Anyone's signed suggestion that a server list some content. */
export interface Tip {
  cid: CID;
  /** Non-empty, at most {@link MAX_TIP_CATEGORY_BYTES} UTF-8 bytes. */
  category: string;
  /** Non-empty, at most {@link MAX_TIP_REASON_BYTES} UTF-8 bytes. */
  reason: string;
  sender: PeerIdBytes;
  time: number;
  signature: Uint8Array;
}

/** What the caller chooses in a new tip; the sender comes from the key. */
export interface TipFields {
  cid: CID;
  category: string;
  reason: string;
  /** Defaults to `Date.now()`. */
  time?: number;
}

/** Checks of a tip besides its signature. */
export interface VerifyTipOptions extends FreshnessOptions {
  /** The peer the tip must come from, when it arrives over a connection. */
  sender?: PeerLike;
}

const FIELDS = ['cid', 'category', 'reason', 'sender', 'time', 'signature'] as const;

/**
 * Creates and signs a tip as the peer that owns `privateKey`.
 *
 * @example
 * const tip = await createTip(privateKey, { cid, category: 'malware', reason: 'Ransomware dropper' });
 */
export async function createTip(privateKey: PrivateKey, fields: TipFields): Promise<Tip> {
  const body: Omit<Tip, 'signature'> = {
    cid: fields.cid,
    category: fields.category,
    reason: fields.reason,
    sender: peerIdBytesOfKey(privateKey),
    time: fields.time ?? Date.now(),
  };
  decodeTip(encodeTip({ ...body, signature: new Uint8Array(SIGNATURE_BYTES) }));
  return { ...body, signature: await signBody(privateKey, SIGNING_DOMAINS.tip, tipBody(body)) };
}

/** Encodes a tip as dag-cbor, at most {@link MAX_TIP_BYTES}. */
export function encodeTip(tip: Tip): Uint8Array {
  return encodeMessage({ ...tipBody(tip), signature: tip.signature }, 'tip', MAX_TIP_BYTES);
}

/** Decodes a tip strictly, without checking its signature. */
export function decodeTip(bytes: Uint8Array): Tip {
  const what = 'tip';
  const record = readRecord(decodeMessage(bytes, what, MAX_TIP_BYTES), what, FIELDS);
  return {
    cid: readCid(record, 'cid', what),
    category: readString(record, 'category', what, MAX_TIP_CATEGORY_BYTES, true),
    reason: readString(record, 'reason', what, MAX_TIP_REASON_BYTES, true),
    sender: readPeer(record, 'sender', what),
    time: readCount(record, 'time', what),
    signature: readBytes(record, 'signature', what, SIGNATURE_BYTES),
  };
}

/**
 * Checks a tip: from `options.sender` when given, fresh, and signed by its sender.
 * Throws `SignerMismatchError`, `StaleMessageError` or `BadSignatureError`.
 *
 * @example
 * const tip = decodeTip(bytes);
 * await verifyTip(tip, { sender: connection.remotePeer });
 */
export async function verifyTip(tip: Tip, options: VerifyTipOptions = {}): Promise<void> {
  if (options.sender !== undefined) {
    const expected = toPeerIdBytes(options.sender);
    if (!samePeer(tip.sender, expected)) {
      throw new SignerMismatchError(
        `The tip is signed by ${peerIdToString(tip.sender)}, but came from ${peerIdToString(expected)}`,
      );
    }
  }
  checkFreshness(tip.time, 'tip', options, { maxSkewMs: TIP_MAX_SKEW_MS, maxAgeMs: TIP_MAX_AGE_MS });
  await checkSignature(tip.sender, SIGNING_DOMAINS.tip, tipBody(tip), tip.signature, 'tip');
}

function tipBody(tip: Omit<Tip, 'signature'>): CborRecord {
  return { cid: tip.cid, category: tip.category, reason: tip.reason, sender: tip.sender, time: tip.time };
}
