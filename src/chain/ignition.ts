import { appendFile, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { logger } from '@libp2p/logger';
import {
  type Artifact,
  type ArtifactResolver,
  type BuildInfo,
  type EIP1193Provider,
  type ExecutionEventListener,
  type RequestArguments,
  trackTransaction,
  wipe,
} from '@nomicfoundation/ignition-core';
import {
  type Address,
  type Hex,
  hexToBigInt,
  hexToNumber,
  isAddressEqual,
  keccak256,
  type LocalAccount,
  type TransactionSerializable,
} from 'viem';

const log = logger('nrp:chain:ignition');

/**
 * What the CLI needs to run a Hardhat Ignition module without Hardhat: the compiled artifacts, read from the
 * project's `artifacts/` folder, and an EIP-1193 provider that reaches a plain JSON-RPC URL and signs with a
 * local key, as Ignition's `deploy` sends every transaction with `eth_sendTransaction`.
 */

/** No artifact of that name in the artifacts folder, or the folder is missing (the contracts are not compiled). */
export class ArtifactNotFoundError extends Error {
  override name = 'ArtifactNotFoundError';
}

/** The JSON-RPC endpoint answered with an error object; `code` and `data` are the node's, as Ignition expects. */
export class JsonRpcResponseError extends Error {
  override name = 'JsonRpcResponseError';
  readonly code: number;
  readonly data: unknown;
  /** Set when a node reports a mined transaction that reverted; Ignition then tracks it by hash. */
  readonly transactionHash?: string;

  constructor(message: string, code: number, data: unknown) {
    super(message);
    this.code = code;
    this.data = data;
    const hash = (data as { transactionHash?: unknown } | undefined)?.transactionHash;
    if (typeof hash === 'string') this.transactionHash = hash;
  }
}

/** The JSON-RPC endpoint could not be reached, or did not answer with JSON-RPC. */
export class RpcUnreachableError extends Error {
  override name = 'RpcUnreachableError';
}

/**
 * Reads Hardhat 3 artifacts (`<name>.json` anywhere under `dir`, build infos in `dir/build-info`) by contract
 * name, as `hre.artifacts` would. A name that two artifacts share is refused rather than guessed.
 *
 * @example
 * const resolver = new FileArtifactResolver(join(root, 'artifacts'));
 * const { bytecode } = await resolver.loadArtifact('IllegalDataList');
 */
export class FileArtifactResolver implements ArtifactResolver {
  readonly #dir: string;
  #paths?: Promise<Map<string, string[]>>;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async loadArtifact(contractName: string): Promise<Artifact> {
    const paths = (await this.#index()).get(contractName) ?? [];
    if (paths.length === 0) {
      throw new ArtifactNotFoundError(
        `No compiled artifact of ${contractName} in ${this.#dir}: compile the contracts first (npx hardhat build).`,
      );
    }
    if (paths.length > 1) {
      throw new ArtifactNotFoundError(`${contractName} names ${paths.length} artifacts in ${this.#dir}: ambiguous.`);
    }
    return JSON.parse(await readFile(paths[0], 'utf8')) as Artifact;
  }

  async getBuildInfo(contractName: string): Promise<BuildInfo | undefined> {
    const { buildInfoId } = await this.loadArtifact(contractName);
    if (buildInfoId === undefined) return undefined;
    try {
      return JSON.parse(await readFile(join(this.#dir, 'build-info', `${buildInfoId}.json`), 'utf8')) as BuildInfo;
    } catch (error) {
      // Build infos only serve verification on a block explorer; a deployment runs without them.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  #index(): Promise<Map<string, string[]>> {
    this.#paths ??= (async () => {
      const paths = new Map<string, string[]>();
      let entries: string[];
      try {
        entries = await readdir(this.#dir, { recursive: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        entries = [];
      }
      for (const entry of entries) {
        if (!entry.endsWith('.json') || entry.startsWith('build-info')) continue;
        const name = basename(entry, '.json');
        paths.set(name, [...(paths.get(name) ?? []), join(this.#dir, entry)]);
      }
      return paths;
    })();
    return this.#paths;
  }
}

export interface SigningJsonRpcProviderInit {
  /** The JSON-RPC endpoint over HTTP(S). */
  url: string;
  /** Signs the transactions Ignition sends; only its own address may be `from`. */
  account: LocalAccount;
  chainId: number;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /**
   * Called with each signed transaction before it is sent, so that if the endpoint fails while sending, the
   * hash is known and a later run can ask the chain whether it arrived (see {@link recoverUnsentTransactions}).
   */
  onSigned?: (transaction: SignedTransaction) => Promise<void>;
}

/** A transaction this process signed: enough to find it on chain. */
export interface SignedTransaction {
  from: Address;
  nonce: number;
  hash: Hex;
}

/**
 * An EIP-1193 provider over plain JSON-RPC that signs `eth_sendTransaction` with a local account and sends it
 * raw. Errors keep the node's `code` and `data`, which Ignition reads to decode a revert's custom error (viem's
 * transports wrap them away, so this provider talks HTTP itself).
 *
 * @example
 * const provider = createSigningJsonRpcProvider({ url: 'http://127.0.0.1:8545', account, chainId: 31337 });
 * await deploy({ provider, accounts: [account.address], ignitionModule, deploymentParameters, artifactResolver });
 */
export function createSigningJsonRpcProvider(init: SigningJsonRpcProviderInit): EIP1193Provider {
  const { url, account, chainId, timeoutMs = 30_000 } = init;
  let nextId = 1;

  const call = async (method: string, params: unknown): Promise<unknown> => {
    const id = nextId++;
    let body: { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params: params ?? [] }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok && response.headers.get('content-type')?.includes('json') !== true) {
        throw new Error(`HTTP ${response.status} ${response.statusText}`);
      }
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new RpcUnreachableError(`Cannot reach the chain at ${url}: ${causeOf(error)}`, { cause: error });
    }
    if (body.error) throw new JsonRpcResponseError(body.error.message, body.error.code, body.error.data);
    return body.result;
  };

  const sendTransaction = async (tx: Record<string, Hex | undefined>): Promise<unknown> => {
    if (!tx.from || !isAddressEqual(tx.from as Address, account.address)) {
      throw new JsonRpcResponseError(`Cannot sign for ${tx.from}: only ${account.address} is available`, 4100, null);
    }
    const common = {
      chainId,
      to: tx.to as Address | undefined,
      data: tx.data,
      value: tx.value === undefined ? 0n : hexToBigInt(tx.value),
      nonce: tx.nonce === undefined ? undefined : hexToNumber(tx.nonce),
      gas: tx.gas === undefined ? undefined : hexToBigInt(tx.gas),
    };
    const serializable: TransactionSerializable =
      tx.gasPrice !== undefined
        ? { ...common, type: 'legacy', gasPrice: hexToBigInt(tx.gasPrice) }
        : {
            ...common,
            type: 'eip1559',
            maxFeePerGas: tx.maxFeePerGas === undefined ? undefined : hexToBigInt(tx.maxFeePerGas),
            maxPriorityFeePerGas:
              tx.maxPriorityFeePerGas === undefined ? undefined : hexToBigInt(tx.maxPriorityFeePerGas),
          };
    const raw = await account.signTransaction(serializable);
    if (common.nonce !== undefined) {
      await init.onSigned?.({ from: account.address, nonce: common.nonce, hash: keccak256(raw) });
    }
    log('sending nonce %d from %s', common.nonce, account.address);
    return call('eth_sendRawTransaction', [raw]);
  };

  return {
    async request({ method, params }: RequestArguments) {
      switch (method) {
        case 'eth_accounts':
        case 'eth_requestAccounts':
          return [account.address];
        case 'eth_sendTransaction':
          return sendTransaction((params as [Record<string, Hex | undefined>])[0]);
        default:
          return call(method, params);
      }
    },
  };
}

/** fetch says only "fetch failed"; what failed (refused, reset, closed) is in its cause. */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message || cause?.code || (error as Error).message;
}

/**
 * An Ignition event listener that reports what happens to each future of a deployment: `onLine` gets one line
 * per transaction sent and per future completed or failed. Other events are ignored.
 */
export function ignitionProgressListener(onLine: (line: string) => void): ExecutionEventListener {
  const handlers: Partial<ExecutionEventListener> = {
    transactionSend: async ({ futureId, hash }) => onLine(`${futureId}: sent ${hash}`),
    deploymentExecutionStateComplete: async ({ futureId, result }) => onLine(describeResult(futureId, result)),
    callExecutionStateComplete: async ({ futureId, result }) => onLine(describeResult(futureId, result)),
    onchainInteractionDropped: async ({ futureId }) => onLine(`${futureId}: transaction dropped, sending again`),
    onchainInteractionTimeout: async ({ futureId }) => onLine(`${futureId}: transaction timed out`),
  };
  const ignore = async () => {};
  return new Proxy(handlers, {
    get: (target, name) => target[name as keyof ExecutionEventListener] ?? ignore,
  }) as ExecutionEventListener;
}

function describeResult(
  futureId: string,
  result: { type: string; result?: string; error?: string; reason?: string },
): string {
  if (result.type === 'SUCCESS') return `${futureId}: done${result.result ? ` (${result.result})` : ''}`;
  if (result.type === 'ERROR') return `${futureId}: failed: ${result.error}`;
  return `${futureId}: held: ${result.reason}`;
}

const SIGNED_LOG = 'nrp-signed-transactions.jsonl';

/** Appends `transaction` to the log of signed transactions in an Ignition deployment folder. */
export async function logSignedTransaction(deploymentDir: string, transaction: SignedTransaction): Promise<void> {
  await appendFile(join(deploymentDir, SIGNED_LOG), `${JSON.stringify(transaction)}\n`);
}

export interface RecoverUnsentTransactionsParameters {
  deploymentDir: string;
  provider: EIP1193Provider;
  artifactResolver: ArtifactResolver;
  onProgress?: (line: string) => void;
}

/**
 * Settles transactions that Ignition prepared but never recorded as sent, because sending failed: the node
 * refused it (no funds) or the endpoint went down while sending. Ignition refuses to go on with such a
 * transaction in its journal, since it cannot know whether it reached the chain. This asks the chain: if the
 * transaction this process signed for that nonce is known, Ignition tracks it; if the sender's nonce has not
 * reached it, nothing was sent and the future is wiped, to be sent anew. A nonce that another transaction took
 * is left alone, for Ignition to report.
 *
 * @returns the futures settled.
 */
export async function recoverUnsentTransactions({
  deploymentDir,
  provider,
  artifactResolver,
  onProgress = () => {},
}: RecoverUnsentTransactionsParameters): Promise<string[]> {
  const unsent = await unsentInteractions(deploymentDir);
  if (unsent.length === 0) return [];
  const signed = await readSignedLog(deploymentDir);
  const settled: string[] = [];
  for (const { futureId, nonce, from } of unsent) {
    const hash = signed.find((t) => t.nonce === nonce && isAddressEqual(t.from, from))?.hash;
    if (hash && (await provider.request({ method: 'eth_getTransactionByHash', params: [hash] })) !== null) {
      onProgress(`${futureId}: its transaction ${hash} reached the chain after all; tracking it`);
      await trackTransaction(deploymentDir, hash, provider, 1);
      settled.push(futureId);
      continue;
    }
    const pending = Number(await provider.request({ method: 'eth_getTransactionCount', params: [from, 'pending'] }));
    if (pending <= nonce) {
      onProgress(`${futureId}: its transaction never reached the chain; sending it again`);
      await wipe(deploymentDir, artifactResolver, futureId);
      settled.push(futureId);
    }
  }
  return settled;
}

/** What an Ignition journal says of one future that sends transactions. */
export interface JournalFuture {
  /** Its sender, once its execution started. */
  from?: Address;
  /** Nonces it prepared to send with, and whether a transaction was recorded as sent with each. */
  nonces: { nonce: number; sent: boolean }[];
}

/**
 * The futures an Ignition journal (`journal.jsonl` in `deploymentDir`) has started and not wiped, with the
 * nonces of their transactions. A future with no nonce has sent nothing: wiping it loses nothing.
 */
export async function readJournalFutures(deploymentDir: string): Promise<Map<string, JournalFuture>> {
  let text: string;
  try {
    text = await readFile(join(deploymentDir, 'journal.jsonl'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const futures = new Map<string, JournalFuture & { interactions: Map<number, { nonce: number; sent: boolean }> }>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const message = JSON.parse(line) as {
      type: string;
      futureId?: string;
      networkInteractionId?: number;
      nonce?: number;
      from?: string;
    };
    if (message.futureId === undefined) continue;
    const { futureId, networkInteractionId = 0 } = message;
    if (message.type === 'WIPE_APPLY') {
      futures.delete(futureId);
      continue;
    }
    let future = futures.get(futureId);
    if (!future) {
      future = { nonces: [], interactions: new Map() };
      futures.set(futureId, future);
    }
    switch (message.type) {
      case 'DEPLOYMENT_EXECUTION_STATE_INITIALIZE':
      case 'CALL_EXECUTION_STATE_INITIALIZE':
      case 'SEND_DATA_EXECUTION_STATE_INITIALIZE':
        if (message.from) future.from = message.from as Address;
        break;
      case 'TRANSACTION_PREPARE_SEND':
        future.interactions.set(networkInteractionId, { nonce: message.nonce as number, sent: false });
        break;
      case 'TRANSACTION_SEND': {
        const interaction = future.interactions.get(networkInteractionId);
        if (interaction) interaction.sent = true;
        break;
      }
      case 'ONCHAIN_INTERACTION_DROPPED':
      case 'ONCHAIN_INTERACTION_REPLACED_BY_USER':
        // Ignition sends that interaction anew, with a new nonce.
        future.interactions.delete(networkInteractionId);
        break;
    }
  }
  return new Map(
    [...futures].map(([id, { from, interactions }]) => [id, { from, nonces: [...interactions.values()] }]),
  );
}

/** Interactions the journal prepared with a nonce but has no sent transaction for. */
async function unsentInteractions(deploymentDir: string) {
  const unsent: { futureId: string; nonce: number; from: Address }[] = [];
  for (const [futureId, { from, nonces }] of await readJournalFutures(deploymentDir)) {
    for (const { nonce, sent } of nonces) if (from && !sent) unsent.push({ futureId, nonce, from });
  }
  return unsent;
}

async function readSignedLog(deploymentDir: string): Promise<SignedTransaction[]> {
  try {
    const text = await readFile(join(deploymentDir, SIGNED_LOG), 'utf8');
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as SignedTransaction);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
