import { publicKeyFromProtobuf } from '@libp2p/crypto/keys';
import type { Ed25519PublicKey, PeerId, PrivateKey, PublicKey } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { base58btc } from 'multiformats/bases/base58';
import { compare } from 'uint8arrays/compare';
import { equals } from 'uint8arrays/equals';

/**
 * A peer id as it travels in every message: the multihash bytes of an Ed25519
 * libp2p peer id (`peerId.toMultihash().bytes`), 38 bytes. Binary rather than
 * strings because it is half the size and needs no parsing; the public key is
 * the last 32 bytes, so a signature is checked from the peer id alone.
 */
export type PeerIdBytes = Uint8Array;

/** Anything that names a peer: its multihash bytes, its string form (`12D3Koo…`) or a libp2p `PeerId`. */
export type PeerLike = PeerIdBytes | string | PeerId;

/**
 * Identity multihash (0x00, length 0x24) of the protobuf `PublicKey{Type: Ed25519 (0x08 0x01), Data: 32 bytes
 * (0x12 0x20)}`. Only Ed25519 peers can sign messages: their peer id embeds the key.
 */
const ED25519_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20);

/** Length of an Ed25519 peer id's multihash bytes. */
export const PEER_ID_BYTES = ED25519_PEER_ID_PREFIX.length + 32;

/** Whether `value` is the multihash bytes of an Ed25519 peer id. */
export function isPeerIdBytes(value: unknown): value is PeerIdBytes {
  if (!(value instanceof Uint8Array) || value.length !== PEER_ID_BYTES) return false;
  for (let i = 0; i < ED25519_PEER_ID_PREFIX.length; i++) {
    if (value[i] !== ED25519_PEER_ID_PREFIX[i]) return false;
  }
  return true;
}

/**
 * The multihash bytes of a peer id given in any form. Throws a `TypeError` for
 * a peer that is not Ed25519 (RSA and secp256k1 peers cannot send messages).
 *
 * @example
 * const bytes = toPeerIdBytes(connection.remotePeer);
 */
export function toPeerIdBytes(peer: PeerLike): PeerIdBytes {
  const bytes =
    peer instanceof Uint8Array ? peer : (typeof peer === 'string' ? peerIdFromString(peer) : peer).toMultihash().bytes;
  if (!isPeerIdBytes(bytes)) throw new TypeError('Not an Ed25519 peer id');
  return bytes;
}

/** The peer id bytes of the peer that owns `key`. */
export function peerIdBytesOfKey(key: PrivateKey | PublicKey): PeerIdBytes {
  const publicKey = 'publicKey' in key ? key.publicKey : key;
  if (publicKey.type !== 'Ed25519') throw new TypeError(`Messages are signed with Ed25519 keys, not ${publicKey.type}`);
  return peerIdFromPublicKey(publicKey).toMultihash().bytes;
}

/** The usual string form of a peer id (`12D3KooW…`), for messages and logs. */
export function peerIdToString(peer: PeerIdBytes): string {
  return base58btc.baseEncode(peer);
}

/** The public key embedded in an Ed25519 peer id. */
export function publicKeyOfPeer(peer: PeerIdBytes): Ed25519PublicKey {
  if (!isPeerIdBytes(peer)) throw new TypeError('Not an Ed25519 peer id');
  return publicKeyFromProtobuf(peer.subarray(2)) as Ed25519PublicKey;
}

/** Whether two peer ids are the same. */
export function samePeer(a: PeerIdBytes, b: PeerIdBytes): boolean {
  return equals(a, b);
}

/** Byte-wise order of peer ids: the canonical order of an edge's ends and of a snapshot's verdicts. */
export function comparePeers(a: PeerIdBytes, b: PeerIdBytes): number {
  return compare(a, b);
}
