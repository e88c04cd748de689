import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { peerIdBytesOfKey } from '../../../src/node/protocol/peer.js';

/** A fixed clock for every test, so freshness checks do not depend on when tests run. */
export const NOW = 1_750_000_000_000;

export const MINUTE = 60_000;

export interface TestPeer {
  key: Ed25519PrivateKey;
  id: Uint8Array;
}

export async function newPeer(): Promise<TestPeer> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdBytesOfKey(key) };
}

/** The raw-codec CID of a text, like a small file. */
export async function cidOf(text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)));
}

/** Decodes `bytes`, lets `change` edit the value, and encodes it again: a message spoilt one field at a time. */
export function tamper(bytes: Uint8Array, change: (value: Record<string, unknown>) => void): Uint8Array {
  const value = dagCbor.decode(bytes) as Record<string, unknown>;
  change(value);
  return dagCbor.encode(value);
}

/** Asserts that `run` throws or rejects with an error of this name, whose message matches `message` if given. */
export async function expectError(run: () => unknown, name: string, message?: RegExp): Promise<Error> {
  let error: unknown;
  try {
    await run();
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${name}`).to.be.instanceOf(Error);
  expect((error as Error).name, (error as Error).message).to.equal(name);
  if (message) expect((error as Error).message).to.match(message);
  return error as Error;
}
