// The deployment record's shape, apart from the code that reads and writes it (deployment.ts, which needs
// node:fs), so browser code such as the web app can type what `nrp web` serves as /deployment.json.

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
