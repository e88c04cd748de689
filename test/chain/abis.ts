import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { toEventSelector, toFunctionSelector } from 'viem';
import { formatAbiItem } from 'viem/utils';
import { ABIS_PATH, renderAbis } from '../../scripts/generate-abis.js';
import {
  illegalDataListAbi,
  ratingGovernorAbi,
  ratingServerRegistryAbi,
  ratingTokenAbi,
  timelockControllerAbi,
} from '../../src/chain/abis.js';
import { ethers } from '../helpers/dao.js';

describe('chain client: generated ABIs', () => {
  it('src/chain/abis.ts is up to date with the compiled contracts (else: npx node scripts/generate-abis.ts)', async () => {
    expect(renderAbis()).to.equal(await readFile(ABIS_PATH, 'utf8'));
  });

  it('holds the same functions, events and errors as the TypeChain contracts', async () => {
    const pairs = [
      ['IllegalDataList', illegalDataListAbi],
      ['RatingServerRegistry', ratingServerRegistryAbi],
      ['RatingGovernor', ratingGovernorAbi],
      ['RatingToken', ratingTokenAbi],
      ['TimelockController', timelockControllerAbi],
    ] as const;
    for (const [name, abi] of pairs) {
      const { interface: iface } = await ethers.getContractFactory(name);
      const fromEthers: string[] = [];
      iface.forEachFunction((fn) => fromEthers.push(`function ${fn.selector}`));
      iface.forEachEvent((event) => fromEthers.push(`event ${event.topicHash}`));
      iface.forEachError((error) => fromEthers.push(`error ${error.selector}`));
      const fromAbi = abi.flatMap((item) => {
        if (item.type === 'function' || item.type === 'error') {
          return [`${item.type} ${toFunctionSelector(formatAbiItem(item))}`];
        }
        if (item.type === 'event') return [`event ${toEventSelector(item)}`];
        return [];
      });
      expect(fromAbi.sort(), name).to.deep.equal(fromEthers.sort());
    }
  });
});
