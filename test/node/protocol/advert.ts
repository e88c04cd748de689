import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { identity } from 'multiformats/hashes/identity';
import {
  checkAdvertFrom,
  createAdvert,
  decodeAdvert,
  encodeAdvert,
  MAX_ADVERT_BYTES,
  MAX_ADVERT_NAME_BYTES,
  verifyAdvert,
  verifyAdvertFrom,
} from '../../../src/node/protocol/advert.js';
import { SIGNING_DOMAINS, signBody } from '../../../src/node/protocol/signing.js';
import { cidOf, expectError, MINUTE, NOW, newPeer, type TestPeer, tamper } from './helpers.js';

describe('protocol: advert', () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let cid: CID;

  before(async () => {
    alice = await newPeer();
    bob = await newPeer();
    cid = await cidOf('hello');
  });

  it('round-trips through bytes and verifies as coming from its signer, given as bytes, string or PeerId', async () => {
    const advert = await createAdvert(alice.key, { cid, size: 5, name: 'hello.txt', time: NOW });
    expect(advert.sender).to.deep.equal(alice.id);
    const bytes = encodeAdvert(advert);
    const decoded = decodeAdvert(bytes);
    expect(decoded.cid.equals(cid)).to.equal(true);
    expect(decoded).to.deep.include({ size: 5, name: 'hello.txt', time: NOW });
    expect(encodeAdvert(decoded)).to.deep.equal(bytes);
    const peerId = peerIdFromPrivateKey(alice.key);
    for (const from of [alice.id, peerId, peerId.toString()]) await verifyAdvertFrom(decoded, from, { now: NOW });
    await verifyAdvert(decoded, { now: NOW });
  });

  it('round-trips without a name, and defaults the time to now', async () => {
    const before = Date.now();
    const advert = decodeAdvert(encodeAdvert(await createAdvert(alice.key, { cid, size: 0 })));
    expect(advert.name).to.equal(undefined);
    expect('name' in advert).to.equal(false);
    expect(advert.time).to.be.within(before, Date.now());
    await verifyAdvertFrom(advert, alice.id);
  });

  it('refuses an advert signed by another peer than the connection it came over', async () => {
    const advert = await createAdvert(alice.key, { cid, size: 5, time: NOW });
    await expectError(() => verifyAdvertFrom(advert, bob.id, { now: NOW }), 'SignerMismatchError', /came from/);
    expect(() => checkAdvertFrom(advert, bob.id, { now: NOW })).to.throw(/came from/);
  });

  it('refuses a changed field, a changed sender and a foreign signature', async () => {
    const advert = await createAdvert(alice.key, { cid, size: 5, name: 'a', time: NOW });
    const bytes = encodeAdvert(advert);
    const bigger = decodeAdvert(tamper(bytes, (v) => (v.size = 6)));
    await expectError(() => verifyAdvertFrom(bigger, alice.id, { now: NOW }), 'BadSignatureError');
    const renamed = decodeAdvert(tamper(bytes, (v) => (v.name = 'b')));
    await expectError(() => verifyAdvert(renamed, { now: NOW }), 'BadSignatureError');
    const unnamed = decodeAdvert(tamper(bytes, (v) => delete v.name));
    await expectError(() => verifyAdvert(unnamed, { now: NOW }), 'BadSignatureError');
    // Bob claims Alice's advert as his own.
    const claimed = decodeAdvert(tamper(bytes, (v) => (v.sender = bob.id)));
    await expectError(() => verifyAdvertFrom(claimed, bob.id, { now: NOW }), 'BadSignatureError', /not signed by/);
  });

  it('checkAdvertFrom does no cryptography: a bad signature passes it but not verifyAdvertFrom', async () => {
    const advert = await createAdvert(alice.key, { cid, size: 5, time: NOW });
    const forged = { ...advert, signature: new Uint8Array(64) };
    checkAdvertFrom(forged, alice.id, { now: NOW });
    await expectError(() => verifyAdvertFrom(forged, alice.id, { now: NOW }), 'BadSignatureError');
  });

  it('refuses the same body signed for another kind of message (domain separation)', async () => {
    const advert = await createAdvert(alice.key, { cid, size: 5, time: NOW });
    const body = { cid, size: 5, sender: alice.id, time: NOW };
    // Sanity: the body signed under the advert domain is the advert's signature.
    expect(await signBody(alice.key, SIGNING_DOMAINS.advert, body)).to.deep.equal(advert.signature);
    for (const domain of [SIGNING_DOMAINS.tip, SIGNING_DOMAINS.edge, SIGNING_DOMAINS.report]) {
      const signature = await signBody(alice.key, domain, body);
      await expectError(() => verifyAdvertFrom({ ...advert, signature }, alice.id, { now: NOW }), 'BadSignatureError');
    }
  });

  it('refuses stale and future adverts, with bounds the caller can change', async () => {
    const old = await createAdvert(alice.key, { cid, size: 5, time: NOW - 11 * MINUTE });
    const error = await expectError(() => verifyAdvertFrom(old, alice.id, { now: NOW }), 'StaleMessageError', /old/);
    expect(error).to.have.property('reason', 'old');
    await verifyAdvertFrom(old, alice.id, { now: NOW, maxAgeMs: 12 * MINUTE });
    await verifyAdvertFrom(old, alice.id, { now: NOW, maxAgeMs: Number.POSITIVE_INFINITY });
    const future = await createAdvert(alice.key, { cid, size: 5, time: NOW + 2 * MINUTE });
    const ahead = await expectError(() => verifyAdvertFrom(future, alice.id, { now: NOW }), 'StaleMessageError');
    expect(ahead).to.have.property('reason', 'future');
    expect(() => checkAdvertFrom(future, alice.id, { now: NOW })).to.throw(/future/);
    await verifyAdvertFrom(future, alice.id, { now: NOW, maxSkewMs: 3 * MINUTE });
  });

  describe('strict decoding', () => {
    let bytes: Uint8Array;

    before(async () => {
      bytes = encodeAdvert(await createAdvert(alice.key, { cid, size: 5, name: 'a', time: NOW }));
    });

    it('refuses bytes that are not dag-cbor, or have trailing bytes', async () => {
      await expectError(() => decodeAdvert(Uint8Array.of(0xff, 0x00, 0x13)), 'MessageDecodeError', /dag-cbor/);
      await expectError(() => decodeAdvert(new Uint8Array(0)), 'MessageDecodeError');
      await expectError(() => decodeAdvert(Uint8Array.from([...bytes, 0])), 'MessageDecodeError');
      await expectError(() => decodeAdvert(bytes.subarray(0, bytes.length - 1)), 'MessageDecodeError');
    });

    it('refuses oversized input before parsing it', async () => {
      await expectError(() => decodeAdvert(new Uint8Array(MAX_ADVERT_BYTES + 1)), 'MessageTooLargeError');
    });

    it('refuses values that are not a map', async () => {
      for (const value of [[1, 2], 'advert', 42, null, new Uint8Array(3)]) {
        await expectError(() => decodeAdvert(dagCbor.encode(value)), 'MessageDecodeError', /not a map/);
      }
    });

    it('refuses missing, extra and mistyped fields', async () => {
      const cases: [string, (v: Record<string, unknown>) => void, RegExp][] = [
        ['no cid', (v) => delete v.cid, /no "cid"/],
        ['no signature', (v) => delete v.signature, /no "signature"/],
        ['extra field', (v) => (v.priority = 1), /unexpected field "priority"/],
        ['cid as string', (v) => (v.cid = cid.toString()), /"cid" must be a CID/],
        ['negative size', (v) => (v.size = -1), /"size"/],
        ['fractional size', (v) => (v.size = 1.5), /"size"/],
        ['size as string', (v) => (v.size = '5'), /"size"/],
        ['size over 2^53', (v) => (v.size = 2n ** 60n), /"size"/],
        ['time as float', (v) => (v.time = NOW + 0.5), /"time"/],
        ['name as bytes', (v) => (v.name = new Uint8Array(1)), /"name" must be a string/],
        ['sender too short', (v) => (v.sender = alice.id.subarray(1)), /"sender"/],
        ['sender of random bytes', (v) => (v.sender = new Uint8Array(38).fill(7)), /"sender"/],
        ['signature of 63 bytes', (v) => (v.signature = new Uint8Array(63)), /"signature" must be 64 bytes/],
      ];
      for (const [label, change, message] of cases) {
        const error = await expectError(() => decodeAdvert(tamper(bytes, change)), 'MessageDecodeError', message);
        expect(error.message, label).to.match(/advert/);
      }
    });

    it('refuses a sender that is not an Ed25519 peer', async () => {
      const secpKey = await generateKeyPair('secp256k1');
      const secp = peerIdFromPrivateKey(secpKey).toMultihash().bytes;
      await expectError(() => decodeAdvert(tamper(bytes, (v) => (v.sender = secp))), 'MessageDecodeError', /Ed25519/);
      await expectError(() => createAdvert(secpKey, { cid, size: 1 }), 'TypeError', /Ed25519/);
    });

    it('refuses names over 256 UTF-8 bytes, counting bytes, not characters', async () => {
      const long = 'é'.repeat(MAX_ADVERT_NAME_BYTES / 2 + 1); // 129 characters, 258 bytes
      await expectError(() => decodeAdvert(tamper(bytes, (v) => (v.name = long))), 'MessageTooLargeError', /258/);
      await expectError(() => createAdvert(alice.key, { cid, size: 1, name: long }), 'MessageTooLargeError');
      const fits = 'é'.repeat(MAX_ADVERT_NAME_BYTES / 2);
      const advert = decodeAdvert(encodeAdvert(await createAdvert(alice.key, { cid, size: 1, name: fits, time: NOW })));
      await verifyAdvertFrom(advert, alice.id, { now: NOW });
    });

    it('refuses a CID that carries its content (identity hash) beyond 128 bytes', async () => {
      const fat = CID.create(1, raw.code, identity.digest(new Uint8Array(200)));
      await expectError(() => decodeAdvert(tamper(bytes, (v) => (v.cid = fat))), 'MessageTooLargeError', /CID/);
      await expectError(() => createAdvert(alice.key, { cid: fat, size: 200 }), 'MessageTooLargeError');
    });

    it('refuses bad fields on creation, so a node never signs what others refuse', async () => {
      await expectError(() => createAdvert(alice.key, { cid, size: -1 }), 'MessageDecodeError', /"size"/);
      await expectError(() => createAdvert(alice.key, { cid, size: 1, time: 1.5 }), 'MessageDecodeError', /"time"/);
    });
  });
});
