import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { HardhatRuntimeEnvironment } from 'hardhat/types/hre';
import RatingDaoModule from '../ignition/modules/RatingDao.js';
import { type DaoDeployment, daoContractsOf, deploymentPath, writeDeployment } from '../src/chain/deployment.js';

interface DeployDaoArguments {
  parameters: string;
}

const LOCAL_CHAIN_ID = 31337;

/** A problem the user can fix; printed without a stack trace. */
class DeployDaoError extends Error {
  override name = 'DeployDaoError';
}

/**
 * Deploys a whole DAO with Ignition and records its addresses and first block
 * in `deployments/<network>.json`, where nodes, servers and the CLI read them.
 */
export default async function deployDaoTask(args: DeployDaoArguments, hre: HardhatRuntimeEnvironment) {
  try {
    await deployDao(args, hre);
  } catch (err) {
    if (!(err instanceof DeployDaoError)) throw err;
    console.error(`deploy-dao: ${err.message}`);
    process.exitCode = 1;
  }
}

async function deployDao(args: DeployDaoArguments, hre: HardhatRuntimeEnvironment) {
  const root = hre.config.paths.root;
  const connection = await hre.network.getOrCreate();
  const { ethers, ignition, networkName } = connection;

  let chainId: number;
  let fromBlock: number;
  try {
    chainId = Number((await ethers.provider.getNetwork()).chainId);
    fromBlock = (await ethers.provider.getBlockNumber()) + 1;
  } catch (err) {
    const hint =
      networkName === 'localhost'
        ? 'Start a local chain first, in another terminal: npm run chain'
        : `Check the RPC URL of network "${networkName}" (configuration variable NRP_RPC_URL).`;
    throw new DeployDaoError(`Cannot reach network "${networkName}": ${(err as Error).message}\n${hint}`);
  }

  const isLocal = chainId === LOCAL_CHAIN_ID;
  const parameters = args.parameters || (isLocal ? join(root, 'ignition/parameters/local.json') : '');
  if (!parameters) {
    throw new DeployDaoError(
      `Network "${networkName}" (chain ${chainId}) needs deployment parameters: ` +
        'pass --parameters <file.json> (see ignition/parameters/local.json for the format).',
    );
  }
  if (!existsSync(parameters)) throw new DeployDaoError(`Parameters file not found: ${parameters}`);

  const deploymentId = `nrp-dao-${chainId}`;
  if (isLocal) {
    // A local chain starts empty on every restart; a journal from an earlier
    // run would make Ignition look for contracts that no longer exist.
    await rm(join(root, 'ignition/deployments', deploymentId), { recursive: true, force: true });
  }

  console.log(`Deploying a Node Rating P2P DAO to "${networkName}" (chain ${chainId})…`);
  const dao = await ignition.deploy(RatingDaoModule, { parameters, deploymentId, displayUi: true });

  const deployment: DaoDeployment = {
    network: networkName,
    chainId,
    deploymentId,
    fromBlock,
    deployedAt: new Date().toISOString(),
    contracts: await daoContractsOf(dao),
  };
  const path = deploymentPath(root, networkName);
  await writeDeployment(path, deployment);

  console.log(`\nDAO deployed to "${networkName}" (chain ${chainId}), events from block ${fromBlock}:`);
  console.table(deployment.contracts);
  console.log(`Recorded in ${relative(process.cwd(), path)}`);
}
