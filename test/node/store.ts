import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { NodeStore } from '../../src/node/store.js';

describe('NodeStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps content and evidence across a reopen, once per neighbour and CID', () => {
    const path = join(dir, 'node.db');
    const store = NodeStore.open(path);
    store.recordContent({ cid: 'bafy-a', size: 10, name: 'a.txt', addedAt: 1 });
    store.recordContent({ cid: 'bafy-b', size: 20, fromPeer: 'peer-1', addedAt: 2 });
    const evidence = {
      entryId: randomBytes(32),
      cid: 'bafy-bad',
      fromPeer: 'peer-2',
      advert: randomBytes(80),
      seenAt: 3,
    };
    expect(store.addEvidence(evidence)).to.equal(true);
    expect(store.addEvidence({ ...evidence, seenAt: 4 })).to.equal(false);
    store.close();

    const reopened = NodeStore.open(path);
    expect(reopened.listContent()).to.deep.equal([
      { cid: 'bafy-a', size: 10, name: 'a.txt', addedAt: 1 },
      { cid: 'bafy-b', size: 20, fromPeer: 'peer-1', addedAt: 2 },
    ]);
    expect(reopened.hasContent('bafy-a')).to.equal(true);
    const [stored] = reopened.listEvidence();
    expect(stored).to.deep.include({ cid: 'bafy-bad', fromPeer: 'peer-2', seenAt: 3 });
    expect(stored.entryId).to.deep.equal(evidence.entryId);
    expect(stored.advert).to.deep.equal(evidence.advert);
    expect(reopened.listEvidence({ afterId: stored.id })).to.deep.equal([]);
    expect(reopened.listEvidence({ fromPeer: 'peer-9' })).to.deep.equal([]);

    reopened.removeContent(['bafy-a']);
    expect(reopened.hasContent('bafy-a')).to.equal(false);
    reopened.close();
  });
});
