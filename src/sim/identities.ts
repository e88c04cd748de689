import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { type PeerIdBytes, peerIdToString } from '../node/protocol/peer.js';
import type { Random } from './random.js';

/** DER prefix of a PKCS #8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Identity multihash of a protobuf Ed25519 public key, as `protocol/peer.ts` expects: the key follows. */
const PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20);

/**
 * A virtual node's or server's identity: a real Ed25519 key pair derived
 * from the run's seed, so its peer id (`12D3KooW…`) is the same in every run
 * and anything it signs verifies like a real node's signature.
 */
export class VirtualIdentity {
  /** The peer id as the server code keys peers: `12D3KooW…`. */
  readonly peerId: string;
  /** The peer id as messages carry it. */
  readonly bytes: PeerIdBytes;
  readonly #seed: Uint8Array;
  readonly #keyObject: KeyObject;
  #privateKey?: PrivateKey;

  constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.#keyObject = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const publicKey = Buffer.from(this.#keyObject.export({ format: 'jwk' }).x as string, 'base64url');
    const bytes = new Uint8Array(PEER_ID_PREFIX.length + 32);
    bytes.set(PEER_ID_PREFIX, 0);
    bytes.set(publicKey, PEER_ID_PREFIX.length);
    this.bytes = bytes;
    this.peerId = peerIdToString(bytes);
  }

  /**
   * The libp2p private key, for the protocol's `create…` functions. It signs
   * through node:crypto with a cached key object: the same Ed25519 signature
   * as `@libp2p/crypto` makes, about four times faster.
   */
  get privateKey(): PrivateKey {
    if (this.#privateKey === undefined) {
      const key = privateKeyFromRaw(Buffer.concat([this.#seed, this.bytes.subarray(PEER_ID_PREFIX.length)]));
      const keyObject = this.#keyObject;
      this.#privateKey = Object.create(key, {
        sign: { value: (data: Uint8Array) => new Uint8Array(sign(null, data, keyObject)) },
      }) as PrivateKey;
    }
    return this.#privateKey;
  }
}

/** `count` identities from `random`. About 0.3 ms each (OpenSSL's key import). */
export function createIdentities(count: number, random: Random): VirtualIdentity[] {
  const identities: VirtualIdentity[] = [];
  for (let i = 0; i < count; i++) identities.push(new VirtualIdentity(random.bytes(32)));
  return identities;
}
