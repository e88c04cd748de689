import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import { zeroHash } from 'viem';
import { decodeDaoCall } from '../../src/chain/decode-call.js';
import { encodePublishVersion } from '../../src/chain/lists.js';
import { serverStatusCall } from '../../src/chain/registry.js';

describe('chain: decoding a proposal’s calls', () => {
  it('names the contract, function and arguments of a call to a DAO contract', () => {
    const publish = encodePublishVersion({
      parentVersion: 3n,
      root: zeroHash,
      count: 0,
      added: 0,
      removed: 2,
      payloadCid: CID.parse('bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje'),
    });
    expect(decodeDaoCall(publish)).to.deep.include({ contract: 'IllegalDataList', functionName: 'publishVersion' });
    expect(decodeDaoCall(publish)?.args[0]).to.equal(3n);
    const activate = serverStatusCall('0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0', 7n, 'active');
    expect(decodeDaoCall(activate.data)).to.deep.equal({
      contract: 'RatingServerRegistry',
      functionName: 'activate',
      args: [7n],
    });
  });

  it('returns undefined for a call no DAO contract has, so the app can warn', () => {
    expect(decodeDaoCall('0xdeadbeef')).to.equal(undefined);
    expect(decodeDaoCall('0x')).to.equal(undefined);
  });
});
