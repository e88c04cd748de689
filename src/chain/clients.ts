import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { type HDAccount, mnemonicToAccount, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import { InvalidPrivateKeyError } from './errors.js';

/** The local chain of `npm run chain` and of the tests: Hardhat's chain id 31337 on 127.0.0.1:8545. */
export const localChain: Chain = hardhat;

/** The RPC URL of `npm run chain`. */
export const LOCAL_RPC_URL = 'http://127.0.0.1:8545';

/** Hardhat's public test mnemonic: its accounts hold the local DAO's tokens. Worthless anywhere else. */
export const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk';

/** How many of Hardhat's development accounts a local chain funds. */
export const DEVELOPMENT_ACCOUNT_COUNT = 20;

/**
 * Hardhat's well-known development account `index` (0 to 19), for the local chain only: its key is public.
 *
 * @example
 * const { walletClient } = createNrpClients({ account: developmentAccount(1) });
 */
export function developmentAccount(index: number): HDAccount {
  if (!Number.isInteger(index) || index < 0 || index >= DEVELOPMENT_ACCOUNT_COUNT) {
    throw new RangeError(`A development account is numbered 0 to ${DEVELOPMENT_ACCOUNT_COUNT - 1}, not ${index}.`);
  }
  let account = developmentAccounts.get(index);
  if (!account) {
    account = mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index });
    developmentAccounts.set(index, account);
  }
  return account;
}

// Deriving from the mnemonic runs PBKDF2, which takes a while in a browser; each account is derived once.
const developmentAccounts = new Map<number, HDAccount>();

export type NrpPublicClient = PublicClient<Transport, Chain>;
export type NrpWalletClient = WalletClient<Transport, Chain, Account>;

export interface CreateNrpClientsParameters {
  /** JSON-RPC endpoint over HTTP. Ignored when `transport` is given. Default {@link LOCAL_RPC_URL}. */
  rpcUrl?: string;
  /**
   * Any viem transport instead of `rpcUrl`, e.g. `custom(connection.provider)` for Hardhat's in-process chain or
   * `custom(window.ethereum)`. With an EIP-1193 provider, prefer `custom(provider, { retryCount: 0 })`: a revert
   * reaches viem as an unknown RPC error (code 3), which it otherwise retries three times with backoff.
   */
  transport?: Transport;
  /** The chain; the wallet client refuses to sign for any other. Default {@link localChain}. */
  chain?: Chain;
  /**
   * Who signs. A local account (see {@link accountFromPrivateKey}) signs in this process; a bare address is a
   * JSON-RPC account that the node signs for, which only a development node such as Hardhat's does.
   * Without an account there is no wallet client.
   */
  account?: Account | Address;
  /** How often to poll for new blocks and receipts, in milliseconds. Default: viem's, 4 seconds. */
  pollingInterval?: number;
}

export interface NrpClients {
  publicClient: NrpPublicClient;
  walletClient?: NrpWalletClient;
}

/**
 * The viem clients of one chain: a public client for reading, and a wallet client when an account is given.
 *
 * @example
 * const { publicClient, walletClient } = createNrpClients({
 *   rpcUrl: 'https://rpc.example.org',
 *   chain: chainFromId(deployment.chainId, 'https://rpc.example.org'),
 *   account: accountFromPrivateKey(process.env.NRP_PRIVATE_KEY ?? ''),
 * });
 */
export function createNrpClients(
  parameters: CreateNrpClientsParameters & { account: Account | Address },
): Required<NrpClients>;
export function createNrpClients(parameters?: CreateNrpClientsParameters): NrpClients;
export function createNrpClients(parameters: CreateNrpClientsParameters = {}): NrpClients {
  const { rpcUrl = LOCAL_RPC_URL, chain = localChain, account, pollingInterval } = parameters;
  const transport = parameters.transport ?? http(rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval });
  if (account === undefined) return { publicClient };
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval });
  return { publicClient, walletClient };
}

/**
 * A chain definition for `chainId`: {@link localChain} for 31337, otherwise a minimal one reached at `rpcUrl`.
 * Deployment records (`deployments/<network>.json`) give the chain id; pass a chain from `viem/chains` instead
 * when you know it, for its block explorer and contracts.
 */
export function chainFromId(chainId: number, rpcUrl: string = LOCAL_RPC_URL): Chain {
  if (chainId === localChain.id) return { ...localChain, rpcUrls: { default: { http: [rpcUrl] } } };
  return defineChain({
    id: chainId,
    name: `Chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/**
 * The signing account of a private key given as 64 hex digits, with or without `0x` and surrounding whitespace
 * (as read from a key file). Throws {@link InvalidPrivateKeyError}, whose message never contains the key.
 *
 * @example
 * const account = accountFromPrivateKey(await readFile(keyFile, 'utf8'));
 */
export function accountFromPrivateKey(privateKey: string): PrivateKeyAccount {
  const digits = privateKey.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(digits)) throw new InvalidPrivateKeyError();
  try {
    return privateKeyToAccount(`0x${digits}` as Hex);
  } catch {
    // Zero or a value above the curve order: valid hex, still not a key. The cause would quote the key.
    throw new InvalidPrivateKeyError();
  }
}
