import { join } from 'node:path';
import { logger } from '@libp2p/logger';
import { custom } from 'viem';
import { type LocalAccount, mnemonicToAccount } from 'viem/accounts';
import { getBlock, getBlockNumber } from 'viem/actions';
import RatingDaoModule from '../../ignition/modules/RatingDao.js';
import { createNrpClients, type NrpPublicClient, type NrpWalletClient } from '../chain/clients.js';
import { type DaoDeployment, daoContractsOf, writeDeployment } from '../chain/deployment.js';
import { type RpcBridge, serveProviderOverHttp } from './rpc-bridge.js';

const log = logger('nrp:demo:chain');

const ROOT = join(import.meta.dirname, '../..');

/** The parameters `npm run deploy:local` deploys with: Hardhat's accounts 0–4 hold the governance tokens. */
export const LOCAL_PARAMETERS = join(ROOT, 'ignition/parameters/local.json');

/**
 * The mnemonic of Hardhat's development accounts, published in Hardhat's documentation: its keys are public and
 * worthless on any real network. The demo's token holders and server operators sign with them.
 */
const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk';

/** Who signs what in the demo: Hardhat's accounts 0–4 hold the tokens, 5 and up hold none. */
export const DEMO_ACCOUNTS = {
  holders: [0, 1, 2, 3, 4],
  /** The operators of rating servers 1, 2 and the fork's. */
  operators: [5, 6, 7],
} as const;

/** A wallet client whose account signs in this process. */
export type DemoWallet = NrpWalletClient & { account: LocalAccount };

/** The in-process chain the demo runs on, served over HTTP for the nodes and servers it starts. */
export interface DemoChain {
  /** Where the nodes and servers reach the chain. */
  rpcUrl: string;
  deployment: DaoDeployment;
  /** The deployment record the nodes and servers read (`chain.deployment` in their configurations). */
  deploymentPath: string;
  publicClient: NrpPublicClient;
  /** A wallet client signing as Hardhat account `index`, in this process (a local account, not Hardhat's). */
  wallet(index: number): DemoWallet;
  /** Moves the chain's clock forward and mines a block: the demo's way past voting periods and timelock delays. */
  advance(seconds: number): Promise<void>;
  /** The latest block's timestamp, in seconds. */
  now(): Promise<bigint>;
  /** The raw EIP-1193 provider of the in-process chain. */
  provider: { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
  close(): Promise<void>;
}

/**
 * Starts Hardhat's in-process chain (EDR), compiles the contracts if needed, deploys a whole DAO through the real
 * Ignition module with the local parameters, records the deployment in `<workDir>/deployment.json`, and serves the
 * chain over HTTP on 127.0.0.1.
 *
 * @example
 * const chain = await startDemoChain({ workDir });
 * console.info(chain.rpcUrl, chain.deployment.contracts.IllegalDataList);
 */
export async function startDemoChain(options: { workDir: string; onProgress?: (line: string) => void }) {
  const progress = options.onProgress ?? (() => {});
  // Hardhat is loaded here, not at the top, so that `--help` and argument errors answer at once.
  const hre = (await import('hardhat')).default;
  progress('compiling the contracts (if they changed)');
  await hre.tasks.getTask('build').run({ quiet: true, noTests: true });
  const connection = await hre.network.create();
  const provider = connection.provider as DemoChain['provider'];
  const transport = custom(provider, { retryCount: 0 });
  const { publicClient } = createNrpClients({ transport, pollingInterval: 50 });

  progress('deploying the DAO with Ignition (token, timelock, Governor, server registry, list)');
  const fromBlock = Number(await getBlockNumber(publicClient, { cacheTime: 0 })) + 1;
  const dao = await connection.ignition.deploy(RatingDaoModule, { parameters: LOCAL_PARAMETERS });
  const deployment: DaoDeployment = {
    network: 'demo',
    chainId: publicClient.chain.id,
    deploymentId: 'nrp-demo',
    fromBlock,
    deployedAt: new Date().toISOString(),
    contracts: await daoContractsOf(dao),
  };
  const deploymentPath = join(options.workDir, 'deployment.json');
  await writeDeployment(deploymentPath, deployment);
  const bridge: RpcBridge = await serveProviderOverHttp(provider);
  log('chain at %s, DAO %o', bridge.url, deployment.contracts);

  const wallets = new Map<number, DemoWallet>();
  const chain: DemoChain = {
    rpcUrl: bridge.url,
    deployment,
    deploymentPath,
    publicClient,
    provider,
    wallet(index) {
      let wallet = wallets.get(index);
      if (!wallet) {
        const account = mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index });
        wallet = createNrpClients({ transport, account, pollingInterval: 50 }).walletClient as DemoWallet;
        wallets.set(index, wallet);
      }
      return wallet;
    },
    async advance(seconds) {
      await provider.request({ method: 'evm_increaseTime', params: [seconds] });
      await provider.request({ method: 'evm_mine', params: [] });
    },
    async now() {
      return (await getBlock(publicClient, { blockTag: 'latest' })).timestamp;
    },
    async close() {
      await bridge.close();
      await connection.close();
    },
  };
  return chain;
}
