import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { type Address, custom, type EIP1193Provider, getAddress, http, numberToHex } from 'viem';
import {
  createNrpClients,
  DEVELOPMENT_ACCOUNT_COUNT,
  developmentAccount,
  type NrpWalletClient,
} from '../../src/chain/clients.js';
import { RPC_URL, useDao } from './dao.js';
import { describeError, isUserRejection, WrongWalletChainError } from './errors.js';

declare global {
  interface Window {
    /** An injected EIP-1193 wallet, such as MetaMask. */
    ethereum?: EIP1193Provider;
  }
}

export type Wallet =
  | { kind: 'development'; index: number; address: Address; client: NrpWalletClient }
  | { kind: 'injected'; address: Address; client: NrpWalletClient; chainId: number };

export interface WalletState {
  wallet: Wallet | null;
  /** Whether the browser has an injected wallet. */
  hasInjected: boolean;
  /** Whether development accounts may be offered: on the local chain only. */
  developmentAccounts: boolean;
  /** The connected injected wallet is on another chain than the DAO's. */
  wrongChain: boolean;
  /** Why the last connection attempt failed. */
  error?: string;
  connecting: boolean;
  connectInjected: () => Promise<void>;
  connectDevelopment: (index: number) => void;
  disconnect: () => void;
  /** Asks the injected wallet to switch to the DAO's chain (adding it first if the wallet lacks it). */
  switchChain: () => Promise<void>;
  /** The client to sign with now; throws when there is no wallet or it is on the wrong chain. */
  signer: () => NrpWalletClient;
}

const WalletContext = createContext<WalletState | null>(null);

export function useWallet(): WalletState {
  const state = useContext(WalletContext);
  if (!state) throw new Error('useWallet outside WalletProvider');
  return state;
}

/** Remembers the choice of wallet across reloads; never a key, only which account. */
const STORAGE_KEY = 'nrp-web-wallet';

/**
 * The signing side: an injected EIP-1193 wallet through viem, or, on the local chain only, one of Hardhat's
 * well-known development accounts, which sign in the page (their keys are public, and worthless elsewhere).
 */
export function WalletProvider({ children }: { children: ReactNode }) {
  const { deployment, client, isLocalChain, health } = useDao();
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [error, setError] = useState<string>();
  const [connecting, setConnecting] = useState(false);
  const provider = typeof window !== 'undefined' ? window.ethereum : undefined;
  const developmentAccounts = isLocalChain && health.state === 'ok';

  const connectDevelopment = useCallback(
    (index: number) => {
      if (!isLocalChain) {
        setError('Development accounts exist on the local chain only.');
        return;
      }
      const account = developmentAccount(index);
      const walletClient = createNrpClients({
        transport: http(RPC_URL, { retryCount: 0 }),
        chain: client.chain,
        account,
        pollingInterval: 250,
      }).walletClient;
      setWallet({ kind: 'development', index, address: account.address, client: walletClient });
      setError(undefined);
      localStorage.setItem(STORAGE_KEY, `development:${index}`);
    },
    [client.chain, isLocalChain],
  );

  const adoptInjected = useCallback(
    async (accounts: readonly string[]) => {
      if (!provider) return;
      if (accounts.length === 0) {
        setWallet((current) => (current?.kind === 'injected' ? null : current));
        return;
      }
      const chainId = Number(await provider.request({ method: 'eth_chainId' }));
      const address = getAddress(accounts[0]);
      const walletClient = createNrpClients({
        // No retries: a revert or a rejection reaches viem as an error that it would otherwise retry.
        transport: custom(provider, { retryCount: 0 }),
        chain: client.chain,
        account: address,
        pollingInterval: client.pollingInterval,
      }).walletClient;
      setWallet({ kind: 'injected', address, client: walletClient, chainId });
    },
    [provider, client.chain, client.pollingInterval],
  );

  const connectInjected = useCallback(async () => {
    if (!provider) {
      setError('No browser wallet found. Install MetaMask or another Ethereum wallet extension, then reload.');
      return;
    }
    setConnecting(true);
    setError(undefined);
    try {
      const accounts = await provider.request({ method: 'eth_requestAccounts' });
      await adoptInjected(accounts);
      localStorage.setItem(STORAGE_KEY, 'injected');
    } catch (err) {
      setError(
        isUserRejection(err)
          ? 'You declined the connection in your wallet. Connect again whenever you like.'
          : `Your wallet did not connect: ${describeError(err)}`,
      );
    } finally {
      setConnecting(false);
    }
  }, [provider, adoptInjected]);

  const disconnect = useCallback(() => {
    setWallet(null);
    setError(undefined);
    localStorage.removeItem(STORAGE_KEY);
  }, []);

  // Follow the injected wallet's account and chain as the user changes them there.
  useEffect(() => {
    if (!provider?.on) return;
    const onAccounts = (accounts: readonly string[]) => {
      if (localStorage.getItem(STORAGE_KEY) === 'injected') void adoptInjected(accounts).catch(() => undefined);
    };
    const onChain = (chainId: string) => {
      setWallet((current) => (current?.kind === 'injected' ? { ...current, chainId: Number(chainId) } : current));
    };
    provider.on('accountsChanged', onAccounts);
    provider.on('chainChanged', onChain);
    return () => {
      provider.removeListener?.('accountsChanged', onAccounts);
      provider.removeListener?.('chainChanged', onChain);
    };
  }, [provider, adoptInjected]);

  // Reconnect what was chosen before the reload, without asking the wallet to prompt.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, when the chain is first known to be usable.
  useEffect(() => {
    if (health.state !== 'ok' || wallet) return;
    const saved = localStorage.getItem(STORAGE_KEY);
    const development = /^development:(\d+)$/.exec(saved ?? '');
    if (development && developmentAccounts) connectDevelopment(Number(development[1]));
    else if (saved === 'injected' && provider) {
      provider
        .request({ method: 'eth_accounts' })
        .then(adoptInjected)
        .catch(() => undefined);
    }
  }, [health.state]);

  const switchChain = useCallback(async () => {
    if (!provider) return;
    const chainId = numberToHex(deployment.chainId);
    setError(undefined);
    try {
      await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
    } catch (err) {
      if ((err as { code?: number }).code === 4902) {
        // The wallet does not know the chain: offer it this app's RPC.
        try {
          await provider.request({
            method: 'wallet_addEthereumChain',
            params: [
              {
                chainId,
                chainName: client.chain.name,
                nativeCurrency: client.chain.nativeCurrency,
                rpcUrls: [RPC_URL],
              },
            ],
          });
          return;
        } catch (addError) {
          setError(`Your wallet did not add chain ${deployment.chainId}: ${describeError(addError)}`);
          return;
        }
      }
      setError(
        isUserRejection(err)
          ? `You declined to switch. Switch your wallet to chain ${deployment.chainId} to sign for this DAO.`
          : `Your wallet did not switch to chain ${deployment.chainId}: ${describeError(err)}`,
      );
    }
  }, [provider, deployment.chainId, client.chain]);

  const wrongChain = wallet?.kind === 'injected' && wallet.chainId !== deployment.chainId;
  const state = useMemo<WalletState>(
    () => ({
      wallet,
      hasInjected: provider !== undefined,
      developmentAccounts,
      wrongChain,
      error,
      connecting,
      connectInjected,
      connectDevelopment,
      disconnect,
      switchChain,
      signer: () => {
        if (!wallet) throw new Error('Connect a wallet first.');
        if (wallet.kind === 'injected' && wallet.chainId !== deployment.chainId) {
          throw new WrongWalletChainError(
            `Your wallet is on chain ${wallet.chainId}, but this DAO is on chain ${deployment.chainId}. ` +
              'Switch networks in your wallet (or use the “Switch network” button), then try again.',
          );
        }
        return wallet.client;
      },
    }),
    [
      wallet,
      provider,
      developmentAccounts,
      wrongChain,
      error,
      connecting,
      connectInjected,
      connectDevelopment,
      disconnect,
      switchChain,
      deployment.chainId,
    ],
  );
  return <WalletContext.Provider value={state}>{children}</WalletContext.Provider>;
}

/** The indexes of Hardhat's development accounts, for the picker. */
export const DEVELOPMENT_ACCOUNT_INDEXES = Array.from({ length: DEVELOPMENT_ACCOUNT_COUNT }, (_, index) => index);
