import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { NodeStore } from '../../src/node/store.js';
import { removeDir } from '../helpers/dirs.js';

describe('NodeStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-store-'));
  });
  afterEach(async () => {
    await removeDir(dir);
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

  it('pages through evidence with a limit, from any cursor, for one neighbour or all', () => {
    const store = NodeStore.open(join(dir, 'node.db'));
    for (let i = 0; i < 25; i++) {
      store.addEvidence({
        entryId: randomBytes(32),
        cid: `bafy-${i}`,
        fromPeer: `peer-${i % 2}`,
        advert: randomBytes(8),
        seenAt: i,
      });
    }
    const pages: string[][] = [];
    let afterId = 0;
    for (;;) {
      const page = store.listEvidence({ afterId, limit: 10 });
      if (page.length === 0) break;
      expect(page.length).to.be.at.most(10);
      pages.push(page.map((e) => e.cid));
      afterId = page[page.length - 1].id;
    }
    expect(pages.map((p) => p.length)).to.deep.equal([10, 10, 5]);
    expect(pages.flat()).to.deep.equal(Array.from({ length: 25 }, (_, i) => `bafy-${i}`));
    expect(store.listEvidence({ fromPeer: 'peer-1', limit: 3 }).map((e) => e.cid)).to.deep.equal([
      'bafy-1',
      'bafy-3',
      'bafy-5',
    ]);
    expect(store.listEvidence()).to.have.length(25);
    store.close();
  });

  it('finds the newest recent content without the rest, oldest first', () => {
    const store = NodeStore.open(join(dir, 'node.db'));
    for (let i = 0; i < 250; i++) store.recordContent({ cid: `bafy-${i}`, size: i, addedAt: 1_000 + i });
    expect(store.recentContent(1_240, 100).map((c) => c.addedAt)).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => 1_240 + i),
    );
    const newest = store.recentContent(0, 3);
    expect(newest.map((c) => c.cid)).to.deep.equal(['bafy-247', 'bafy-248', 'bafy-249']);
    expect(newest[0]).to.deep.equal({ cid: 'bafy-247', size: 247, addedAt: 1_247 });
    expect(store.recentContent(5_000, 100)).to.deep.equal([]);
    store.close();
  });
});
