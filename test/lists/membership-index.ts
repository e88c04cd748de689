import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { CID } from 'multiformats/cid';
import { compareIds, entryId, ipip383DoubleHash, ipip383LegacyHash } from '../../src/lists/entry-id.js';
import { MembershipIndex, UnsortedEntriesError } from '../../src/lists/membership-index.js';

function sortedIds(ids: Uint8Array[]): Uint8Array {
  const sorted = [...ids].sort(compareIds);
  const packed = new Uint8Array(sorted.length * 32);
  sorted.forEach((id, i) => {
    packed.set(id, i * 32);
  });
  return packed;
}

describe('MembershipIndex', () => {
  it('finds every member and no stranger', () => {
    const members = Array.from({ length: 5000 }, () => randomBytes(32));
    const index = MembershipIndex.fromSortedIds(sortedIds(members));
    expect(index.size).to.equal(5000);
    for (const id of members) expect(index.has(id)).to.equal(true);
    for (let i = 0; i < 5000; i++) expect(index.has(randomBytes(32))).to.equal(false);
  });

  it('handles ids at the edges of the prefix table', () => {
    const low = new Uint8Array(32);
    const high = new Uint8Array(32).fill(0xff);
    const mid = new Uint8Array(32).fill(0x80);
    const index = MembershipIndex.fromSortedIds(sortedIds([low, high, mid]));
    expect([index.has(low), index.has(high), index.has(mid)]).to.deep.equal([true, true, true]);
    const nearHigh = high.slice();
    nearHigh[31] = 0xfe;
    expect(index.has(nearHigh)).to.equal(false);
    expect(index.has(new Uint8Array(31))).to.equal(false);
  });

  it('is empty for the empty list', () => {
    const index = MembershipIndex.empty();
    expect(index.size).to.equal(0);
    expect(index.has(new Uint8Array(32))).to.equal(false);
  });

  it('refuses unsorted or duplicate ids, by name', () => {
    const [a, b] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const unsorted = new Uint8Array(64);
    unsorted.set(b, 0);
    unsorted.set(a, 32);
    expect(() => MembershipIndex.fromSortedIds(unsorted)).to.throw(UnsortedEntriesError);
    const duplicate = new Uint8Array(64);
    duplicate.set(a, 0);
    duplicate.set(a, 32);
    expect(() => MembershipIndex.fromSortedIds(duplicate)).to.throw(UnsortedEntriesError);
  });

  it('checks a CID by its entry id, v0 and v1 alike', () => {
    const cid = CID.parse('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG');
    const index = MembershipIndex.fromSortedIds(sortedIds([entryId(cid), randomBytes(32)]));
    expect(index.hasCid(cid)).to.equal(true);
    expect(index.hasCid(cid.toV1().toString())).to.equal(true);
    expect(index.hasCid('bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja')).to.equal(false);
  });

  it('matches IPIP-383 double hashes only when asked to', () => {
    const modern = CID.parse('QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR');
    const legacy = CID.parse('bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e');
    const ids = sortedIds([ipip383DoubleHash(modern), ipip383LegacyHash(legacy)]);
    expect(MembershipIndex.fromSortedIds(ids).hasCid(modern)).to.equal(false);
    const index = MembershipIndex.fromSortedIds(ids, { doubleHashes: true });
    expect(index.hasCid(modern)).to.equal(true);
    expect(index.hasCid(modern.toV1())).to.equal(true);
    expect(index.hasCid(legacy)).to.equal(true);
  });
});
