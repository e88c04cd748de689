import { expect } from 'chai';
import { ethers } from './helpers/dao.js';
import { randomEntryIds } from './helpers/merkle.js';

// The benchmark baseline must work, or bench:gas would compare against nothing.
describe('MappingIllegalDataList (benchmark baseline)', () => {
  it('stores entries for its executor only, counting each id once', async () => {
    const [executor, other] = await ethers.getSigners();
    const list = await ethers.deployContract('MappingIllegalDataList', [executor]);
    const ids = randomEntryIds(3);
    await expect(list.addEntries([...ids, ids[0]]))
      .to.emit(list, 'EntriesAdded')
      .withArgs([...ids, ids[0]]);
    expect(await list.count()).to.equal(3n);
    expect(await list.isListed(ids[1])).to.equal(true);
    expect(await list.isListed(randomEntryIds(1)[0])).to.equal(false);
    await expect(list.connect(other).addEntries(ids))
      .to.be.revertedWithCustomError(list, 'MappingIllegalDataListUnauthorized')
      .withArgs(other.address);
  });
});
