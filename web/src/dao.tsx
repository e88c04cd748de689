import { createContext, type ReactNode, useContext, useEffect, useMemo, useState } from 'react';
import { http } from 'viem';
import { getBlock, getChainId } from 'viem/actions';
import { chainFromId, createNrpClients, localChain, type NrpPublicClient } from '../../src/chain/clients.js';
import type { DaoDeployment } from '../../src/chain/deployment-record.js';
import { describeError } from './errors.js';

/** Where `nrp web` proxies the chain's JSON-RPC, on the app's own origin. */
export const RPC_URL = new URL('rpc', document.baseURI).href;

/** What the app knows of the chain: reachable and the right one, or why not. */
export type ChainHealth =
  | { state: 'checking' }
  | { state: 'ok'; chainId: number }
  | { state: 'unreachable'; message: string }
  | { state: 'wrong-chain'; chainId: number; message: string };

export interface IpfsStatus {
  peerId: string;
  addresses: string[];
  connections: number;
  timeoutMs: number;
}

export interface Dao {
  deployment: DaoDeployment;
  /** Reads the chain through `/rpc`. */
  client: NrpPublicClient;
  /** Whether this is Hardhat's local development chain, where development accounts and the clock tools exist. */
  isLocalChain: boolean;
  health: ChainHealth;
  /** The latest block's number and timestamp (seconds, chain time); undefined until first read. */
  blockNumber?: bigint;
  now?: bigint;
  /** This computer's IPFS node, as `nrp web` reports it. */
  ipfs?: IpfsStatus;
  /** Changes with every new block and every change of health: pages read the chain again when it changes. */
  revision: string;
  /** Reads the latest block again at once, e.g. after a transaction, so every page refreshes. */
  refresh: () => void;
}

const DaoContext = createContext<Dao | null>(null);

/** On a public chain, how often at most pages read the chain again as blocks come (besides after a transaction). */
const REREAD_MS = 30_000;

/** The DAO the app governs; only inside {@link DaoProvider}, once the deployment record is loaded. */
export function useDao(): Dao {
  const dao = useContext(DaoContext);
  if (!dao) throw new Error('useDao outside DaoProvider');
  return dao;
}

type Loaded = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; deployment: DaoDeployment };

/**
 * Loads the deployment record from the server, then follows the chain: the latest block every few seconds, and
 * whether the RPC is reachable and on the deployment's chain. Pages re-read what they show when the block
 * changes, so the app stays current and recovers by itself when the chain comes back.
 */
export function DaoProvider({ children }: { children: ReactNode }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` is the "try again" button.
  useEffect(() => {
    const controller = new AbortController();
    loadDeployment(controller.signal).then(
      (deployment) => setLoaded({ state: 'ok', deployment }),
      (error: Error) => {
        if (!controller.signal.aborted) setLoaded({ state: 'error', message: error.message });
      },
    );
    return () => controller.abort();
  }, [attempt]);

  if (loaded.state === 'loading') return <p className="page">Loading the DAO’s deployment record…</p>;
  if (loaded.state === 'error') {
    return (
      <main className="page" id="main">
        <h1>Cannot load the DAO</h1>
        <p role="alert" className="notice notice-error">
          {loaded.message}
        </p>
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </main>
    );
  }
  return <ChainFollower deployment={loaded.deployment}>{children}</ChainFollower>;
}

async function loadDeployment(signal: AbortSignal): Promise<DaoDeployment> {
  let response: Response;
  try {
    response = await fetch(new URL('deployment.json', document.baseURI), { signal });
  } catch {
    throw new Error('The app’s server (nrp web) cannot be reached. Start it again with `npm run web`.');
  }
  const body = (await response.json().catch(() => ({}))) as DaoDeployment & { error?: string };
  if (!response.ok) throw new Error(`The server has no DAO to show: ${body.error ?? `HTTP ${response.status}`}.`);
  return body;
}

function ChainFollower({ deployment, children }: { deployment: DaoDeployment; children: ReactNode }) {
  const isLocalChain = deployment.chainId === localChain.id;
  const pollMs = isLocalChain ? 1_500 : 6_000;
  const client = useMemo(
    () =>
      createNrpClients({
        // No retries: an unreachable chain should say so at once, and the app polls again anyway.
        transport: http(RPC_URL, { retryCount: 0, timeout: 30_000 }),
        chain: chainFromId(deployment.chainId, RPC_URL),
        pollingInterval: isLocalChain ? 250 : 4_000,
      }).publicClient,
    [deployment.chainId, isLocalChain],
  );
  const [health, setHealth] = useState<ChainHealth>({ state: 'checking' });
  const [block, setBlock] = useState<{ number: bigint; timestamp: bigint }>();
  const [ipfs, setIpfs] = useState<IpfsStatus>();
  const [tick, setTick] = useState(0);
  // Pages read the chain again when this changes: with every block on the local chain, where blocks come only
  // with transactions; elsewhere at most every REREAD_MS, as reading every proposal per block would be too much.
  const [reread, setReread] = useState({ block: -1n, at: 0, tick: -1 });

  // A change of `tick` (refresh) restarts polling at once.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let chainChecked = false;
    const poll = async () => {
      try {
        if (!chainChecked) {
          const chainId = await getChainId(client);
          if (chainId !== deployment.chainId) {
            if (!stopped) {
              setHealth({
                state: 'wrong-chain',
                chainId,
                message:
                  `Wrong chain: the server’s RPC is chain ${chainId}, but this DAO is deployed on chain ` +
                  `${deployment.chainId}. Restart nrp web with the --rpc of chain ${deployment.chainId}, or the ` +
                  '--deployment of this chain.',
              });
            }
            return;
          }
          chainChecked = true;
        }
        const latest = await getBlock(client, { blockTag: 'latest' });
        if (stopped) return;
        setHealth((previous) => (previous.state === 'ok' ? previous : { state: 'ok', chainId: deployment.chainId }));
        setBlock((previous) =>
          previous?.number === latest.number && previous.timestamp === latest.timestamp
            ? previous
            : { number: latest.number, timestamp: latest.timestamp },
        );
        setReread((previous) => {
          const asked = previous.tick !== tick;
          const due = latest.number !== previous.block && (isLocalChain || Date.now() - previous.at >= REREAD_MS);
          return asked || due ? { block: latest.number, at: Date.now(), tick } : previous;
        });
      } catch (error) {
        chainChecked = false;
        if (!stopped) setHealth({ state: 'unreachable', message: describeError(error) });
      } finally {
        if (!stopped) timer = setTimeout(poll, pollMs);
      }
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, deployment.chainId, pollMs, tick, isLocalChain]);

  // This computer's IPFS node, with its peer count, read again whenever the pages are.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `reread` says when.
  useEffect(() => {
    const controller = new AbortController();
    fetch(new URL('api/status', document.baseURI), { signal: controller.signal })
      .then((response) => (response.ok ? response.json() : undefined))
      .then((status: { ipfs?: IpfsStatus } | undefined) => setIpfs(status?.ipfs))
      .catch(() => undefined);
    return () => controller.abort();
  }, [reread]);

  const dao = useMemo<Dao>(
    () => ({
      deployment,
      client,
      isLocalChain,
      health,
      blockNumber: block?.number,
      now: block?.timestamp,
      ipfs,
      revision: `${health.state}:${reread.block}:${reread.tick}:${isLocalChain ? (block?.timestamp ?? '') : ''}`,
      refresh: () => setTick((n) => n + 1),
    }),
    [deployment, client, isLocalChain, health, block, reread, ipfs],
  );
  return <DaoContext.Provider value={dao}>{children}</DaoContext.Provider>;
}
