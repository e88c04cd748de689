import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Account, Address } from 'viem';
import type { LOCAL_RPC_URL, NrpPublicClient, NrpWalletClient } from '../chain/clients.js';
import { type DaoDeployment, readDeployment } from '../chain/deployment.js';
import { InvalidPrivateKeyError } from '../chain/errors.js';
import type { NrpHelia } from '../ipfs/helia.js';
import type { BlockSource } from '../lists/blocks.js';
import { CliError } from './errors.js';
import type { Output } from './output.js';

// Each command uses only part of the context, so viem, Helia and libp2p are imported where they are first
// needed: `nrp node status` never loads them.

/** The local chain's JSON-RPC URL: chain/clients.ts's LOCAL_RPC_URL, which tsc checks this equals. */
const LOCAL_RPC: typeof LOCAL_RPC_URL = 'http://127.0.0.1:8545';

/** The repository root, where `deployments/` lives. */
const ROOT = resolve(import.meta.dirname, '../..');

/** The chain id of Hardhat's local chain, where the well-known development accounts exist. */
const LOCAL_CHAIN_ID = 31337;

/** How long a command waits to connect to a payload peer before going on without it. */
const PEER_DIAL_TIMEOUT_MS = 5_000;

/** Options every command understands; each also has an environment variable. */
export interface GlobalOptions {
  rpc?: string;
  deployment?: string;
  dataDir?: string;
  keyFile?: string;
  devAccount?: string;
  peer?: string[];
  json?: boolean;
  verbose?: boolean;
}

/**
 * What a command needs, resolved from flags, the environment and the
 * deployment record, and created on first use: a command that only reads the
 * chain never starts an IPFS node.
 */
export class CliContext {
  readonly #options: GlobalOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly output: Output;
  #deployment?: DaoDeployment | null;
  #publicClient?: Promise<NrpPublicClient>;
  #helia?: Promise<NrpHelia>;
  #payloadPeersReached?: Promise<void>;

  constructor(options: GlobalOptions, env: NodeJS.ProcessEnv, output: Output) {
    this.#options = options;
    this.#env = env;
    this.output = output;
  }

  get verbose(): boolean {
    return this.#options.verbose ?? false;
  }

  /** The deployment record: --deployment, NRP_DEPLOYMENT, or deployments/localhost.json from `npm run chain`. */
  async deployment(): Promise<DaoDeployment | null> {
    if (this.#deployment !== undefined) return this.#deployment;
    const explicit = this.#options.deployment ?? this.#env.NRP_DEPLOYMENT;
    const path = explicit ? resolve(explicit) : join(ROOT, 'deployments/localhost.json');
    if (!explicit && !existsSync(path)) {
      this.#deployment = null;
      return null;
    }
    try {
      this.#deployment = await readDeployment(path);
    } catch (error) {
      throw new CliError(`Cannot read the deployment record ${path}: ${(error as Error).message}`, 1, { cause: error });
    }
    return this.#deployment;
  }

  /** A contract address: the flag's value if given, else the deployment's. */
  async contract(name: keyof DaoDeployment['contracts'], flag?: string): Promise<Address> {
    if (flag) {
      const { getAddress, isAddress } = await import('viem');
      if (!isAddress(flag)) throw new CliError(`Not an address: ${flag}`);
      return getAddress(flag);
    }
    const deployment = await this.deployment();
    if (!deployment) {
      throw new CliError(
        `No ${name} address: pass it as a flag, or point --deployment (NRP_DEPLOYMENT) at a deployment record. ` +
          'For a local chain, run `npm run chain` first.',
      );
    }
    return deployment.contracts[name];
  }

  /** First block of the DAO's events, so lookups need not scan the chain from block 0. */
  async fromBlock(): Promise<bigint> {
    return BigInt((await this.deployment())?.fromBlock ?? 0);
  }

  rpcUrl(): string {
    return this.#options.rpc ?? this.#env.NRP_RPC_URL ?? LOCAL_RPC;
  }

  /** A public client, checked to be on the deployment's chain. */
  publicClient(): Promise<NrpPublicClient> {
    this.#publicClient ??= (async () => {
      const [{ getChainId }, { chainFromId, createNrpClients }] = await Promise.all([
        import('viem/actions'),
        import('../chain/clients.js'),
      ]);
      const url = this.rpcUrl();
      const probe = createNrpClients({ rpcUrl: url }).publicClient;
      let chainId: number;
      try {
        chainId = await getChainId(probe);
      } catch (error) {
        const hint = url === LOCAL_RPC ? ' Start a local chain with `npm run chain`, or pass --rpc.' : '';
        throw new CliError(`Cannot reach the chain at ${url}.${hint}`, 1, { cause: error });
      }
      const deployment = await this.deployment();
      if (deployment && deployment.chainId !== chainId) {
        throw new CliError(
          `Wrong chain: ${url} is chain ${chainId}, but the deployment record is for chain ${deployment.chainId}.`,
        );
      }
      return createNrpClients({ rpcUrl: url, chain: chainFromId(chainId, url), pollingInterval: pollingFor(chainId) })
        .publicClient;
    })();
    return this.#publicClient;
  }

  async chainId(): Promise<number> {
    return (await this.publicClient()).chain.id;
  }

  /**
   * The signing account: NRP_PRIVATE_KEY, or the key file (--key-file or NRP_KEY_FILE), or on the local chain
   * only, one of Hardhat's development accounts (--dev-account or NRP_DEV_ACCOUNT, default 0). A key is never
   * read from the command line, where other users of the machine could see it.
   */
  async account(): Promise<Account> {
    const fromEnv = this.#env.NRP_PRIVATE_KEY;
    const keyFile = this.#options.keyFile ?? this.#env.NRP_KEY_FILE;
    const { accountFromPrivateKey, developmentAccount } = await import('../chain/clients.js');
    try {
      if (fromEnv) return accountFromPrivateKey(fromEnv);
      if (keyFile) return accountFromPrivateKey(await readKeyFile(keyFile));
    } catch (error) {
      if (error instanceof InvalidPrivateKeyError) {
        throw new CliError(`The ${fromEnv ? 'NRP_PRIVATE_KEY variable' : `key file ${keyFile}`} holds no valid key.`);
      }
      throw error;
    }
    if ((await this.chainId()) !== LOCAL_CHAIN_ID) {
      throw new CliError('No signing key: set NRP_PRIVATE_KEY, or pass --key-file with a file holding the key.');
    }
    const index = Number(this.#options.devAccount ?? this.#env.NRP_DEV_ACCOUNT ?? 0);
    if (!Number.isInteger(index) || index < 0 || index > 19) {
      throw new CliError(`--dev-account must be a number from 0 to 19, not ${this.#options.devAccount}.`);
    }
    return developmentAccount(index);
  }

  async walletClient(): Promise<NrpWalletClient> {
    const publicClient = await this.publicClient();
    const account = await this.account();
    const pollingInterval = pollingFor(publicClient.chain.id);
    const { createNrpClients } = await import('../chain/clients.js');
    return createNrpClients({ rpcUrl: this.rpcUrl(), chain: publicClient.chain, account, pollingInterval })
      .walletClient;
  }

  /** Where this user's IPFS blocks, pins and keys live: --data-dir, NRP_DATA_DIR, or ~/.nrp. */
  dataDir(): string {
    return resolve(this.#options.dataDir ?? this.#env.NRP_DATA_DIR ?? join(homedir(), '.nrp'));
  }

  /** Peers to fetch payloads from: --peer (repeatable) or NRP_PEERS (comma-separated multiaddrs). */
  peers(): string[] {
    const fromEnv = this.#env.NRP_PEERS?.split(',').map((p) => p.trim()) ?? [];
    return [...(this.#options.peer ?? []), ...fromEnv].filter((p) => p !== '');
  }

  /**
   * Connects this user's IPFS node to the rating servers active in the deployment's registry, and keeps it
   * connected (redialled if a connection drops): they pin every version of their lists, which commands fetch from
   * them, and fetch from it the payloads of versions proposed from this data dir. Resolves with how many it reached; with --peer given (dialled instead), or no registry, none is
   * tried and it resolves with undefined. Throws a {@link CliError} if the chain cannot be reached.
   */
  async connectRegistryServers(): Promise<number | undefined> {
    const registry = this.peers().length === 0 ? (await this.deployment())?.contracts.RatingServerRegistry : undefined;
    if (!registry) return undefined;
    const [helia, client, { connectListPeers }] = await Promise.all([
      this.helia(),
      this.publicClient(),
      import('../server/list-peers.js'),
    ]);
    return connectListPeers(helia, client, { registry });
  }

  /** This user's Helia node, on the data dir, connected to the peers given. Stopped by {@link close}. */
  helia(listen?: string[]): Promise<NrpHelia> {
    this.#helia ??= (async () => {
      const { createNrpHelia } = await import('../ipfs/helia.js');
      const peers = this.peers();
      const helia = await createNrpHelia({ dataDir: join(this.dataDir(), 'ipfs'), listen, bootstrap: peers });
      // Bootstrap dials in the background; a payload fetch needs the connections now.
      await dialAll(helia, peers);
      return helia;
    })().catch((error) => {
      throw new CliError(`Cannot start the IPFS node: ${(error as Error).message}`, 1, { cause: error });
    });
    return this.#helia;
  }

  /**
   * Where commands read payload blocks: this user's Helia blockstore, which fetches missing blocks from peers:
   * the ones given (--peer, NRP_PEERS), connected at start, or else the rating servers active in the registry,
   * which pin every version of their lists. Those are looked up and connected to only when a block is first
   * missing (most commands never miss one), and a registry that cannot be read gives none. With still no peer
   * connected, a missing block fails at once instead of waiting out a timeout.
   */
  async blockSource(): Promise<BlockSource> {
    const helia = await this.helia();
    const dataDir = this.dataDir();
    const reachPeers = () => {
      this.#payloadPeersReached ??= this.connectRegistryServers().then(
        () => undefined,
        () => undefined,
      );
      return this.#payloadPeersReached;
    };
    return {
      get: (cid, options) =>
        (async function* () {
          if (!(await helia.blockstore.has(cid, options))) {
            await reachPeers();
            if (helia.libp2p.getConnections().length === 0) {
              throw new CliError(
                `Block ${cid} is not in ${dataDir} and no IPFS peer is connected. Pass --peer <multiaddr> ` +
                  '(or NRP_PEERS) of a node, rating server or `nrp ipfs serve` that has it.',
              );
            }
          }
          yield* helia.blockstore.get(cid, options);
        })(),
    };
  }

  async close(): Promise<void> {
    const helia = await this.#helia?.catch(() => undefined);
    await helia?.stop();
  }
}

/** A local chain mines at once: poll for receipts often. Elsewhere, viem's default suits block times. */
function pollingFor(chainId: number): number | undefined {
  return chainId === LOCAL_CHAIN_ID ? 100 : undefined;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read the key file ${path}: ${(error as NodeJS.ErrnoException).code}`, 1, {
      cause: error,
    });
  }
}

/** Connects to `peers`, each given {@link PEER_DIAL_TIMEOUT_MS}: one that does not answer must not hold a command up. */
async function dialAll(helia: NrpHelia, peers: readonly string[]): Promise<void> {
  if (peers.length === 0) return;
  const { multiaddr } = await import('@multiformats/multiaddr');
  await Promise.allSettled(
    peers.map((peer) => helia.libp2p.dial(multiaddr(peer), { signal: AbortSignal.timeout(PEER_DIAL_TIMEOUT_MS) })),
  );
}
