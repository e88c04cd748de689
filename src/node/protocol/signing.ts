import * as dagCbor from '@ipld/dag-cbor';
import type { PrivateKey } from '@libp2p/interface';
import { BadSignatureError } from './errors.js';
import { type PeerIdBytes, peerIdToString, publicKeyOfPeer } from './peer.js';

/**
 * The domain of each kind of signed message. A signature covers
 * `dagCbor.encode({ domain, body })`, so a signature made for one kind can
 * never verify as another, even where two bodies happen to look alike.
 * Bump the version to change a kind's body incompatibly.
 */
export const SIGNING_DOMAINS = {
  advert: 'nrp/advert/1',
  edge: 'nrp/edge/1',
  report: 'nrp/report/1',
  verdictSnapshot: 'nrp/verdict-snapshot/1',
  verdictDelta: 'nrp/verdict-delta/1',
  tip: 'nrp/tip/1',
} as const;

export type SigningDomain = (typeof SIGNING_DOMAINS)[keyof typeof SIGNING_DOMAINS];

/** The bytes a signature covers: the domain and the message without its signature(s). */
export function signingBytes(domain: SigningDomain, body: unknown): Uint8Array {
  return dagCbor.encode({ domain, body });
}

/**
 * Signs `body` under `domain` with a libp2p Ed25519 key.
 *
 * @example
 * const signature = await signBody(privateKey, SIGNING_DOMAINS.tip, body);
 */
export async function signBody(key: PrivateKey, domain: SigningDomain, body: unknown): Promise<Uint8Array> {
  if (key.type !== 'Ed25519') throw new TypeError(`Messages are signed with Ed25519 keys, not ${key.type}`);
  return key.sign(signingBytes(domain, body));
}

/**
 * Checks that `signature` is `signer`'s signature of `body` under `domain`,
 * with the public key embedded in the signer's peer id. Throws
 * {@link BadSignatureError} naming `what` otherwise.
 */
export async function checkSignature(
  signer: PeerIdBytes,
  domain: SigningDomain,
  body: unknown,
  signature: Uint8Array,
  what: string,
): Promise<void> {
  let ok = false;
  try {
    ok = await publicKeyOfPeer(signer).verify(signingBytes(domain, body), signature);
  } catch {
    // A malformed signature or key is just as bad as a wrong one.
  }
  if (!ok) throw new BadSignatureError(`Bad signature on the ${what}: not signed by ${peerIdToString(signer)}`);
}
