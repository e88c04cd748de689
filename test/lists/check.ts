import { MemoryBlockstore } from 'blockstore-core/memory';
import { expect } from 'chai';
import { waitForTransactionReceipt } from 'viem/actions';
import { encodePublishVersion } from '../../src/chain/lists.js';
import { checkListed, entryCandidates } from '../../src/lists/check.js';
import { parseEntryList } from '../../src/lists/denylist.js';
import { entryId, entryIdToHex, InvalidCidError, InvalidEntryIdError } from '../../src/lists/entry-id.js';
import { buildNextVersion } from '../../src/lists/next-version.js';
import { decodePayload } from '../../src/lists/payload.js';
import { impersonatedWallet, publicClient, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';

const LISTED = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG';
const OTHER = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';

/** A DAO whose list is at version 1, listing two CIDs, with the payload in memory. */
async function listedFixture() {
  const d = await viemDaoFixture();
  const store = new MemoryBlockstore();
  const next = await buildNextVersion(store, {
    chainId: 31337,
    list: d.list,
    currentVersion: 0n,
    add: parseEntryList(`${LISTED}\n0x${'ab'.repeat(32)}`).entries,
    remove: [],
  });
  const timelock = await impersonatedWallet(d.timelock);
  const hash = await timelock.sendTransaction({ to: d.list, data: encodePublishVersion(next.call) });
  await waitForTransactionReceipt(publicClient, { hash });
  return { ...d, payload: await decodePayload(store, next.payload.cid) };
}

describe('lists: is it listed, proved on chain', () => {
  it('names every id an item may be listed under', () => {
    expect(entryCandidates(LISTED).map((c) => c.form)).to.deep.equal([
      'entry id',
      'IPIP-383 double hash',
      'IPIP-383 legacy hash',
    ]);
    expect(entryCandidates(` 0x${'ab'.repeat(32)} `)).to.have.length(1);
    expect(() => entryCandidates('not a cid')).to.throw(InvalidCidError);
    expect(() => entryCandidates('0x1234')).to.throw(InvalidEntryIdError);
  });

  it('finds a listed CID and entry id, and the list contract accepts the proof', async () => {
    const d = await networkHelpers.loadFixture(listedFixture);
    const byCid = await checkListed(publicClient, { list: d.list, version: 1n, payload: d.payload, item: LISTED });
    expect(byCid).to.deep.include({ listed: true, entryId: entryIdToHex(entryId(LISTED)), provedOnChain: true });
    const byId = await checkListed(publicClient, {
      list: d.list,
      version: 1n,
      payload: d.payload,
      item: `0x${'ab'.repeat(32)}`,
    });
    expect(byId).to.deep.include({ listed: true, form: 'entry id', provedOnChain: true });
  });

  it('says not listed for another CID; a proof against the wrong version fails on chain', async () => {
    const d = await networkHelpers.loadFixture(listedFixture);
    expect(
      await checkListed(publicClient, { list: d.list, version: 1n, payload: d.payload, item: OTHER }),
    ).to.deep.equal({ listed: false, version: 1n });
    // The payload says listed, but the chain's version 1 is another set: the chain's answer is what counts.
    const timelock = await impersonatedWallet(d.timelock);
    const store = new MemoryBlockstore();
    const other = await buildNextVersion(store, {
      chainId: 31337,
      list: d.list,
      currentVersion: 1n,
      current: d.payload,
      add: parseEntryList(OTHER).entries,
      remove: parseEntryList(LISTED).entries,
    });
    const hash = await timelock.sendTransaction({ to: d.list, data: encodePublishVersion(other.call) });
    await waitForTransactionReceipt(publicClient, { hash });
    const stale = await checkListed(publicClient, { list: d.list, version: 2n, payload: d.payload, item: LISTED });
    expect(stale).to.deep.include({ listed: true, provedOnChain: false });
  });
});
