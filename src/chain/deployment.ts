import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Contracts of a deployed Node Rating P2P DAO, by contract name. */
export interface DaoContracts {
  RatingToken: `0x${string}`;
  TimelockController: `0x${string}`;
  RatingGovernor: `0x${string}`;
  RatingServerRegistry: `0x${string}`;
  IllegalDataList: `0x${string}`;
}

/**
 * Where a DAO was deployed. Written by `npx hardhat deploy-dao` to
 * `deployments/<network>.json`, read by nodes, servers and the CLI.
 */
export interface DaoDeployment {
  network: string;
  chainId: number;
  /** The Ignition deployment id, whose journal is in `ignition/deployments/<id>`. */
  deploymentId: string;
  /** First block that can hold the DAO's events: sync backfills from here. */
  fromBlock: number;
  deployedAt: string;
  contracts: DaoContracts;
}

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
