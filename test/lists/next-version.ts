import { MemoryBlockstore } from 'blockstore-core/memory';
import { expect } from 'chai';
import { bytesToHex, hexToBytes } from 'viem';
import { EmptyChangeError } from '../../src/lists/change.js';
import { parseEntryList } from '../../src/lists/denylist.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { entryMerkleRoot } from '../../src/lists/merkle.js';
import { buildNextVersion } from '../../src/lists/next-version.js';
import { decodePayload } from '../../src/lists/payload.js';

const LIST = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0';
const CIDS = [
  'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG',
  'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja',
  'bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje',
];

describe('lists: the next version of a list, as a proposal needs it', () => {
  it('builds the first version: payload, publishVersion arguments and description agree', async () => {
    const store = new MemoryBlockstore();
    const next = await buildNextVersion(store, {
      chainId: 31337,
      list: LIST,
      currentVersion: 0n,
      add: parseEntryList(CIDS.slice(0, 2).join('\n')).entries,
      remove: [],
      category: 'malware',
      reason: 'Found in the wild',
    });
    expect(next.call).to.include({ parentVersion: 0n, count: 2, added: 2, removed: 0 });
    expect(next.call.payloadCid.equals(next.payload.cid)).to.equal(true);
    expect(next.call.root).to.equal(bytesToHex(await entryMerkleRoot(next.change.ids)));
    expect(next.description.split('\n')[0]).to.equal(`List ${LIST}: version 1, +2 −0 entries (2 in all)`);
    expect(next.description).to.contain('Found in the wild').and.to.contain(`Payload: ${next.payload.cid}`);

    // What was written to the store is exactly what the chain will be told.
    const decoded = await decodePayload(store, next.payload.cid, {
      metadata: true,
      expected: { root: hexToBytes(next.call.root), count: 2, chainId: 31337, list: LIST, version: 1 },
    });
    expect(decoded.metadata?.get(entryIdToHex(entryId(CIDS[0])))).to.include({ category: 'malware' });
  });

  it('builds on the current version: keeps its entries and metadata, names it as parent', async () => {
    const store = new MemoryBlockstore();
    const first = await buildNextVersion(store, {
      chainId: 31337,
      list: LIST,
      currentVersion: 0n,
      add: parseEntryList(CIDS.slice(0, 2).join('\n')).entries,
      remove: [],
      reason: 'first',
    });
    const current = await decodePayload(store, first.payload.cid, { metadata: true });
    const second = await buildNextVersion(store, {
      chainId: 31337,
      list: LIST,
      currentVersion: 1n,
      current,
      add: parseEntryList(CIDS[2]).entries,
      remove: parseEntryList(CIDS[0]).entries,
    });
    expect(second.call).to.include({ parentVersion: 1n, count: 2, added: 1, removed: 1 });
    expect(second.payload.header.parent?.equals(first.payload.cid)).to.equal(true);
    const decoded = await decodePayload(store, second.payload.cid, { metadata: true });
    expect(decoded.metadata?.get(entryIdToHex(entryId(CIDS[1])))).to.include({ reason: 'first' });
    expect(decoded.metadata?.has(entryIdToHex(entryId(CIDS[0])))).to.equal(false);
  });

  it('refuses a change that changes nothing', async () => {
    let error: unknown;
    try {
      await buildNextVersion(new MemoryBlockstore(), {
        chainId: 31337,
        list: LIST,
        currentVersion: 0n,
        add: [],
        remove: parseEntryList(CIDS[0]).entries,
      });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(EmptyChangeError);
  });
});
