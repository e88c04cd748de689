import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { parseEntryList } from '../../src/lists/denylist.js';
import { entryId, entryIdToHex, ipip383DoubleHash } from '../../src/lists/entry-id.js';
import { EmptyForkError, EntriesNotInParentError, forkEntrySet } from '../../src/lists/fork.js';
import type { EntryMetadata } from '../../src/lists/payload.js';
import { packIds, unpackIds } from '../../src/lists/set-ops.js';

async function contentCid(text: string) {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

describe('forkEntrySet', () => {
  let cids: string[];
  let parentIds: Uint8Array;
  let parentMetadata: Map<string, EntryMetadata>;

  before(async () => {
    cids = await Promise.all(['a', 'b', 'c', 'd'].map(contentCid));
    parentIds = packIds(cids.map((cid) => entryId(cid)));
    parentMetadata = new Map(
      cids.map((cid, i) => [entryIdToHex(entryId(cid)), { category: 'malware', reason: `#${i}` }]),
    );
  });

  it('is the parent’s set minus the disputed entries, with the metadata of those that stay', () => {
    const fork = forkEntrySet({ parentIds, parentMetadata, remove: parseEntryList(`${cids[1]}\n${cids[3]}`).entries });
    const kept = [cids[0], cids[2]].map((cid) => entryIdToHex(entryId(cid)));
    expect(unpackIds(fork.ids).map(entryIdToHex)).to.have.members(kept).and.have.length(2);
    expect(unpackIds(fork.removed).map(entryIdToHex)).to.have.members(
      [cids[1], cids[3]].map((cid) => entryIdToHex(entryId(cid))),
    );
    expect([...fork.metadata.keys()]).to.have.members(kept);
    expect(fork.metadata.get(kept[0])).to.deep.equal({ category: 'malware', reason: '#0' });
    // Still strictly ascending, as a payload requires.
    expect(Buffer.compare(Buffer.from(fork.ids.subarray(0, 32)), Buffer.from(fork.ids.subarray(32, 64)))).to.equal(-1);
  });

  it('accepts an entry named by its entry id, and the same entry twice', () => {
    const hex = entryIdToHex(entryId(cids[0]));
    const fork = forkEntrySet({ parentIds, remove: parseEntryList(`${hex}\n${cids[0]}`).entries });
    expect(fork.removed.length / 32).to.equal(1);
    expect(fork.ids.length / 32).to.equal(3);
  });

  it('matches a CID to the IPIP-383 double hash a parent imported from a denylist', () => {
    const doubleHash = ipip383DoubleHash(cids[0]);
    const parent = packIds([doubleHash, entryId(cids[1])]);
    const fork = forkEntrySet({ parentIds: parent, parentDoubleHashes: true, remove: parseEntryList(cids[0]).entries });
    expect(unpackIds(fork.removed).map(entryIdToHex)).to.deep.equal([entryIdToHex(doubleHash)]);
    expect(fork.doubleHashes).to.equal(true);
    // Without double hashes in the parent, the CID names only its entry id, which is not there.
    expect(() => forkEntrySet({ parentIds: parent, remove: parseEntryList(cids[0]).entries })).to.throw(
      EntriesNotInParentError,
    );
  });

  it('names every entry the parent does not hold, with its line', async () => {
    const strangers = await Promise.all(['x', 'y'].map(contentCid));
    const error = (() => {
      try {
        forkEntrySet({ parentIds, remove: parseEntryList(`${cids[0]}\n# comment\n${strangers.join('\n')}`).entries });
      } catch (err) {
        return err;
      }
    })();
    expect(error).to.be.instanceOf(EntriesNotInParentError);
    const { entries, message } = error as EntriesNotInParentError;
    expect(entries.map((e) => e.line).sort()).to.deep.equal([3, 4]);
    expect(message).to.match(/^2 entries are not in the parent version: /);
    for (const cid of strangers) expect(message).to.contain(entryIdToHex(entryId(cid)));
  });

  it('refuses a fork that removes nothing, and may remove everything', () => {
    expect(() => forkEntrySet({ parentIds, remove: [] })).to.throw(EmptyForkError);
    const all = forkEntrySet({ parentIds, remove: parseEntryList(cids.join('\n')).entries });
    expect(all.ids.length).to.equal(0);
    expect(all.metadata.size).to.equal(0);
  });
});
