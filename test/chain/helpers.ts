import { type Account, type Address, custom, getAddress, type Hex } from 'viem';
import { accountFromPrivateKey, createNrpClients, type NrpWalletClient } from '../../src/chain/clients.js';
import { connection, deployDao, networkHelpers } from '../helpers/dao.js';

/**
 * viem over the same in-process Hardhat chain as the ethers tests: Hardhat's provider is EIP-1193, so
 * viem's `custom` transport talks to it directly, without an HTTP server.
 *
 * No retries: a revert comes out of the provider as a plain error with code 3, which the custom transport
 * takes for an unknown RPC error and retries three times with backoff, about a second per expected revert.
 */
export const transport = custom(connection.provider, { retryCount: 0 });

/** Short polling so that waiting for receipts and watching for events take milliseconds, not seconds. */
export const POLLING_INTERVAL = 20;

export const { publicClient } = createNrpClients({ transport, pollingInterval: POLLING_INTERVAL });

/**
 * Private keys of Hardhat's default accounts 0–5, published in Hardhat's documentation and useless on any
 * real network. Accounts 0–4 hold the local governance tokens.
 */
export const HARDHAT_PRIVATE_KEYS: readonly Hex[] = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
];

/**
 * A wallet client that signs as `account`: a local account signs in this process (as the CLI will), an address
 * is a JSON-RPC account that Hardhat signs for (its default accounts, or impersonated ones).
 */
export function walletFor(account: Account | Address): NrpWalletClient {
  return createNrpClients({ transport, account, pollingInterval: POLLING_INTERVAL }).walletClient;
}

/** A wallet client for a contract such as the timelock, impersonated, to skip a whole vote. */
export async function impersonatedWallet(address: Address): Promise<NrpWalletClient> {
  await networkHelpers.impersonateAccount(address);
  await networkHelpers.setBalance(address, 10n ** 20n);
  return walletFor(address);
}

/** The DAO deployed through Ignition, with its addresses and wallets for viem. */
export async function viemDaoFixture() {
  const dao = await deployDao();
  const address = async (contract: { getAddress(): Promise<string> }) => getAddress(await contract.getAddress());
  const [token, timelock, governor, registry, list] = await Promise.all(
    [dao.token, dao.timelock, dao.governor, dao.registry, dao.list].map(address),
  );
  // Holders sign with local private-key accounts, as users of the CLI will.
  const holders = HARDHAT_PRIVATE_KEYS.slice(0, 5).map((key) => walletFor(accountFromPrivateKey(key)));
  // An outsider holds no tokens and signs through Hardhat (a JSON-RPC account).
  const outsider = walletFor(getAddress(dao.outsiders[0].address));
  return { dao, token, timelock, governor, registry, list, holders, outsider };
}

export type ViemDao = Awaited<ReturnType<typeof viemDaoFixture>>;

/** Rejects if `promise` does not settle within `ms`, so a test that waits for an event fails instead of hanging. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
