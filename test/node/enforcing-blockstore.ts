import { MemoryBlockstore } from 'blockstore-core/memory';
import { expect } from 'chai';
import all from 'it-all';
import { equals } from 'uint8arrays/equals';
import { enforcingBlockstore, RefusedBlockError } from '../../src/node/enforcing-blockstore.js';
import { cborBlock, getBlock } from '../ipfs/helpers.js';

describe('enforcingBlockstore', () => {
  it('hides refused blocks from every read and refuses to store them', async () => {
    const inner = new MemoryBlockstore();
    const listed = await cborBlock({ listed: true });
    const clean = await cborBlock({ clean: true });
    await inner.put(listed.cid, listed.bytes);
    await inner.put(clean.cid, clean.bytes);
    // Like a list, refuse by multihash: stores may hand CIDs back with another codec.
    const store = enforcingBlockstore(inner, (cid) => equals(cid.multihash.bytes, listed.cid.multihash.bytes));

    expect(await store.has(listed.cid)).to.equal(false);
    expect(await store.has(clean.cid)).to.equal(true);
    await getBlock(store, listed.cid).then(
      () => expect.fail('served a listed block'),
      (err) => expect(err.name).to.equal('NotFoundError'),
    );
    expect(await getBlock(store, clean.cid)).to.deep.equal(clean.bytes);
    const many = await all(store.getMany([listed.cid, clean.cid]));
    expect(many.map((p) => p.cid.toString())).to.deep.equal([clean.cid.toString()]);
    const everything = await all(store.getAll());
    expect(everything.map((p) => p.cid.multihash.bytes)).to.deep.equal([clean.cid.multihash.bytes]);

    expect(() => store.put(listed.cid, listed.bytes)).to.throw(RefusedBlockError);
    await all(store.putMany([{ cid: listed.cid, bytes: listed.bytes }])).then(
      () => expect.fail('stored a listed block'),
      (err) => expect(err).to.be.instanceOf(RefusedBlockError),
    );
  });
});
