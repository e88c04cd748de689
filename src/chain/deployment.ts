import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DaoDeployment } from './deployment-record.js';

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
