import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import { entryId } from '../../src/lists/entry-id.js';
import { LocalList } from '../../src/node/local-list.js';
import { createNrpNode } from '../../src/node/node.js';

describe('LocalList', () => {
  it('drops content it comes to list, and refuses to share it', async () => {
    const list = new LocalList();
    const node = await createNrpNode({ lists: [list] });
    try {
      const bytes = new TextEncoder().encode('fine until the operator lists it');
      const cid = await unixfs(node.helia).addBytes(bytes);
      await node.adverts.share(cid, bytes.length);
      expect(node.store.hasContent(cid.toString())).to.equal(true);

      list.replace([entryId(cid)]);
      const deadline = Date.now() + 5_000;
      while (node.store.hasContent(cid.toString()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(node.store.hasContent(cid.toString())).to.equal(false);
      await node.adverts.share(cid, bytes.length).then(
        () => expect.fail('shared listed content'),
        (error) => expect(error.name).to.equal('ListedContentError'),
      );
      // While listed, the store hides the block anyway; unlisted again, it shows it was really deleted.
      list.replace([]);
      expect(await node.helia.blockstore.has(cid)).to.equal(false);
    } finally {
      await node.stop();
    }
  });
});
