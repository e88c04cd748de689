import { sha256 } from '@noble/hashes/sha2.js';
import { expect } from 'chai';
import { base16 } from 'multiformats/bases/base16';
import { base36 } from 'multiformats/bases/base36';
import { CID } from 'multiformats/cid';
import {
  compareIds,
  entryId,
  entryIdFromHex,
  entryIdToHex,
  InvalidCidError,
  InvalidEntryIdError,
  ipip383DoubleHash,
  ipip383LegacyHash,
  parseCid,
} from '../../src/lists/entry-id.js';

const V0 = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG';

describe('entry ids', () => {
  it('is sha256 of the multihash bytes', () => {
    const cid = CID.parse(V0);
    expect(entryId(V0)).to.deep.equal(sha256(cid.multihash.bytes));
  });

  it('gives CIDv0 and CIDv1 of the same content the same id, whatever the base or codec', () => {
    const v1 = CID.parse(V0).toV1();
    const raw = CID.createV1(0x55, v1.multihash);
    const id = entryId(V0);
    for (const form of [v1.toString(), v1.toString(base36), v1.toString(base16), raw.toString(), v1]) {
      expect(entryId(form)).to.deep.equal(id);
    }
  });

  it('gives different content different ids', () => {
    expect(entryId('bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja')).to.not.deep.equal(entryId(V0));
  });

  it('rejects what is not a CID, by name', () => {
    for (const bad of ['', 'hello', 'bafy', 'Qm123', '0x1234']) {
      expect(() => parseCid(bad)).to.throw(InvalidCidError);
    }
  });

  it('converts ids to and from hex, rejecting malformed hex by name', () => {
    const id = entryId(V0);
    expect(entryIdFromHex(entryIdToHex(id))).to.deep.equal(id);
    for (const bad of ['0x12', `0x${'g'.repeat(64)}`, 'ab'.repeat(32)]) {
      expect(() => entryIdFromHex(bad)).to.throw(InvalidEntryIdError);
    }
  });

  it('orders ids byte-wise', () => {
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    b[31] = 1;
    expect(compareIds(a, b)).to.be.lessThan(0);
    expect(compareIds(b, a)).to.be.greaterThan(0);
    expect(compareIds(a, a.slice())).to.equal(0);
  });

  describe('IPIP-383 double hashes (vectors from the spec)', () => {
    it('computes the modern double hash of a CID, equal for v0 and v1', () => {
      // //QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM blocks both of these.
      const expected = CID.parse('QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM').multihash.digest;
      expect(ipip383DoubleHash('QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR')).to.deep.equal(expected);
      expect(ipip383DoubleHash('bafybeidjwik6im54nrpfg7osdvmx7zojl5oaxqel5cmsz46iuelwf5acja')).to.deep.equal(expected);
    });

    it('computes the legacy badbits hash of a CID', () => {
      expect(entryIdToHex(ipip383LegacyHash('bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e'))).to.equal(
        '0xd9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7',
      );
    });
  });
});
