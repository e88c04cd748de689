import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import hre from 'hardhat';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { deploymentPath, readDeployment } from '../../src/chain/deployment.js';
import { LOCAL_PARAMETERS } from '../helpers/dao.js';

describe('deploy-dao task', () => {
  const root = hre.config.paths.root;

  it('deploys the whole DAO and records addresses and the first block for src/', async () => {
    const connection = await hre.network.getOrCreate();
    const path = deploymentPath(root, connection.networkName);
    await rm(path, { force: true });
    try {
      await hre.tasks.getTask('deploy-dao').run({ parameters: '' });
      const deployment = await readDeployment(path);
      expect(deployment.chainId).to.equal(31337);
      expect(deployment.network).to.equal(connection.networkName);
      expect(deployment.fromBlock).to.be.greaterThan(0);

      const { ethers } = connection;
      const { contracts } = deployment;
      const list = await ethers.getContractAt('IllegalDataList', contracts.IllegalDataList);
      const registry = await ethers.getContractAt('RatingServerRegistry', contracts.RatingServerRegistry);
      const governor = await ethers.getContractAt('RatingGovernor', contracts.RatingGovernor);
      expect(await list.executor()).to.equal(contracts.TimelockController);
      expect(await registry.executor()).to.equal(contracts.TimelockController);
      expect(await governor.token()).to.equal(contracts.RatingToken);
      expect(await governor.timelock()).to.equal(contracts.TimelockController);
      const firstEvents = await list.queryFilter(list.filters.ListCreated(), deployment.fromBlock);
      expect(firstEvents).to.have.length(1);
    } finally {
      await rm(path, { force: true });
    }
  });

  it('fails with a clear message when the parameters file does not exist', async () => {
    const before = process.exitCode;
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      await hre.tasks.getTask('deploy-dao').run({ parameters: 'no/such/file.json' });
    } finally {
      console.error = original;
    }
    expect(process.exitCode).to.equal(1);
    process.exitCode = before;
    expect(errors.join('\n')).to.contain('Parameters file not found: no/such/file.json');
  });

  it('binds the local list to the CID of the policy document in the repository', async () => {
    const policy = await readFile(join(root, 'policies/default-list-policy.md'));
    const cid = CID.create(1, raw.code, await sha256.digest(policy));
    expect(LOCAL_PARAMETERS.listPolicyCid).to.equal(cid.toString());
  });
});
