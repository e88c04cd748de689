import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getAddress } from 'viem';
import type { DaoContracts, DaoDeployment } from './deployment-record.js';

export type { DaoContracts, DaoDeployment } from './deployment-record.js';

/** The file a deployment to `network` is recorded in, under the project root `root`. */
export function deploymentPath(root: string, network: string): string {
  return join(root, 'deployments', `${network}.json`);
}

export class DeploymentNotFoundError extends Error {
  override name = 'DeploymentNotFoundError';
  constructor(readonly path: string) {
    super(`No DAO deployment recorded at ${path}. Deploy one first (npm run deploy:local).`);
  }
}

export async function readDeployment(path: string): Promise<DaoDeployment> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DeploymentNotFoundError(path);
    throw err;
  }
  return JSON.parse(text) as DaoDeployment;
}

export async function writeDeployment(path: string, deployment: DaoDeployment): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(deployment, null, 2)}\n`);
}

/** A deployed DAO's contracts as Ignition returns them, or as any set of contract objects holds them. */
export type DaoContractObjects = Record<'token' | 'timelock' | 'governor' | 'registry' | 'list', Addressable>;

interface Addressable {
  getAddress(): Promise<string>;
}

/**
 * The addresses a deployment record lists, checksummed, from the DAO's contract objects (Ignition's result).
 *
 * @example
 * const dao = await ignition.deploy(RatingDaoModule, { parameters });
 * await writeDeployment(path, { network, chainId, deploymentId, fromBlock, deployedAt, contracts: await daoContractsOf(dao) });
 */
export async function daoContractsOf(dao: DaoContractObjects): Promise<DaoContracts> {
  const address = async (contract: Addressable) => getAddress(await contract.getAddress());
  return {
    RatingToken: await address(dao.token),
    TimelockController: await address(dao.timelock),
    RatingGovernor: await address(dao.governor),
    RatingServerRegistry: await address(dao.registry),
    IllegalDataList: await address(dao.list),
  };
}
