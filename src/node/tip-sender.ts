import type { AbortOptions, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { logger } from '@libp2p/logger';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { pinnedToPeer } from '../ipfs/peer-address.js';
import {
  type CborRecord,
  decodeMessage,
  encodeMessage,
  readCount,
  readEnum,
  readRecord,
  readString,
} from './protocol/codec.js';
import { MessageDecodeError, ProtocolError } from './protocol/errors.js';
import { toPeerIdBytes } from './protocol/peer.js';
import { createTip, encodeTip, type Tip, type TipFields } from './protocol/tip.js';
import { request } from './rpc.js';

const log = logger('nrp:node:tip-sender');

/** The tip protocol: one request (an encoded, signed {@link Tip}), one response (an encoded {@link TipAck}). */
export const TIP_PROTOCOL = '/nrp/tip/1.0.0';

/** An encoded ack is never larger. */
export const MAX_TIP_ACK_BYTES = 1024;

/** A refusal's message is at most this many UTF-8 bytes. */
export const MAX_TIP_ACK_MESSAGE_BYTES = 512;

/**
 * Why a server refused a tip.
 * - `malformed`: not a tip (bad dag-cbor, missing or extra fields, wrong types, a blank category or reason).
 * - `too-large`: over `MAX_TIP_BYTES`, or an over-long category or reason.
 * - `bad-signature`: the sender's signature does not verify.
 * - `wrong-sender`: the tip names another sender than the peer that sent it.
 * - `stale` / `future`: its time is too old, or too far ahead of the server's clock.
 * - `rate-limited`: the peer sent more tips than it may; nothing was checked or stored.
 * - `queue-full`: the server holds as many pending tips as it will; try again once the operator caught up.
 */
export type TipRejectionReason =
  | 'malformed'
  | 'too-large'
  | 'bad-signature'
  | 'wrong-sender'
  | 'stale'
  | 'future'
  | 'rate-limited'
  | 'queue-full';

export const TIP_REJECTION_REASONS: readonly TipRejectionReason[] = [
  'malformed',
  'too-large',
  'bad-signature',
  'wrong-sender',
  'stale',
  'future',
  'rate-limited',
  'queue-full',
];

/**
 * What a server answers to a tip: stored (pending the operator's decision, `duplicate` if it had this very tip
 * already), or refused with a reason code and a message.
 */
export type TipAck =
  | { stored: true; id: number; duplicate: boolean }
  | { stored: false; reason: TipRejectionReason; message: string };

/** Encodes an ack as dag-cbor. */
export function encodeTipAck(ack: TipAck): Uint8Array {
  const value: CborRecord = ack.stored
    ? { stored: true, id: ack.id, duplicate: ack.duplicate }
    : { stored: false, reason: ack.reason, message: ack.message };
  // Checked by the reader's rules, so a server never sends what senders refuse.
  parseTipAck(value);
  return encodeMessage(value, 'tip ack', MAX_TIP_ACK_BYTES);
}

/** Decodes an ack strictly. */
export function decodeTipAck(bytes: Uint8Array): TipAck {
  return parseTipAck(decodeMessage(bytes, 'tip ack', MAX_TIP_ACK_BYTES));
}

function parseTipAck(value: unknown): TipAck {
  const what = 'tip ack';
  const stored = (value as CborRecord | null)?.stored;
  if (stored === true) {
    const record = readRecord(value, what, ['stored', 'id', 'duplicate']);
    if (typeof record.duplicate !== 'boolean') {
      throw new MessageDecodeError(`The ${what}'s "duplicate" must be a boolean`);
    }
    return { stored, id: readCount(record, 'id', what), duplicate: record.duplicate };
  }
  if (stored === false) {
    const record = readRecord(value, what, ['stored', 'reason', 'message']);
    return {
      stored,
      reason: readEnum(record, 'reason', what, TIP_REJECTION_REASONS),
      message: readString(record, 'message', what, MAX_TIP_ACK_MESSAGE_BYTES),
    };
  }
  throw new MessageDecodeError(`The ${what} must be a map whose "stored" is a boolean`);
}

/** The server refused the tip; `reason` says why, and resending the same tip will not help (except after `rate-limited` or `queue-full`). */
export class TipRefusedError extends ProtocolError {
  override name = 'TipRefusedError';
  constructor(
    readonly reason: TipRejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/** The tip did not reach the server, or no answer came back: it may be down, elsewhere, or not take tips. */
export class TipServerUnreachableError extends Error {
  override name = 'TipServerUnreachableError';
}

/** The server's peer id or address is not usable. */
export class InvalidTipServerError extends Error {
  override name = 'InvalidTipServerError';
}

/** A rating server to tip: its peer id, its addresses, or both. */
export interface TipServer {
  /** The server's libp2p peer id; dialled through the peer store if no address is given. */
  peerId?: string;
  /** Where to reach it; each gets `/p2p/<peerId>` if it has none and the peer id is known. */
  multiaddrs?: readonly string[];
}

export interface SendTipParameters extends TipFields {
  server: TipServer;
  /** The sender's key, the one of the libp2p host that sends: a server refuses a tip signed by another peer. */
  privateKey: PrivateKey;
}

export interface SendTipReturnType {
  /** The tip's id at the server. */
  id: number;
  /** Whether the server had this very tip already. */
  duplicate: boolean;
  /** The signed tip as sent. */
  tip: Tip;
  /** The server's peer id, as it proved on connecting. */
  server: string;
}

/**
 * Signs a tip-off and sends it to a rating server over `/nrp/tip/1.0.0`. Resolves once the server stored it
 * (pending its operator's decision). Throws {@link TipRefusedError} with the server's reason code,
 * {@link TipServerUnreachableError} if no answer came back, {@link InvalidTipServerError} for a bad peer id or
 * address, and the protocol's errors (`MessageTooLargeError`…) for fields no server would take.
 *
 * @example
 * const { id } = await sendTip(libp2p, {
 *   server: { peerId: '12D3KooW…', multiaddrs: ['/ip4/192.0.2.1/tcp/4100'] },
 *   privateKey,
 *   cid,
 *   category: 'malware',
 *   reason: 'Ransomware dropper, see the hash on abuse.ch',
 * }, { signal: AbortSignal.timeout(30_000) });
 */
export async function sendTip(
  libp2p: Pick<Libp2p, 'dial'>,
  parameters: SendTipParameters,
  options: AbortOptions = {},
): Promise<SendTipReturnType> {
  const { server, privateKey, ...fields } = parameters;
  const target = tipServerTarget(server);
  const tip = await createTip(privateKey, fields);
  const bytes = encodeTip(tip);
  const where = server.peerId ?? server.multiaddrs?.[0] ?? 'the server';
  let remote: string | undefined;
  let response: Uint8Array;
  try {
    // Dial first, to tell "cannot connect" from "does not answer", and to learn who answered an address.
    const connection = await libp2p.dial(target, options);
    remote = connection.remotePeer.toString();
    response = await request(
      { dialProtocol: (_peer, protocol, o) => connection.newStream(protocol, o) },
      connection.remotePeer,
      TIP_PROTOCOL,
      bytes,
      { ...options, maxResponseBytes: MAX_TIP_ACK_BYTES },
    );
  } catch (error) {
    options.signal?.throwIfAborted();
    const { name, message } = error as Error;
    const why =
      remote === undefined
        ? `cannot connect (${name}: ${message})`
        : name === 'UnsupportedProtocolError'
          ? `${remote} does not take tips (no ${TIP_PROTOCOL})`
          : `no answer from ${remote} (${name}: ${message})`;
    log('tip to %s failed: %s', where, why);
    throw new TipServerUnreachableError(`The tip did not reach ${where}: ${why}`, { cause: error });
  }
  let ack: TipAck;
  try {
    ack = decodeTipAck(response);
  } catch (error) {
    throw new TipServerUnreachableError(`${remote} answered with something that is not a tip ack: ${error}`, {
      cause: error,
    });
  }
  if (!ack.stored) throw new TipRefusedError(ack.reason, `${ack.reason}: ${ack.message}`);
  log('tip %d stored by %s%s', ack.id, remote, ack.duplicate ? ' (duplicate)' : '');
  return { id: ack.id, duplicate: ack.duplicate, tip, server: remote };
}

/**
 * Where to dial a tip server: its multiaddrs, each pinned to its peer id when it is known (noise then checks it
 * on connecting, so the tip reaches this server and no other), or the peer id alone.
 */
export function tipServerTarget(server: TipServer): PeerId | Multiaddr[] {
  let peerId: PeerId | undefined;
  if (server.peerId !== undefined) {
    try {
      peerId = peerIdFromString(server.peerId);
      toPeerIdBytes(peerId);
    } catch (error) {
      throw new InvalidTipServerError(`${server.peerId} is not an Ed25519 peer id`, { cause: error });
    }
  }
  const addresses = server.multiaddrs ?? [];
  if (addresses.length === 0) {
    if (!peerId) throw new InvalidTipServerError('A tip server needs a peer id or an address');
    return peerId;
  }
  return addresses.map((address) => {
    try {
      return pinnedToPeer(address, peerId?.toString());
    } catch (error) {
      throw new InvalidTipServerError((error as Error).message, { cause: error });
    }
  });
}
